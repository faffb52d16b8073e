"""Journal notes: a clinic's notes and their versions (``/plsp/patients/{cpr}/notes``, ``/plsp/notes/{key}``
or a ready-made Notes document), 'do not share', cancellation, and a note's status — whether it is
served now (``sharing_rules``) and its DDS entry.

Only the newest version is kept and served; the event log holds each version's SHA-256, never its body.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from nsp_sandbox.clock import naive_utc
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.outcome import FhirError, Issue
from nsp_sandbox.simplified_html import CleanedNote
from services.plsp_hub import sharing_rules as rules
from services.plsp_hub.dds_registration import Registrar
from services.plsp_hub.events import EventLog
from services.plsp_hub.hub_settings import HubSettings
from services.plsp_hub.interface import NoteIn, NoteUpdate, issue_json
from services.plsp_hub.models import NoteRow
from services.plsp_hub.nsp import HubNsp
from services.plsp_hub.records import author_json, aware, clinic_json, offset_of, patient_json
from services.plsp_hub.shared_now import SharedNow
from services.plsp_hub.state import Author, Clinic, Patient

Mode = Literal["create", "update", "upsert"]


def note_not_found(key: str) -> FhirError:
    return FhirError(404, Issue("error", "not-found", f"This clinic has no note with key '{key}'",
                                expression="key", rule="plsp-note-known"))


@dataclass(frozen=True)
class NoteVersion:
    """A version of a note as a clinic sends it; ``None`` keeps (or, for a new note, defaults) a value."""

    key: str
    body: str
    fmt: str  # text | html
    created: datetime | None = None
    updated: datetime | None = None
    ended: datetime | None = None
    author: Author | None = None
    do_not_share: bool | None = None
    keep_author: bool = False  # an update without an author keeps the stored one


class _Refused(Exception):
    """A version the note rules refuse (422): logged after its unit of work, in one of its own."""

    def __init__(self, errors: list[Issue], version: int) -> None:
        super().__init__(errors)
        self.errors, self.version = errors, version


@dataclass(frozen=True)
class _Checked:
    """A version that passed the rules: its times, number, reduced body and the warnings."""

    created: datetime
    updated: datetime
    version: int
    cleaned: CleanedNote
    issues: list[Issue]


class Notes:
    def __init__(self, context: SandboxContext, nsp: HubNsp, events: EventLog, registrar: Registrar,
                 shared: SharedNow, settings: HubSettings) -> None:
        self._context = context
        self._nsp = nsp
        self._events = events
        self._registrar = registrar
        self._shared = shared
        self._settings = settings
        # A note's new version is checked, numbered and written (marked, cancelled) on a worker thread: one at a
        # time in this process, as when it ran on the event loop.
        self._writing = threading.Lock()

    async def create_note(self, clinic: Clinic, patient: Patient, body: NoteIn) -> dict[str, Any]:
        version = NoteVersion(key=body.key, body=body.body, fmt=body.format, created=body.created,
                              updated=body.updated, ended=body.ended,
                              author=body.author.to_state() if body.author else None, do_not_share=body.do_not_share)
        return await self.save_note(clinic, patient, version, mode="create", origin="LPS interface")

    async def update_note(self, clinic: Clinic, key: str, body: NoteUpdate) -> dict[str, Any]:
        row = await run_in_threadpool(self._note_row, clinic.sor, key)
        patient = await self._nsp.patient(row.cpr)
        version = NoteVersion(key=key, body=body.body, fmt=body.format, created=body.created, updated=body.updated,
                              ended=body.ended, author=body.author.to_state() if body.author else None,
                              do_not_share=body.do_not_share, keep_author=body.author is None)
        return await self.save_note(clinic, patient, version, mode="update", origin="LPS interface")

    async def save_note(self, clinic: Clinic, patient: Patient, note: NoteVersion, *, mode: Mode, origin: str,
                        warnings: list[Issue] | None = None) -> dict[str, Any]:
        """Create (``create``), update (``update``) or either (``upsert``: a ready-made document); the database
        work on worker threads, so that the event loop goes on with other requests meanwhile."""
        checked = await run_in_threadpool(self._keep, clinic, patient, note, mode, origin)
        await self._shared.sync(patient.cpr)
        return await run_in_threadpool(self.note_status, clinic.sor, note.key, (warnings or []) + checked.issues)

    def _keep(self, clinic: Clinic, patient: Patient, note: NoteVersion, mode: Mode, origin: str) -> _Checked:
        with self._writing:
            return self._write_version(clinic, patient, note, mode, origin)

    def _write_version(self, clinic: Clinic, patient: Patient, note: NoteVersion, mode: Mode, origin: str) -> _Checked:
        """The version checked against the stored note (:meth:`_checked`), kept and logged, in one unit of work
        that no other worker's change of the note comes between (``Database.writing``); a refusal (422) is
        logged after it."""
        now = self._context.clock.now()
        available = rules.available_from(now, self._settings.after_midnight())
        try:
            with self._context.database.writing("plsp-note", clinic.sor, note.key) as s:
                row = s.scalar(select(NoteRow).where(NoteRow.clinic_sor == clinic.sor, NoteRow.key == note.key))
                checked = self._checked(note, mode, row, now)
                if row is None:
                    row = NoteRow(key=note.key, clinic_sor=clinic.sor, cpr=patient.cpr,
                                  created=naive_utc(checked.created), created_offset=offset_of(checked.created),
                                  state="active", do_not_share=bool(note.do_not_share))
                    s.add(row)
                elif note.do_not_share is not None:
                    row.do_not_share = note.do_not_share
                row.clinic, row.patient = clinic_json(clinic), patient_json(patient)
                row.updated, row.updated_offset = naive_utc(checked.updated), offset_of(checked.updated)
                row.version = checked.version
                row.ended = naive_utc(note.ended) if note.ended else None
                if not note.keep_author:
                    row.author = author_json(note.author)
                row.body_html = checked.cleaned.html
                if checked.version == 1 or row.available_from is None:
                    row.available_from = naive_utc(available)
                self._log_version(s, row, checked, origin, available)
        except _Refused as refused:
            self._events.write_refusals(patient.cpr, clinic.sor, f"note:{note.key}", refused.errors, refused.version)
            raise FhirError(422, refused.errors) from None
        return checked

    def _checked(self, note: NoteVersion, mode: Mode, row: NoteRow | None, now: datetime) -> _Checked:
        """The version under the note rules, given the stored note ``row``: 404/409 for the wrong ``mode`` or a
        cancelled note, :class:`_Refused` (422) for a blank body or times that break
        ``plsp-note-created-immutable`` / ``-updated-after-created``."""
        if row is None and mode == "update":
            raise note_not_found(note.key)
        if row is not None and mode == "create":
            raise FhirError(409, rules.note_key_taken(note.key))
        if row is not None and (refusal := rules.cancelled_note_unchanged(note.key, row.state,
                                                                         new_version=True)) is not None:
            raise FhirError(409, refusal)
        cleaned, issues = rules.note_body(note.body, note.fmt)
        if row is None:
            assert note.created is not None
            created, updated, version = note.created, note.updated or note.created, 1
            issues += rules.note_time_issues(created, updated)
        else:
            created, stored_updated = aware(row.created, row.created_offset), aware(row.updated, row.updated_offset)
            updated, version = note.updated or now, row.version + 1
            issues += rules.note_time_issues(created, updated, stored_created=created, given_created=note.created,
                                             previous_updated=stored_updated)
        errors = [i for i in issues if i.is_error]
        if errors:
            raise _Refused(errors, version)
        return _Checked(created, updated, version, cleaned, issues)

    def _log_version(self, s: Session, row: NoteRow, checked: _Checked, origin: str, available: datetime) -> None:
        """The ``submitted`` event (a digest of the body, never the body), its warnings, a 'do not share' mark."""
        subject, version, html = f"note:{row.key}", checked.version, checked.cleaned.html
        text = (f"Note created ({origin})" if version == 1 else
                f"Note version {version} received ({origin}): a correction; only the newest version is served")
        self._events.add(s, row.cpr, row.clinic_sor, "submitted", subject, text, version=version, details={
            "created": aware(row.created, row.created_offset).isoformat(), "updated": checked.updated.isoformat(),
            "body_sha256": hashlib.sha256(html.encode("utf-8")).hexdigest(), "body_length": len(html),
            "html_removed": list(checked.cleaned.removed), "do_not_share": row.do_not_share,
            "available_from": available.isoformat()})
        for issue in checked.issues:
            self._events.refused(s, row.cpr, row.clinic_sor, subject, issue, version)
        if version == 1 and row.do_not_share:
            marked = rules.do_not_share_marked(True, at_creation=True)
            self._events.add(s, row.cpr, row.clinic_sor, "refused", subject, marked.diagnostics, version=1,
                             rule=marked.rule)

    def _note_row(self, sor: str, key: str) -> NoteRow:
        with self._context.database.session() as s:
            row = s.scalar(select(NoteRow).where(NoteRow.clinic_sor == sor, NoteRow.key == key))
            if row is None:
                raise note_not_found(key)
            s.expunge(row)
            return row

    async def set_do_not_share(self, sor: str, key: str, do_not_share: bool) -> dict[str, Any]:
        """Set or remove 'do not share' (``plsp-note-do-not-share``); a cancelled note is not changed (409)."""
        cpr = await run_in_threadpool(self._mark, sor, key, do_not_share)
        await self._shared.sync(cpr)
        return await run_in_threadpool(self.note_status, sor, key)

    def _mark(self, sor: str, key: str, do_not_share: bool) -> str:
        with self._writing:
            return self._write_mark(sor, key, do_not_share)

    def _write_mark(self, sor: str, key: str, do_not_share: bool) -> str:
        with self._context.database.writing("plsp-note", sor, key) as s:
            row = s.scalar(select(NoteRow).where(NoteRow.clinic_sor == sor, NoteRow.key == key))
            if row is None:
                raise note_not_found(key)
            if (refusal := rules.cancelled_note_unchanged(key, row.state, new_version=False)) is not None:
                raise FhirError(409, refusal)
            cpr = row.cpr
            if row.do_not_share != do_not_share:
                row.do_not_share = do_not_share
                marked = rules.do_not_share_marked(do_not_share)
                self._events.add(s, cpr, sor, "unshared" if do_not_share else "submitted", f"note:{key}",
                                 marked.diagnostics, version=row.version, rule=marked.rule)
        return cpr

    async def cancel_note(self, sor: str, key: str) -> dict[str, Any]:
        """Cancel the note (``plsp-note-cancelled``): not served from now on, its content purged later."""
        cpr = await run_in_threadpool(self._cancel, sor, key)
        await self._shared.sync(cpr)
        return await run_in_threadpool(self.note_status, sor, key)

    def _cancel(self, sor: str, key: str) -> str:
        with self._writing:
            return self._write_cancellation(sor, key)

    def _write_cancellation(self, sor: str, key: str) -> str:
        now = self._context.clock.now()
        with self._context.database.writing("plsp-note", sor, key) as s:
            row = s.scalar(select(NoteRow).where(NoteRow.clinic_sor == sor, NoteRow.key == key))
            if row is None:
                raise note_not_found(key)
            cpr = row.cpr
            cancellation = rules.note_cancellation(row.state, now, self._context.settings.plsp_note_purge_hours)
            if cancellation is not None:
                row.state, row.cancelled_at = "cancelled", naive_utc(now)
                row.purge_due = naive_utc(cancellation.purge_due)
                self._events.add(s, cpr, sor, "cancelled", f"note:{key}", cancellation.issue.diagnostics,
                                 version=row.version, rule=cancellation.issue.rule,
                                 details={"purge_due": cancellation.purge_due.isoformat()})
        return cpr

    def note_status(self, sor: str, key: str, issues: list[Issue] | None = None) -> dict[str, Any]:
        """The note as the hub keeps it (404 when the clinic has none): served now or not, DDS entry."""
        now = self._context.clock.now()
        with self._context.database.session() as s:
            row = s.scalar(select(NoteRow).where(NoteRow.clinic_sor == sor, NoteRow.key == key))
            if row is None:
                raise note_not_found(key)
            reason = rules.why_note_not_served(state=row.state, do_not_share=row.do_not_share,
                                               available=aware(row.available_from), now=now)
            out = {"key": row.key, "cpr": row.cpr, "clinic": row.clinic, "version": row.version,
                   "created": aware(row.created, row.created_offset), "updated": aware(row.updated, row.updated_offset),
                   "state": row.state, "do_not_share": row.do_not_share, "available_from": aware(row.available_from),
                   "shared": reason is None, "body_html": row.body_html,
                   "issues": [issue_json(i) for i in issues or []]}
            cpr = row.cpr
        out["dds"] = self._registrar.dds_view(self._registrar.entry_of(cpr, "note", sor, key))
        return out
