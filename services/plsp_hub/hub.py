"""The hub's work: keeping each clinic's cards and notes, applying the source rules, keeping DDS's
on-demand entries in step, serving documents when DDS retrieves them, and the timed work (purge).

Nothing here holds a database transaction across an HTTP call (DDS may share the database).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from nsp_sandbox.clock import naive_utc
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.outcome import FhirError, Issue
from services.plsp_hub import sharing_rules as rules
from services.plsp_hub.dds_registration import Registrar, Unwanted, Wanted
from services.plsp_hub.events import EventLog
from services.plsp_hub.interface import CardIn, NoteIn, NoteUpdate
from services.plsp_hub.models import CardRow, EntryRow, NoteRow, SettingRow
from services.plsp_hub.nsp import HubNsp
from services.plsp_hub.records import (
    approval_json,
    author_json,
    aware,
    card_of,
    clinic_json,
    diagnosis_json,
    note_of,
    offset_of,
    patient_json,
)
from services.plsp_hub.state import Author, Clinic, ConditionCard, Patient

CONDITIONLIST = "conditionlist"
AFTER_MIDNIGHT = "notes_after_midnight"


def issue_json(issue: Issue) -> dict[str, Any]:
    return {"severity": issue.severity, "rule": issue.rule, "path": issue.expression, "text": issue.diagnostics}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def note_not_found(key: str) -> FhirError:
    return FhirError(404, Issue("error", "not-found", f"This clinic has no note with key '{key}'",
                                expression="key", rule="plsp-note-known"))


class Hub:
    def __init__(self, context: SandboxContext, nsp: HubNsp) -> None:
        self.context = context
        self.nsp = nsp
        self.events = EventLog(context.database, context.clock)
        self.registrar = Registrar(context, nsp, self.events)

    def now(self) -> datetime:
        return self.context.clock.now()

    # ---- settings ---------------------------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        with self.context.database.session() as s:
            row = s.get(SettingRow, AFTER_MIDNIGHT)
            after = bool(row.value["on"]) if row else self.context.settings.plsp_notes_after_midnight
        return {AFTER_MIDNIGHT: after, "note_purge_hours": self.context.settings.plsp_note_purge_hours}

    def set_after_midnight(self, on: bool) -> dict[str, Any]:
        with self.context.database.session() as s:
            row = s.get(SettingRow, AFTER_MIDNIGHT)
            if row is None:
                s.add(SettingRow(key=AFTER_MIDNIGHT, value={"on": on}))
            else:
                row.value = {"on": on}
        return self.settings()

    # ---- what is shared now -----------------------------------------------------------------------

    def wanted(self, cpr: str) -> tuple[list[Wanted], dict[tuple[str, str, str | None], Unwanted]]:
        """The entries that should be in DDS for ``cpr`` now, and why each other one should not."""
        now = self.now()
        with self.context.database.session() as s:
            cards = [card_of(r) for r in s.scalars(select(CardRow).where(CardRow.cpr == cpr)
                                                   .order_by(CardRow.submitted_at, CardRow.pk))]
            notes = list(s.scalars(select(NoteRow).where(NoteRow.cpr == cpr).order_by(NoteRow.pk)))
            wanted: list[Wanted] = []
            why_not: dict[tuple[str, str, str | None], Unwanted] = {}
            latest = rules.latest_card(cards)
            for card in cards:
                key = (CONDITIONLIST, card.clinic.sor, None)
                if card is not latest:
                    why_not[key] = Unwanted("superseded", "plsp-card-latest", "a more recently updated card of "
                                            "another clinic is now the patient's shared ConditionList")
                    continue
                shared = rules.shared_card(card)
                if shared is not None:
                    wanted.append(Wanted(CONDITIONLIST, card.clinic.sor, None, shared))
                    continue
                refusal = rules.approval_refusal(card)
                why_not[key] = (Unwanted("superseded", refusal.rule or "plsp-card-approved", refusal.diagnostics)
                                if refusal else Unwanted("superseded", "plsp-card-empty", "the card has no "
                                                         "shareable diagnosis, so there is no ConditionList"))
            for row in notes:
                reason = rules.why_note_not_served(state=row.state, do_not_share=row.do_not_share,
                                                   available=aware(row.available_from), now=now)
                key = ("note", row.clinic_sor, row.key)
                if reason is None:
                    wanted.append(Wanted("note", row.clinic_sor, row.key, note_of(row)))
                else:
                    why_not[key] = Unwanted("entered-in-error" if row.state != "active" else "superseded",
                                            reason.rule or "plsp-unshared", reason.diagnostics)
        return wanted, why_not

    async def sync(self, cpr: str) -> None:
        """Bring DDS's entries for ``cpr`` in step with what may be shared now."""
        wanted, why_not = self.wanted(cpr)
        self.registrar.plan(cpr, wanted, why_not)
        await self.registrar.push(cpr, wanted)

    # ---- diagnosis cards --------------------------------------------------------------------------

    async def put_card(self, clinic: Clinic, patient: Patient, body: CardIn) -> dict[str, Any]:
        errors = rules.card_issues([d.key for d in body.diagnoses])
        if errors:
            self._refused(patient.cpr, clinic.sor, CONDITIONLIST, errors)
            raise FhirError(422, errors)
        approval = body.approval.to_state() if body.approval else None
        updated = body.updated or (approval.at if approval else self.now())
        card = ConditionCard(patient, clinic, tuple(d.to_state() for d in body.diagnoses), updated, approval)
        return await self.store_card(card, "LPS interface")

    async def store_card(self, card: ConditionCard, origin: str, warnings: list[Issue] | None = None) -> dict[str, Any]:
        cpr, sor = card.patient.cpr, card.clinic.sor
        withheld = rules.withheld_diagnoses(card.diagnoses)
        refusal = rules.approval_refusal(card)
        shareable = [d.key for i, d in enumerate(card.diagnoses) if i not in {w.index for w in withheld}]
        issues = [w.issue() for w in withheld] + rules.internal_note_issues(card.diagnoses)
        if refusal is not None:
            issues.append(refusal)
        elif not shareable:
            issues.append(Issue("information", "informational", "Nothing on the card may be shared: no ConditionList "
                                "document and no DDS entry", expression="diagnoses", rule="plsp-card-empty",
                                source=rules.CL_SOURCE))
        with self.context.database.session() as s:
            row = s.scalar(select(CardRow).where(CardRow.cpr == cpr, CardRow.clinic_sor == sor))
            if row is None:
                row = CardRow(cpr=cpr, clinic_sor=sor, version=1)
                s.add(row)
            else:
                row.version += 1
            row.clinic, row.patient = clinic_json(card.clinic), patient_json(card.patient)
            row.diagnoses = [diagnosis_json(d) for d in card.diagnoses]
            row.approval, row.updated, row.submitted_at = approval_json(card.approval), naive_utc(card.updated), \
                naive_utc(self.now())
            version = row.version
            self.events.add(s, cpr, sor, "submitted", CONDITIONLIST,
                            f"Diagnosis card version {version} received ({origin}): {len(card.diagnoses)} "
                            f"diagnoses, {len(shareable)} shareable, {'approved' if card.approval else 'not approved'}",
                            version=version, details={"updated": card.updated.isoformat(), "shareable": shareable,
                                                      "diagnoses": [d.key for d in card.diagnoses],
                                                      "approval": approval_json(card.approval)})
            for issue in issues:  # each diagnosis or note withheld, and why the card is not shared
                self.events.refused(s, cpr, sor, CONDITIONLIST, issue, version)
        await self.sync(cpr)
        return self.card_status(cpr, sor, issues=(warnings or []) + issues)

    def card_status(self, cpr: str, sor: str, issues: list[Issue] | None = None) -> dict[str, Any]:
        wanted, _ = self.wanted(cpr)
        with self.context.database.session() as s:
            row = s.scalar(select(CardRow).where(CardRow.cpr == cpr, CardRow.clinic_sor == sor))
            if row is None:
                raise FhirError(404, Issue("error", "not-found", f"This clinic has submitted no card for {cpr}",
                                           rule="plsp-card-known"))
            card = card_of(row)
            version = row.version
        withheld = rules.withheld_diagnoses(card.diagnoses)
        shared = next((w for w in wanted if w.kind == CONDITIONLIST and w.clinic_sor == sor), None)
        entry = self.registrar.entry_of(cpr, CONDITIONLIST, sor, None)
        return {
            "cpr": cpr, "clinic": clinic_json(card.clinic), "updated": card.updated, "version": version,
            "approved": card.approval is not None and rules.approval_refusal(card) is None,
            "shared": shared is not None,
            "shared_diagnoses": [d.key for d in shared.document.diagnoses] if shared else [],  # type: ignore[union-attr]
            "withheld_diagnoses": [{"key": w.key, "rule": w.rule, "path": f"diagnoses[{w.index}]", "reason": w.reason}
                                   for w in withheld],
            "issues": [issue_json(i) for i in issues or []],
            "dds": self.registrar.dds_view(entry),
        }

    # ---- notes --------------------------------------------------------------------------------------

    async def create_note(self, clinic: Clinic, patient: Patient, body: NoteIn) -> dict[str, Any]:
        author = body.author.to_state() if body.author else None
        return await self.save_note(clinic, patient, key=body.key, created=body.created, updated=body.updated,
                                    ended=body.ended, author=author, body=body.body, fmt=body.format,
                                    do_not_share=body.do_not_share, mode="create", origin="LPS interface")

    async def update_note(self, clinic: Clinic, key: str, body: NoteUpdate) -> dict[str, Any]:
        row = self._note_row(clinic.sor, key)
        patient = await self.nsp.patient(row.cpr)
        author = body.author.to_state() if body.author else None
        return await self.save_note(clinic, patient, key=key, created=body.created, updated=body.updated,
                                    ended=body.ended, author=author, body=body.body, fmt=body.format,
                                    do_not_share=body.do_not_share, mode="update", origin="LPS interface",
                                    keep_author=body.author is None)

    async def save_note(self, clinic: Clinic, patient: Patient, *, key: str, created: datetime | None,
                        updated: datetime | None, ended: datetime | None, author: Author | None, body: str, fmt: str,
                        do_not_share: bool | None, mode: str, origin: str, keep_author: bool = False,
                        warnings: list[Issue] | None = None) -> dict[str, Any]:
        """Create (``create``), update (``update``) or either (``upsert``: a ready-made document)."""
        subject = f"note:{key}"
        with self.context.database.session() as s:
            row = s.scalar(select(NoteRow).where(NoteRow.clinic_sor == clinic.sor, NoteRow.key == key))
            existing = None if row is None else (row.state, aware(row.created, row.created_offset),
                                                 aware(row.updated, row.updated_offset), row.version)
        if existing is None and mode == "update":
            raise note_not_found(key)
        if existing is not None and mode == "create":
            raise FhirError(409, Issue("error", "duplicate", f"This clinic already has a note with key '{key}'; "
                                       f"send a new version with PUT /plsp/notes/{key}", expression="key",
                                       rule="plsp-note-key-unique"))
        if existing is not None and existing[0] != "active":
            raise FhirError(409, Issue("error", "business-rule", f"The note '{key}' was cancelled; a cancelled note "
                                       "is not changed again", expression="key", rule="plsp-note-cancelled",
                                       source=rules.NOTES_SOURCE))
        cleaned, issues = rules.note_body(body, fmt)
        if existing is None:
            assert created is not None
            updated = updated or created
            issues += rules.note_time_issues(created, updated)
            version = 1
        else:
            _, stored_created, stored_updated, previous = existing
            updated = updated or self.now()
            issues += rules.note_time_issues(stored_created, updated, stored_created=stored_created,
                                             given_created=created, previous_updated=stored_updated)
            created, version = stored_created, previous + 1
        errors = [i for i in issues if i.is_error]
        if errors:
            self._refused(patient.cpr, clinic.sor, subject, errors, version)
            raise FhirError(422, errors)
        now = self.now()
        available = rules.available_from(now, self.settings()[AFTER_MIDNIGHT])
        with self.context.database.session() as s:
            row = s.scalar(select(NoteRow).where(NoteRow.clinic_sor == clinic.sor, NoteRow.key == key))
            if row is None:
                row = NoteRow(key=key, clinic_sor=clinic.sor, cpr=patient.cpr, created=naive_utc(created),
                              created_offset=offset_of(created), state="active", do_not_share=bool(do_not_share))
                s.add(row)
            elif do_not_share is not None:
                row.do_not_share = do_not_share
            row.clinic, row.patient = clinic_json(clinic), patient_json(patient)
            row.updated, row.updated_offset, row.version = naive_utc(updated), offset_of(updated), version
            row.ended = naive_utc(ended) if ended else None
            if not keep_author:
                row.author = author_json(author)
            row.body_html = cleaned.html
            if version == 1 or row.available_from is None:
                row.available_from = naive_utc(available)
            text = (f"Note created ({origin})" if version == 1 else
                    f"Note version {version} received ({origin}): a correction; only the newest version is served")
            self.events.add(s, patient.cpr, clinic.sor, "submitted", subject, text, version=version, details={
                "created": aware(row.created, row.created_offset).isoformat(), "updated": updated.isoformat(),
                "body_sha256": _digest(cleaned.html), "body_length": len(cleaned.html),
                "html_removed": list(cleaned.removed), "do_not_share": row.do_not_share,
                "available_from": available.isoformat()})
            for issue in issues:
                self.events.refused(s, patient.cpr, clinic.sor, subject, issue, version)
            if version == 1 and row.do_not_share:
                self.events.add(s, patient.cpr, clinic.sor, "refused", subject, "Marked 'do not share' by the "
                                "clinic: the note is kept and not shared", version=1, rule="plsp-note-do-not-share")
        await self.sync(patient.cpr)
        return self.note_status(clinic.sor, key, (warnings or []) + issues)

    def _note_row(self, sor: str, key: str) -> NoteRow:
        with self.context.database.session() as s:
            row = s.scalar(select(NoteRow).where(NoteRow.clinic_sor == sor, NoteRow.key == key))
            if row is None:
                raise note_not_found(key)
            s.expunge(row)
            return row

    async def set_do_not_share(self, sor: str, key: str, do_not_share: bool) -> dict[str, Any]:
        subject = f"note:{key}"
        with self.context.database.session() as s:
            row = s.scalar(select(NoteRow).where(NoteRow.clinic_sor == sor, NoteRow.key == key))
            if row is None:
                raise note_not_found(key)
            if row.state != "active":
                raise FhirError(409, Issue("error", "business-rule", f"The note '{key}' was cancelled",
                                           expression="key", rule="plsp-note-cancelled", source=rules.NOTES_SOURCE))
            cpr = row.cpr
            if row.do_not_share != do_not_share:
                row.do_not_share = do_not_share
                if do_not_share:
                    self.events.add(s, cpr, sor, "unshared", subject, "Marked 'do not share': not served from the "
                                    "next retrieval on", version=row.version, rule="plsp-note-do-not-share")
                else:
                    self.events.add(s, cpr, sor, "submitted", subject, "'Do not share' removed: the note is shared "
                                    "again from the next retrieval on", version=row.version,
                                    rule="plsp-note-do-not-share")
        await self.sync(cpr)
        return self.note_status(sor, key)

    async def cancel_note(self, sor: str, key: str) -> dict[str, Any]:
        subject = f"note:{key}"
        now = self.now()
        with self.context.database.session() as s:
            row = s.scalar(select(NoteRow).where(NoteRow.clinic_sor == sor, NoteRow.key == key))
            if row is None:
                raise note_not_found(key)
            cpr = row.cpr
            if row.state == "active":
                due = rules.purge_due(now, self.context.settings.plsp_note_purge_hours)
                row.state, row.cancelled_at, row.purge_due = "cancelled", naive_utc(now), naive_utc(due)
                self.events.add(s, cpr, sor, "cancelled", subject, "Cancelled by the clinic: no longer served; its "
                                f"content is deleted from the hub by {due.isoformat(timespec='seconds')}",
                                version=row.version, rule="plsp-note-cancelled",
                                details={"purge_due": due.isoformat()})
        await self.sync(cpr)
        return self.note_status(sor, key)

    def note_status(self, sor: str, key: str, issues: list[Issue] | None = None) -> dict[str, Any]:
        now = self.now()
        with self.context.database.session() as s:
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
        out["dds"] = self.registrar.dds_view(self.registrar.entry_of(cpr, "note", sor, key))
        return out

    # ---- ready-made documents ---------------------------------------------------------------------

    async def submit_document(self, clinic: Clinic, bundle: dict[str, Any]) -> dict[str, Any]:
        from services.plsp_hub import document_intake

        kind = document_kind(bundle)
        if kind is None:
            raise FhirError(422, Issue("error", "not-supported", "Not a ConditionList or Notes document: a document "
                                       "Bundle whose first entry is a Composition of type LOINC 11450-4 or SNOMED "
                                       "866144008", expression="Bundle.entry[0].resource.type",
                                       rule="plsp-document-kind"))
        if kind == "note" and (issue := rules.one_note_per_document(bundle)) is not None:
            raise FhirError(422, issue)
        findings = await run_in_threadpool(self.context.validator.validate, bundle)
        errors = [i for i in findings if i.is_error]
        if errors:
            raise FhirError(422, errors)
        warnings = [i for i in findings if i.severity == "warning"]
        try:
            taken = (document_intake.card_from_document(bundle, clinic_sor=clinic.sor) if kind == CONDITIONLIST
                     else document_intake.note_from_document(bundle, clinic_sor=clinic.sor, clean=False))
        except document_intake.IntakeError as exc:
            raise FhirError(422, exc.issue()) from None
        except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:
            raise FhirError(422, Issue("error", "structure", f"The document cannot be read as a {kind} "
                                       f"({type(exc).__name__})", expression="Bundle",
                                       rule="plsp-document-intake")) from None
        patient = await self.nsp.patient(taken.patient.cpr, "Bundle.entry.resource.ofType(Patient)")
        if isinstance(taken, ConditionCard):
            status = await self.store_card(replace(taken, patient=patient, clinic=clinic), "ready-made document",
                                           warnings)
            return {"kind": kind, "card": status, "warnings": [issue_json(w) for w in warnings]}
        status = await self.save_note(clinic, patient, key=taken.key, created=taken.created, updated=taken.updated,
                                      ended=taken.ended, author=taken.author, body=taken.body_html, fmt="html",
                                      do_not_share=None, mode="upsert", origin="ready-made document",
                                      warnings=warnings)
        return {"kind": "note", "note": status, "warnings": [issue_json(w) for w in warnings]}

    # ---- retrieval (DDS) ----------------------------------------------------------------------------

    def serve(self, key: str) -> bytes:
        """The current document of on-demand entry ``key``, freshly generated; 404/410 when none is served."""
        self.purge()
        with self.context.database.session() as s:
            row = s.scalar(select(EntryRow).where(EntryRow.key == key))
            if row is not None:
                s.expunge(row)
        if row is None:
            raise FhirError(404, Issue("error", "not-found", f"No on-demand document with key '{key[:80]}'",
                                       rule="plsp-ondemand-known"))
        subject = "conditionlist" if row.kind == CONDITIONLIST else f"note:{row.note_key}"
        wanted, why_not = self.wanted(row.cpr)
        match = next((w for w in wanted if (w.kind, w.clinic_sor, w.note_key) ==
                      (row.kind, row.clinic_sor, row.note_key)), None)
        if match is None or row.state not in ("pending", "registered"):  # withdrawn or being withdrawn
            reason = why_not.get((row.kind, row.clinic_sor, row.note_key))
            text = reason.text if reason else "the document is no longer shared"
            raise FhirError(410, Issue("error", "deleted", f"Nothing to serve: {text}",
                                       rule=reason.rule if reason else "plsp-unshared"))
        now = self.now()
        if row.kind == CONDITIONLIST:
            from services.plsp_hub.conditionlist_document import build_conditionlist

            document = build_conditionlist(match.document, assembled=now)  # type: ignore[arg-type]
            version = None
        else:
            from services.plsp_hub.notes_document import build_note_document

            document = build_note_document(match.document, assembled=now)  # type: ignore[arg-type]
            version = match.document.version  # type: ignore[union-attr]
        self.events.write(row.cpr, row.clinic_sor, "served", subject, "Generated and served to DDS (ITI-68)",
                          version=version, details={"bundle_identifier": (document.get("identifier") or {}).get(
                              "value"), "dds_entry": row.dds_id})
        return json.dumps(document, ensure_ascii=False).encode("utf-8")

    # ---- timed work ---------------------------------------------------------------------------------

    def purge(self) -> int:
        """Delete the content of cancelled notes whose purge time has come (sandbox clock)."""
        now = naive_utc(self.now())
        with self.context.database.session() as s:
            due = list(s.scalars(select(NoteRow).where(NoteRow.state == "cancelled", NoteRow.purge_due <= now)))
            for row in due:
                row.body_html, row.author, row.ended = None, None, None
                row.state, row.purged_at = "purged", now
                self.events.add(s, row.cpr, row.clinic_sor, "purged", f"note:{row.key}",
                                f"The cancelled note's content (all {row.version} version(s)) was deleted from the "
                                "hub; this log keeps that it existed", version=row.version,
                                rule="plsp-note-purge")
        return len(due)

    async def run_due(self) -> dict[str, Any]:
        """Purge what is due, then bring every patient's DDS entries in step (retries, after-midnight notes)."""
        purged = self.purge()
        with self.context.database.session() as s:
            cprs = sorted(set(s.scalars(select(CardRow.cpr))) | set(s.scalars(select(NoteRow.cpr)))
                          | set(s.scalars(select(EntryRow.cpr).where(EntryRow.state.in_(("pending", "withdrawing"))))))
        for cpr in cprs:
            await self.sync(cpr)
        with self.context.database.session() as s:
            waiting = len(list(s.scalars(select(EntryRow.pk).where(EntryRow.state.in_(("pending", "withdrawing"))))))
        return {"purged": purged, "patients_checked": len(cprs), "dds_changes_waiting": waiting}

    # ---- event log ----------------------------------------------------------------------------------

    def _refused(self, cpr: str, sor: str, subject: str, issues: list[Issue], version: int | None = None) -> None:
        with self.context.database.session() as s:
            for issue in issues:
                self.events.refused(s, cpr, sor, subject, issue, version)


def document_kind(bundle: dict[str, Any]) -> str | None:
    """``conditionlist`` or ``note`` by the first entry's Composition.type, else None."""
    entries = bundle.get("entry") if isinstance(bundle.get("entry"), list) else []
    first = entries[0].get("resource") if entries and isinstance(entries[0], dict) else None
    if bundle.get("resourceType") != "Bundle" or not isinstance(first, dict) or \
            first.get("resourceType") != "Composition":
        return None
    kind = first.get("type") if isinstance(first.get("type"), dict) else {}
    codings = kind.get("coding") if isinstance(kind.get("coding"), list) else []
    codes = {c.get("code") for c in codings if isinstance(c, dict)}
    if "11450-4" in codes:
        return CONDITIONLIST
    if "866144008" in codes:
        return "note"
    return None

