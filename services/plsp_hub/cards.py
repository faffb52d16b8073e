"""Diagnosis cards: a clinic's whole current card for a patient (``PUT /plsp/patients/{cpr}/conditionlist``
or a ready-made ConditionList), kept as its new version, and its status — what is shared, what is
withheld and why (``sharing_rules``), and the DDS entry."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from nsp_sandbox.clock import naive_utc
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.outcome import FhirError, Issue
from services.plsp_hub import sharing_rules as rules
from services.plsp_hub.dds_registration import Registrar
from services.plsp_hub.events import EventLog
from services.plsp_hub.interface import CardIn, issue_json
from services.plsp_hub.models import CardRow
from services.plsp_hub.records import approval_json, card_of, clinic_json, diagnosis_json, patient_json
from services.plsp_hub.shared_now import CONDITIONLIST, SharedNow
from services.plsp_hub.state import Clinic, ConditionCard, Patient


class Cards:
    def __init__(self, context: SandboxContext, events: EventLog, registrar: Registrar, shared: SharedNow) -> None:
        self._context = context
        self._events = events
        self._registrar = registrar
        self._shared = shared
        # A card's new version is read, numbered and written on a worker thread: one at a time in this process,
        # as when it ran on the event loop.
        self._writing = threading.Lock()

    async def put_card(self, clinic: Clinic, patient: Patient, body: CardIn) -> dict[str, Any]:
        """The card as the LPS interface sends it; a diagnosis key twice refuses it (422)."""
        errors = rules.card_issues([d.key for d in body.diagnoses])
        if errors:
            await run_in_threadpool(self._events.write_refusals, patient.cpr, clinic.sor, CONDITIONLIST, errors)
            raise FhirError(422, errors)
        approval = body.approval.to_state() if body.approval else None
        updated = body.updated or (approval.at if approval else self._context.clock.now())
        card = ConditionCard(patient, clinic, tuple(d.to_state() for d in body.diagnoses), updated, approval)
        return await self.store_card(card, "LPS interface")

    async def store_card(self, card: ConditionCard, origin: str, warnings: list[Issue] | None = None) -> dict[str, Any]:
        """Keep ``card`` as the clinic's new version, log it and what is withheld, bring DDS in step (the
        database work on worker threads, so that the event loop goes on with other requests meanwhile)."""
        cpr, sor = card.patient.cpr, card.clinic.sor
        issues = rules.card_findings(card)
        await run_in_threadpool(self._keep, card, origin, issues)
        await self._shared.sync(cpr)
        return await run_in_threadpool(self.card_status, cpr, sor, (warnings or []) + issues)

    def _keep(self, card: ConditionCard, origin: str, issues: list[Issue]) -> None:
        with self._writing:
            self._write_version(card, origin, issues)

    def _write_version(self, card: ConditionCard, origin: str, issues: list[Issue]) -> None:
        cpr, sor = card.patient.cpr, card.clinic.sor
        shareable = rules.shareable_keys(card.diagnoses)
        with self._context.database.writing("plsp-card", cpr, sor) as s:  # no other worker's version comes between
            row = s.scalar(select(CardRow).where(CardRow.cpr == cpr, CardRow.clinic_sor == sor))
            if row is None:
                row = CardRow(cpr=cpr, clinic_sor=sor, version=1)
                s.add(row)
            else:
                row.version += 1
            row.clinic, row.patient = clinic_json(card.clinic), patient_json(card.patient)
            row.diagnoses = [diagnosis_json(d) for d in card.diagnoses]
            row.approval, row.updated, row.submitted_at = approval_json(card.approval), naive_utc(card.updated), \
                naive_utc(self._context.clock.now())
            version = row.version
            self._events.add(s, cpr, sor, "submitted", CONDITIONLIST,
                             f"Diagnosis card version {version} received ({origin}): {len(card.diagnoses)} "
                             f"diagnoses, {len(shareable)} shareable, "
                             f"{'approved' if card.approval else 'not approved'}",
                             version=version, details={"updated": card.updated.isoformat(), "shareable": shareable,
                                                       "diagnoses": [d.key for d in card.diagnoses],
                                                       "approval": approval_json(card.approval)})
            for issue in issues:  # each diagnosis or note withheld, and why the card is not shared
                self._events.refused(s, cpr, sor, CONDITIONLIST, issue, version)

    def card_status(self, cpr: str, sor: str, issues: list[Issue] | None = None) -> dict[str, Any]:
        """The clinic's card for ``cpr`` (404 when it sent none): shared or not, withheld diagnoses, DDS entry."""
        wanted, _ = self._shared.wanted(cpr)
        with self._context.database.session() as s:
            row = s.scalar(select(CardRow).where(CardRow.cpr == cpr, CardRow.clinic_sor == sor))
            if row is None:
                raise FhirError(404, Issue("error", "not-found", f"This clinic has submitted no card for {cpr}",
                                           rule="plsp-card-known"))
            card = card_of(row)
            version = row.version
        withheld = rules.withheld_diagnoses(card.diagnoses)
        shared = next((w for w in wanted if w.kind == CONDITIONLIST and w.clinic_sor == sor), None)
        entry = self._registrar.entry_of(cpr, CONDITIONLIST, sor, None)
        return {
            "cpr": cpr, "clinic": clinic_json(card.clinic), "updated": card.updated, "version": version,
            "approved": card.approval is not None and rules.approval_refusal(card) is None,
            "shared": shared is not None,
            "shared_diagnoses": [d.key for d in shared.document.diagnoses] if shared else [],  # type: ignore[union-attr]
            "withheld_diagnoses": [{"key": w.key, "rule": w.rule, "path": f"diagnoses[{w.index}]", "reason": w.reason}
                                   for w in withheld],
            "issues": [issue_json(i) for i in issues or []],
            "dds": self._registrar.dds_view(entry),
        }
