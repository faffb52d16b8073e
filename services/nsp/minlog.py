"""Min Log: who looked at a citizen's data, shown to the citizen (and those acting for them).

Entries carry NSP's fields (ListLogStatementsResponse/LogDataGroup): time, activity, organisation
id and name, the citizen (``person_name``), the user (identifier, name, role), the responsible
user when an assistant acted for an authorised professional (the medhjælpslog), whether
værdispring (consent override) was used with its reason and criticality, the system, and — on a
relative's own log — in which capacity they looked (``acting_as``: fuldmagt, parent, guardian).

Read by a citizen, the staff of the CVRs their token lists are shown pseudonymised ("sløring",
dds-nsp.md §1.3): no identifier, no name, ``pseudonymised: true``. Entries older than two years
are purged (SDS, 22.03.2017), by the sandbox clock: before every read, so none is ever shown, and by a
write when the clock has moved on an hour (or back) since this process's last purge, so that they do not
pile up unread (a write is every look-up DDS answers; a purge at each one cost a statement each).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from nsp_sandbox.clock import naive_utc
from nsp_sandbox.database import Database
from nsp_sandbox.driver_statement import DriverStatement
from nsp_sandbox.outcome import FhirError, Issue
from services.nsp.bodies import MinLogBody
from services.nsp.models import MinLogEntryRow
from services.nsp.periods import iso, parse_instant
from services.nsp.world import World

RETENTION = timedelta(days=2 * 365)
PURGE_ON_WRITE_EVERY = timedelta(hours=1)  # sandbox time
SOURCE = "NSP MinLog2 (ListLogStatementsResponse/LogDataGroup)"
TEXT_FIELDS = ("organisation_id", "organisation_name", "user_identifier", "user_name", "user_role",
               "reason", "addition", "criticality", "person_name", "responsible_user_identifier",
               "responsible_user_name", "acting_as")
PSEUDONYM = "Medarbejder"


_INSERT = DriverStatement(insert(MinLogEntryRow.__table__))  # built once, run on the driver's cursor: a row per look-up


class MinLog:
    def __init__(self, database: Database, world: World) -> None:
        self.database = database
        self.world = world
        self._purged_at: datetime | None = None  # this process's last purge, on the sandbox clock

    def write(self, body: MinLogBody, system_name: str, now: datetime) -> dict[str, Any]:
        if len(body.cpr) != 10 or not body.activity:
            raise FhirError(400, Issue("error", "required", "A Min Log entry needs 'cpr' and 'activity'",
                                       rule="minlog-entry", source=SOURCE))
        if body.consent_override and not body.reason:
            raise FhirError(400, Issue("error", "invalid", "A værdispring entry needs its 'reason'",
                                       expression="consent_override", rule="minlog-entry", source=SOURCE))
        logged_at = parse_instant(body.time, "time") or naive_utc(now)
        fields = {name: getattr(body, name) for name in TEXT_FIELDS}
        citizen = self.world.citizens.get(body.cpr)
        if fields["person_name"] is None and body.acting_as is None and citizen is not None:
            fields["person_name"] = citizen.name  # PersonName from the CPR register when the writer gives none
        values = dict(id=str(uuid.uuid4()), cpr=body.cpr, logged_at=logged_at, activity=body.activity,
                      consent_override=body.consent_override, system_name=system_name, **fields)
        with self.database.transaction() as connection:  # the entry and a purge: one transaction, one commit
            _INSERT.run(connection, values)
            if self._purge_due(now):
                _purge(connection, now)
        return _to_json(MinLogEntryRow(**values))

    def _purge_due(self, now: datetime) -> bool:
        """Does a write purge? When this process has not purged since the clock passed the hour after its
        last purge, or went back before it (reads purge anyway: :meth:`entries`)."""
        now = naive_utc(now)
        due = self._purged_at is None or not (self._purged_at <= now < self._purged_at + PURGE_ON_WRITE_EVERY)
        if due:
            self._purged_at = now
        return due

    def purge(self, now: datetime) -> int:
        """Erase entries older than two years (the one thing NSP erases)."""
        with self.database.transaction() as connection:
            erased = _purge(connection, now)
        self._purged_at = naive_utc(now)
        return erased

    def entries(self, cprs: list[str], now: datetime, pseudonymised_cvrs: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """The entries on the logs of ``cprs``, newest first (after purging the expired ones), the staff
        of ``pseudonymised_cvrs`` pseudonymised."""
        self.purge(now)
        with self.database.session() as session:
            rows = session.scalars(select(MinLogEntryRow).where(MinLogEntryRow.cpr.in_(cprs))
                                   .order_by(MinLogEntryRow.logged_at.desc(), MinLogEntryRow.pk.desc())).all()
            return [self._shown(_to_json(r), pseudonymised_cvrs) for r in rows]

    def _shown(self, entry: dict[str, Any], pseudonymised_cvrs: tuple[str, ...]) -> dict[str, Any]:
        cvr = self.world.cvr_of(entry["organisation_id"])
        if not (cvr and cvr in pseudonymised_cvrs and entry["acting_as"] is None):
            return entry
        return {**entry, "user_identifier": None, "user_name": PSEUDONYM, "responsible_user_identifier": None,
                "responsible_user_name": PSEUDONYM if entry["responsible_user_name"] else None,
                "pseudonymised": True}


def _purge(connection: Connection, now: datetime) -> int:
    result = connection.execute(delete(MinLogEntryRow).where(MinLogEntryRow.logged_at < naive_utc(now) - RETENTION))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _to_json(row: MinLogEntryRow) -> dict[str, Any]:
    return {"id": row.id, "cpr": row.cpr, "time": iso(row.logged_at), "activity": row.activity,
            "person_name": row.person_name,
            "organisation_id": row.organisation_id, "organisation_name": row.organisation_name,
            "user_identifier": row.user_identifier, "user_name": row.user_name, "user_role": row.user_role,
            "responsible_user_identifier": row.responsible_user_identifier,
            "responsible_user_name": row.responsible_user_name, "acting_as": row.acting_as,
            "consent_override": row.consent_override, "reason": row.reason, "criticality": row.criticality,
            "system_name": row.system_name, "addition": row.addition, "pseudonymised": False}
