"""Min Log: who looked at a citizen's data, shown to the citizen (and those acting for them).

Entries carry NSP's fields (ListLogStatementsResponse/LogDataGroup): time, activity, organisation
id and name, the user (identifier, name, role), whether værdispring (consent override) was used
and its reason, and the system. Entries older than two years are purged (SDS, 22.03.2017), by the
sandbox clock.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from nsp_sandbox.clock import naive_utc
from nsp_sandbox.database import Database
from nsp_sandbox.outcome import FhirError, Issue
from services.nsp.models import MinLogEntryRow
from services.nsp.periods import iso, parse_instant

RETENTION = timedelta(days=2 * 365)
SOURCE = "NSP MinLog2 (ListLogStatementsResponse/LogDataGroup)"
TEXT_FIELDS = ("organisation_id", "organisation_name", "user_identifier", "user_name", "user_role",
               "reason", "addition")


class MinLog:
    def __init__(self, database: Database) -> None:
        self.database = database

    def write(self, body: dict[str, Any], system_name: str, now: datetime) -> dict[str, Any]:
        cpr, activity = body.get("cpr"), body.get("activity")
        if not (isinstance(cpr, str) and len(cpr) == 10) or not (isinstance(activity, str) and activity):
            raise FhirError(400, Issue("error", "required", "A Min Log entry needs 'cpr' and 'activity'",
                                       rule="minlog-entry", source=SOURCE))
        for name in TEXT_FIELDS:
            if body.get(name) is not None and not isinstance(body[name], str):
                raise FhirError(400, Issue("error", "invalid", f"'{name}' is a string", expression=name,
                                           rule="minlog-entry", source=SOURCE))
        override = body.get("consent_override", False)
        if not isinstance(override, bool) or (override and not body.get("reason")):
            raise FhirError(400, Issue("error", "invalid", "'consent_override' is true or false; a værdispring "
                                       "entry needs its 'reason'", expression="consent_override",
                                       rule="minlog-entry", source=SOURCE))
        logged_at = parse_instant(body.get("time"), "time") or naive_utc(now)
        row = MinLogEntryRow(id=str(uuid.uuid4()), cpr=cpr, logged_at=logged_at, activity=activity,
                             consent_override=override, system_name=system_name,
                             **{name: body.get(name) for name in TEXT_FIELDS})
        with self.database.session() as session:
            session.add(row)
        self.purge(now)
        return _to_json(row)

    def purge(self, now: datetime) -> int:
        """Erase entries older than two years (the one thing NSP erases)."""
        with self.database.session() as session:
            result = session.execute(delete(MinLogEntryRow).where(
                MinLogEntryRow.logged_at < naive_utc(now) - RETENTION))
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def entries(self, cprs: list[str], now: datetime) -> list[dict[str, Any]]:
        """The entries about ``cprs``, newest first (after purging the expired ones)."""
        self.purge(now)
        with self.database.session() as session:
            rows = session.scalars(select(MinLogEntryRow).where(MinLogEntryRow.cpr.in_(cprs))
                                   .order_by(MinLogEntryRow.logged_at.desc(), MinLogEntryRow.pk.desc())).all()
            return [_to_json(r) for r in rows]


def _to_json(row: MinLogEntryRow) -> dict[str, Any]:
    return {"id": row.id, "cpr": row.cpr, "time": iso(row.logged_at), "activity": row.activity,
            "organisation_id": row.organisation_id, "organisation_name": row.organisation_name,
            "user_identifier": row.user_identifier, "user_name": row.user_name, "user_role": row.user_role,
            "consent_override": row.consent_override, "reason": row.reason, "system_name": row.system_name,
            "addition": row.addition}
