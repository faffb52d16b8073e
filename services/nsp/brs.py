"""BRS — Behandlingsrelationsservicen: does a health professional have a treatment relation to a
citizen (sundhedsloven §42a: the patient is "i behandling")? Relations come from the world (the
citizen's GP clinic, seeded contacts) and are added, for a period, by the health-care systems that
know of them — a system with the right ``brs-register``, for the professionals of its own
organisation (``POST /nsp/brs/relations``) — or by the sandbox operator (``POST
/sandbox/nsp/brs/relations``). Never by the reader: a professional's or citizen's own token is refused."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select

from nsp_sandbox.clock import naive_utc
from nsp_sandbox.database import Database
from nsp_sandbox.driver_statement import DriverStatement
from nsp_sandbox.outcome import FhirError, Issue
from services.nsp.bodies import RelationBody
from services.nsp.models import TreatmentRelationRow
from services.nsp.periods import iso, parse_instant
from services.nsp.world import World

SOURCE = "NSP BRS (Behandlingsrelationsservicen), sundhedsloven §42a"
REGISTER = "brs-register"  # the system right to add relations

_RELATIONS = TreatmentRelationRow.__table__


def _added(by_professional: bool, of_citizen: bool) -> DriverStatement:
    """The added relations begun by ``current``, of one professional and/or one citizen."""
    conditions = [_RELATIONS.c.valid_from <= bindparam("current")]
    if by_professional:
        conditions.append(_RELATIONS.c.authorisation == bindparam("authorisation"))
    if of_citizen:
        conditions.append(_RELATIONS.c.cpr == bindparam("cpr"))
    return DriverStatement(select(_RELATIONS).where(*conditions))


# Built once, run on the driver's cursor: DDS asks about a professional and a citizen at every look-up.
_ADDED = {(professional, citizen): _added(professional, citizen) for professional in (False, True)
          for citizen in (False, True)}


class TreatmentRelations:
    def __init__(self, database: Database, world: World) -> None:
        self.database = database
        self.world = world

    def add(self, body: RelationBody, created_by: str, now: datetime, within: str | None = None) -> dict[str, Any]:
        """Add the relation ``body`` names; with ``within`` (a SOR code), only for a professional of that
        organisation or its sub-units (a system registers for its own staff), 403 otherwise."""
        authorisation = body.authorisation
        if authorisation is None and body.professional is not None:
            professional = self.world.professionals.get(body.professional)
            authorisation = professional.authorisation if professional else None
        if not isinstance(authorisation, str) or authorisation not in self.world.by_authorisation:
            raise FhirError(400, Issue("error", "invalid", "Name the professional by 'authorisation' (id) or "
                                       "'professional' (persona id) of a known professional",
                                       expression="authorisation", rule="brs-professional", source=SOURCE))
        professional = self.world.by_authorisation[authorisation]
        if within is not None and professional.organisation not in self.world.sub_units(within):
            raise FhirError(403, Issue("error", "forbidden", f"{created_by} registers treatment relations only for "
                                       f"the professionals of its own organisation (SOR {within}); {authorisation} "
                                       f"works at SOR {professional.organisation}", expression="authorisation",
                                       rule="brs-register-organisation", source=SOURCE))
        cpr = body.cpr
        if not (isinstance(cpr, str) and len(cpr) == 10):
            raise FhirError(400, Issue("error", "invalid", "'cpr' is a 10-character CPR number", expression="cpr",
                                       rule="brs-cpr", source=SOURCE))
        valid_from = parse_instant(body.valid_from, "valid_from") or naive_utc(now)
        valid_to = parse_instant(body.valid_to, "valid_to", end_of_day=True)
        if valid_to is not None and valid_to < valid_from:
            raise FhirError(400, Issue("error", "invalid", "'valid_to' is before 'valid_from'",
                                       expression="valid_to", rule="brs-period", source=SOURCE))
        row = TreatmentRelationRow(id=str(uuid.uuid4()), authorisation=authorisation, cpr=cpr,
                                   valid_from=valid_from, valid_to=valid_to, created_at=naive_utc(now),
                                   created_by=created_by)
        with self.database.session() as session:
            session.add(row)
        return _added_json(row)

    def find(self, authorisation: str | None, cpr: str | None, now: datetime) -> list[dict[str, Any]]:
        """Relations active at ``now`` for the professional and/or citizen given."""
        today = now.date()
        out = [{"authorisation": r.authorisation, "cpr": r.cpr, "basis": r.basis,
                "valid_from": r.valid_from.isoformat() if r.valid_from else None,
                "valid_to": r.valid_to.isoformat() if r.valid_to else None}
               for r in self.world.relations
               if r.active(today) and authorisation in (None, r.authorisation) and cpr in (None, r.cpr)]
        current = naive_utc(now)
        params: dict[str, Any] = {"current": current}
        if authorisation is not None:
            params["authorisation"] = authorisation
        if cpr is not None:
            params["cpr"] = cpr
        with self.database.reading_connection() as connection:
            rows = _ADDED[authorisation is not None, cpr is not None].rows(connection, params)
        out += [_added_json(r) for r in rows if r.valid_to is None or current <= r.valid_to]
        return out

    def added_by_professional(self, now: datetime) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for relation in self.find(None, None, now):
            if relation["basis"] == "added (BRS)":
                out.setdefault(relation["authorisation"], set()).add(relation["cpr"])
        return out


def _added_json(row: Any) -> dict[str, Any]:
    """An added relation (a TreatmentRelationRow, or a row as the driver's cursor reads it) as BRS answers it."""
    return {"id": row.id, "authorisation": row.authorisation, "cpr": row.cpr, "basis": "added (BRS)",
            "valid_from": iso(row.valid_from), "valid_to": iso(row.valid_to)}
