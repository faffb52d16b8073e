"""Consent — Min Spærring: a citizen's consent items, as NSP's consent data model has them.

An item (``consentitem``) is negative (a block, "negativt samtykke") or positive. Its ``whoItem``
says whom it concerns — everyone, or one authorised professional by authorisation id —; its
``whatItem`` which data — all data, or data *from* a treatment place (documents authored there, by
SOR code, optionally with its sub-units in the SOR tree) —, optionally narrowed to a data period
(``data_from`` / ``data_to``: documents whose service time falls in it). ``valid_from`` /
``valid_to`` say when it is in force, judged at the time of the look-up on the sandbox clock. A
positive item re-allows its who-group despite negative ones and must have an end (``valid_to``).

Who registers: the citizen or someone acting for them (fuldmagt, custody); a health professional
with a treatment relation may register a *negative* item on the citizen's behalf (NSP records
``createdBy`` and the creating system). Positive items come only from the citizen or their proxy
and never name the one who creates them. Revoking keeps the item as history.
Source: NSP consent data model (nspop 102389274, 121373066).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select

from nsp_sandbox.clock import naive_utc
from nsp_sandbox.database import Database
from nsp_sandbox.driver_statement import DriverStatement
from nsp_sandbox.outcome import FhirError, Issue
from services.nsp.bodies import BlockBody
from services.nsp.models import ConsentBlockRow
from services.nsp.periods import iso, parse_instant
from services.nsp.world import World

SOURCE = "NSP Min Spærring (consent data model: consentitem consentType/whoItem/whatItem/validFrom/validTo)"


ItemRow = Any  # a row of nsp_consent_block: a ConsentBlockRow, or a row as the driver's cursor reads it

# DDS asks for a citizen's items at every look-up: the statement is built once and run on the driver's cursor.
_ITEMS_OF = DriverStatement(select(ConsentBlockRow.__table__).where(ConsentBlockRow.cpr == bindparam("cpr"))
                            .order_by(ConsentBlockRow.pk.desc()))


def _invalid(message: str, expression: str, status: int = 400) -> FhirError:
    return FhirError(status, Issue("error", "invalid", message, expression=expression, rule="consent-block",
                                   source=SOURCE))


@dataclass(frozen=True)
class Creator:
    """Who registers an item: their persona, the system they use, and whether they are the citizen's side."""

    persona: str
    system: str | None
    professional: bool
    cpr: str | None = None  # the creator's own CPR (a positive item never names its creator)


class Consent:
    def __init__(self, database: Database, world: World) -> None:
        self.database = database
        self.world = world

    def _check_who(self, body: BlockBody, creator: Creator) -> str | None:
        who = body.who
        if who.type == "all":
            if who.id is not None:
                raise _invalid("'who.id' is only for 'who.type: professional'", "who.id")
            return None
        professional = self.world.by_authorisation.get(who.id or "")
        if professional is None:
            raise _invalid(f"No professional with authorisation id {who.id!r}", "who.id")
        if body.kind == "positive" and creator.cpr is not None and professional.cpr == creator.cpr:
            raise _invalid("A positive consent never names the one who creates it", "who.id", 422)
        return who.id

    def _check_what(self, body: BlockBody) -> tuple[str | None, bool]:
        what = body.what
        if what.type == "all":
            if what.id is not None or what.include_sub_units:
                raise _invalid("'what.id' and 'what.include_sub_units' are only for 'what.type: organisation'",
                               "what.id")
            return None, False
        if what.id not in self.world.organisations:
            raise _invalid(f"No treatment place with SOR code {what.id!r}", "what.id")
        return what.id, what.include_sub_units

    def add(self, cpr: str, body: BlockBody, creator: Creator, now: datetime) -> dict[str, Any]:
        row = self._row(cpr, body, creator, now)
        with self.database.session() as session:
            session.add(row)
        return self.to_json(row, now)

    def add_once(self, cpr: str, body: BlockBody, creator: Creator, now: datetime) -> dict[str, Any]:
        """As :meth:`add`, but an item ``creator`` already registered with the same content and not revoked
        is answered instead of a second one: loading one world file twice gives its blocks once. An item
        without ``valid_from`` starts when it is first registered, so that time is not compared."""
        row = self._row(cpr, body, creator, now)
        same = [ConsentBlockRow.cpr == cpr, ConsentBlockRow.kind == row.kind, ConsentBlockRow.who_type == row.who_type,
                ConsentBlockRow.who_id.is_(None) if row.who_id is None else ConsentBlockRow.who_id == row.who_id,
                ConsentBlockRow.what_type == row.what_type,
                ConsentBlockRow.what_id.is_(None) if row.what_id is None else ConsentBlockRow.what_id == row.what_id,
                ConsentBlockRow.include_sub_units == row.include_sub_units,
                ConsentBlockRow.created_by == creator.persona, ConsentBlockRow.revoked_at.is_(None)]
        for column, value in ((ConsentBlockRow.valid_to, row.valid_to), (ConsentBlockRow.data_from, row.data_from),
                              (ConsentBlockRow.data_to, row.data_to)):
            same.append(column.is_(None) if value is None else column == value)
        if body.valid_from is not None:
            same.append(ConsentBlockRow.valid_from == row.valid_from)
        with self.database.writing("nsp-consent", cpr) as session:  # two loads of one world file: one block
            existing = session.scalars(select(ConsentBlockRow).where(*same).order_by(ConsentBlockRow.pk)).first()
            if existing is not None:
                return self.to_json(existing, now)
            session.add(row)
        return self.to_json(row, now)

    def _row(self, cpr: str, body: BlockBody, creator: Creator, now: datetime) -> ConsentBlockRow:
        """The item ``body`` describes, checked (who may register it, whom and what it names, its periods)."""
        if creator.professional and body.kind != "negative":
            raise _invalid("A health professional registers only negative items (blocks) for a citizen; a "
                           "positive consent comes from the citizen or their proxy", "kind", 403)
        who_id = self._check_who(body, creator)
        what_id, sub_units = self._check_what(body)
        current = naive_utc(now)
        valid_from = parse_instant(body.valid_from, "valid_from") or current
        valid_to = parse_instant(body.valid_to, "valid_to", end_of_day=True)
        data_from = parse_instant(body.data_from, "data_from")
        data_to = parse_instant(body.data_to, "data_to", end_of_day=True)
        if body.kind == "positive" and valid_to is None:
            raise _invalid("A positive consent must have a validity period: give 'valid_to'", "valid_to")
        if valid_to is not None and valid_to < valid_from:
            raise _invalid("'valid_to' is before 'valid_from'", "valid_to")
        if data_from and data_to and data_to < data_from:
            raise _invalid("'data_to' is before 'data_from'", "data_to")
        return ConsentBlockRow(id=str(uuid.uuid4()), cpr=cpr, kind=body.kind, who_type=body.who.type, who_id=who_id,
                               what_type=body.what.type, what_id=what_id, include_sub_units=sub_units,
                               valid_from=valid_from, valid_to=valid_to, data_from=data_from, data_to=data_to,
                               created_at=current, created_by=creator.persona, created_by_system=creator.system)

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

    def blocks(self, cpr: str, now: datetime) -> list[dict[str, Any]]:
        """Every item of ``cpr``, newest first, revoked and expired ones included (history)."""
        with self.database.reading_connection() as connection:
            rows = _ITEMS_OF.rows(connection, {"cpr": cpr})
        return [self.to_json(r, now) for r in rows]

    def status(self, row: ItemRow, now: datetime) -> str:
        current = naive_utc(now)
        if row.revoked_at is not None:
            return "revoked"
        if current < row.valid_from:
            return "pending"
        if row.valid_to is not None and current > row.valid_to:
            return "expired"
        return "active"

    def _name(self, row: ItemRow) -> str | None:
        if row.who_type == "professional" and row.who_id in self.world.by_authorisation:
            return self.world.by_authorisation[row.who_id].name
        return None

    def _creator_name(self, persona: str) -> str | None:
        if persona in self.world.professionals:
            return self.world.professionals[persona].name
        if persona in self.world.assistants:
            return self.world.assistants[persona].name
        _, _, cpr = persona.partition("-")
        citizen = self.world.citizens.get(cpr)
        return citizen.name if citizen else None

    def to_json(self, row: ItemRow, now: datetime) -> dict[str, Any]:
        covered: list[str] = []
        place = self.world.organisations.get(row.what_id or "")
        if row.what_type == "organisation" and row.what_id:
            covered = self.world.sub_units(row.what_id) if row.include_sub_units else [row.what_id]
        return {
            "id": row.id, "cpr": row.cpr, "kind": row.kind or "negative",
            "who": {"type": row.who_type, "id": row.who_id, "name": self._name(row)},
            "what": {"type": row.what_type or "all", "id": row.what_id, "name": place.name if place else None,
                     "include_sub_units": bool(row.include_sub_units), "organisations_covered": covered},
            "valid_from": iso(row.valid_from), "valid_to": iso(row.valid_to),
            "data_from": iso(row.data_from), "data_to": iso(row.data_to),
            "status": self.status(row, now), "created_at": iso(row.created_at), "created_by": row.created_by,
            "created_by_name": self._creator_name(row.created_by), "created_by_system": row.created_by_system,
            "revoked_at": iso(row.revoked_at), "revoked_by": row.revoked_by,
        }
