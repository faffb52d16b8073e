"""The timed work on the sandbox clock: deleting the content of cancelled notes whose purge time has
come (``plsp-note-purge``: within 24 hours of the cancellation, the time ``sharing_rules.purge_due``
set), and ``POST /plsp/due``: that purge, then every patient's DDS entries brought in step
(retries of entries DDS has not been told of yet, notes shared after midnight)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from starlette.concurrency import run_in_threadpool

from nsp_sandbox.clock import naive_utc
from nsp_sandbox.context import SandboxContext
from services.plsp_hub import sharing_rules as rules
from services.plsp_hub.events import EventLog
from services.plsp_hub.models import CardRow, EntryRow, NoteRow
from services.plsp_hub.shared_now import SharedNow

WAITING = ("pending", "withdrawing")  # entries DDS has not been told of yet


class Purge:
    def __init__(self, context: SandboxContext, events: EventLog, shared: SharedNow) -> None:
        self._context = context
        self._events = events
        self._shared = shared

    def run(self) -> int:
        """Delete the content (body, author, end time) of cancelled notes whose purge time has come; the
        event log keeps that each existed. The number of notes purged."""
        now = naive_utc(self._context.clock.now())
        done = 0
        with self._context.database.session() as s:
            due = list(s.scalars(select(NoteRow).where(NoteRow.state == "cancelled", NoteRow.purge_due <= now)))
            for row in due:
                # Each note purged by one guarded UPDATE (still cancelled): when two workers run the timed work
                # at once, one purges it and logs the event, the other skips it.
                changed = s.execute(update(NoteRow).where((NoteRow.pk == row.pk) & (NoteRow.state == "cancelled"))
                                    .values(body_html=None, author=None, ended=None, state="purged", purged_at=now))
                if getattr(changed, "rowcount", 0) != 1:
                    continue
                done += 1
                purged = rules.note_purged(row.version)
                self._events.add(s, row.cpr, row.clinic_sor, "purged", f"note:{row.key}", purged.diagnostics,
                                 version=row.version, rule=purged.rule)
        return done

    async def run_due(self) -> dict[str, Any]:
        """Purge what is due, then bring every patient's DDS entries in step (retries, after-midnight notes)."""
        # Every patient in turn: the database work on worker threads, so that the event loop goes on with
        # other requests between them and meanwhile.
        purged = await run_in_threadpool(self.run)
        cprs = await run_in_threadpool(self._patients)
        for cpr in cprs:
            await self._shared.sync(cpr)
        waiting = await run_in_threadpool(self._waiting)
        return {"purged": purged, "patients_checked": len(cprs), "dds_changes_waiting": waiting}

    def _patients(self) -> list[str]:
        with self._context.database.session() as s:
            return sorted(set(s.scalars(select(CardRow.cpr))) | set(s.scalars(select(NoteRow.cpr)))
                          | set(s.scalars(select(EntryRow.cpr).where(EntryRow.state.in_(WAITING)))))

    def _waiting(self) -> int:
        with self._context.database.session() as s:
            return len(list(s.scalars(select(EntryRow.pk).where(EntryRow.state.in_(WAITING)))))
