"""The hub's event log, per patient and clinic: what was submitted, refused (with the rule), shared,
unshared, cancelled, purged and served — and when DDS could not be reached (``dds-retry``).

Entries are never changed or deleted; a purged note's events stay (they hold no note content).
Each clinic reads only its own entries.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nsp_sandbox.clock import Clock, naive_utc
from nsp_sandbox.database import Database
from nsp_sandbox.outcome import Issue
from services.plsp_hub.models import EventRow
from services.plsp_hub.records import aware

KINDS = ("submitted", "refused", "shared", "unshared", "cancelled", "purged", "served", "dds-retry")


class EventLog:
    def __init__(self, database: Database, clock: Clock) -> None:
        self._database = database
        self._clock = clock

    def add(self, session: Session, cpr: str, clinic_sor: str, kind: str, subject: str, text: str, *,
            version: int | None = None, rule: str | None = None, path: str | None = None,
            details: dict[str, Any] | None = None) -> None:
        assert kind in KINDS, kind
        session.add(EventRow(at=naive_utc(self._clock.now()), cpr=cpr, clinic_sor=clinic_sor, kind=kind,
                             subject=subject[:220], version=version, rule=rule, path=path, text=text,
                             details=details))

    def refused(self, session: Session, cpr: str, clinic_sor: str, subject: str, issue: Issue,
                version: int | None = None) -> None:
        self.add(session, cpr, clinic_sor, "refused", subject, issue.diagnostics, version=version, rule=issue.rule,
                 path=issue.expression)

    def write(self, cpr: str, clinic_sor: str, kind: str, subject: str, text: str, **kwargs: Any) -> None:
        with self._database.session() as s:
            self.add(s, cpr, clinic_sor, kind, subject, text, **kwargs)

    def write_refusals(self, cpr: str, clinic_sor: str, subject: str, issues: list[Issue],
                       version: int | None = None) -> None:
        """Log each of ``issues`` as ``refused`` (a submission refused as a whole, in its own transaction)."""
        with self._database.session() as s:
            for issue in issues:
                self.refused(s, cpr, clinic_sor, subject, issue, version)

    def entries(self, cpr: str, clinic_sor: str, kind: str | None = None) -> list[dict[str, Any]]:
        with self._database.session() as s:
            query = select(EventRow).where(EventRow.cpr == cpr, EventRow.clinic_sor == clinic_sor)
            if kind:
                query = query.where(EventRow.kind == kind)
            return [{"at": aware(e.at).isoformat(), "kind": e.kind, "subject": e.subject, "version": e.version,
                     "rule": e.rule, "path": e.path, "text": e.text, "details": e.details}
                    for e in s.scalars(query.order_by(EventRow.pk))]
