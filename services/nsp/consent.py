"""Consent — Min Spærring: a citizen's blocks ("negativt samtykke") on who may see their data.

A block names who it applies to (one professional by authorisation id, one organisation by SOR
code — with its sub-units if asked —, or everyone), when it is in force (``valid_from`` /
``valid_to``, judged at the time of the look-up) and optionally which data it covers (``data_from``
/ ``data_to``: documents whose service time falls in the period). Revoking keeps the block as
history. Source: NSP consent data model (nspop 102389274, 121373066).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select

from nsp_sandbox.clock import naive_utc
from nsp_sandbox.database import Database
from nsp_sandbox.outcome import FhirError, Issue
from services.nsp.models import ConsentBlockRow
from services.nsp.periods import iso, parse_instant
from services.nsp.world import World

SOURCE = "NSP Min Spærring (consent data model: consentitem whoItem/whatItem/validFrom/validTo)"
WHO_TYPES = ("professional", "organisation", "all")


def _invalid(message: str, expression: str) -> FhirError:
    return FhirError(400, Issue("error", "invalid", message, expression=expression, rule="consent-block",
                                source=SOURCE))


class Consent:
    def __init__(self, database: Database, world: World) -> None:
        self.database = database
        self.world = world

    def add(self, cpr: str, body: dict[str, Any], created_by: str, now: datetime) -> dict[str, Any]:
        who = body.get("who")
        if not isinstance(who, dict) or who.get("type") not in WHO_TYPES:
            raise _invalid(f"'who.type' is one of {', '.join(WHO_TYPES)}", "who.type")
        who_id = who.get("id")
        if who["type"] != "all" and not isinstance(who_id, str):
            raise _invalid("'who.id' is the professional's authorisation id or the organisation's SOR code",
                           "who.id")
        if who["type"] == "professional" and who_id not in self.world.by_authorisation:
            raise _invalid(f"No professional with authorisation id {who_id!r}", "who.id")
        if who["type"] == "organisation" and who_id not in self.world.organisations:
            raise _invalid(f"No organisation with SOR code {who_id!r}", "who.id")
        if who["type"] == "all":
            who_id = None
        include = body.get("include_sub_units", False)
        if not isinstance(include, bool):
            raise _invalid("'include_sub_units' is true or false", "include_sub_units")
        current = naive_utc(now)
        valid_from = parse_instant(body.get("valid_from"), "valid_from") or current
        valid_to = parse_instant(body.get("valid_to"), "valid_to", end_of_day=True)
        data_from = parse_instant(body.get("data_from"), "data_from")
        data_to = parse_instant(body.get("data_to"), "data_to", end_of_day=True)
        if valid_to is not None and valid_to < valid_from:
            raise _invalid("'valid_to' is before 'valid_from'", "valid_to")
        if data_from and data_to and data_to < data_from:
            raise _invalid("'data_to' is before 'data_from'", "data_to")
        row = ConsentBlockRow(id=str(uuid.uuid4()), cpr=cpr, who_type=who["type"], who_id=who_id,
                              include_sub_units=include, valid_from=valid_from, valid_to=valid_to,
                              data_from=data_from, data_to=data_to, created_at=current, created_by=created_by)
        with self.database.session() as session:
            session.add(row)
        return self.to_json(row, now)

    def revoke(self, block_id: str, allowed_cprs: tuple[str, ...], revoked_by: str, now: datetime) -> dict[str, Any]:
        with self.database.session() as session:
            row = session.scalars(select(ConsentBlockRow).where(ConsentBlockRow.id == block_id)).first()
            if row is None or row.cpr not in allowed_cprs:
                raise FhirError(404, Issue("error", "not-found", f"No block {block_id} of yours",
                                           rule="consent-block-exists", source=SOURCE))
            if row.revoked_at is None:
                row.revoked_at = naive_utc(now)
                row.revoked_by = revoked_by
            return self.to_json(row, now)

    def blocks(self, cprs: list[str], now: datetime) -> list[dict[str, Any]]:
        """Every block of ``cprs``, newest first, revoked and expired ones included (history)."""
        with self.database.session() as session:
            rows = session.scalars(select(ConsentBlockRow).where(ConsentBlockRow.cpr.in_(cprs))
                                   .order_by(ConsentBlockRow.pk.desc())).all()
            return [self.to_json(r, now) for r in rows]

    def status(self, row: ConsentBlockRow, now: datetime) -> str:
        current = naive_utc(now)
        if row.revoked_at is not None:
            return "revoked"
        if current < row.valid_from:
            return "pending"
        if row.valid_to is not None and current > row.valid_to:
            return "expired"
        return "active"

    def to_json(self, row: ConsentBlockRow, now: datetime) -> dict[str, Any]:
        covered: list[str] = []
        if row.who_type == "organisation" and row.who_id:
            covered = self.world.sub_units(row.who_id) if row.include_sub_units else [row.who_id]
        return {
            "id": row.id, "cpr": row.cpr, "who": {"type": row.who_type, "id": row.who_id},
            "include_sub_units": row.include_sub_units, "organisations_covered": covered,
            "valid_from": iso(row.valid_from), "valid_to": iso(row.valid_to),
            "data_from": iso(row.data_from), "data_to": iso(row.data_to),
            "status": self.status(row, now), "created_at": iso(row.created_at), "created_by": row.created_by,
            "revoked_at": iso(row.revoked_at), "revoked_by": row.revoked_by,
        }
