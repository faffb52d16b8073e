"""Ready-made documents (``POST /plsp/documents``): a MedCom ConditionList 1.0.1 or Notes 1.0.0
document Bundle, validated against its profile by the conformance engine, then read back
(``document_intake``) and taken as the clinic's new card or note version — through the same rules."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from starlette.concurrency import run_in_threadpool

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.outcome import FhirError, Issue
from services.plsp_hub import document_intake
from services.plsp_hub import sharing_rules as rules
from services.plsp_hub.cards import Cards
from services.plsp_hub.interface import issue_json
from services.plsp_hub.notes import Notes, NoteVersion
from services.plsp_hub.nsp import HubNsp
from services.plsp_hub.shared_now import CONDITIONLIST
from services.plsp_hub.state import Clinic, ConditionCard, Note


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


class ReadyMade:
    def __init__(self, context: SandboxContext, nsp: HubNsp, cards: Cards, notes: Notes) -> None:
        self._context = context
        self._nsp = nsp
        self._cards = cards
        self._notes = notes

    async def submit_document(self, clinic: Clinic, bundle: dict[str, Any]) -> dict[str, Any]:
        """Take ``bundle`` from ``clinic``: 422 for another kind of document, profile errors or an unreadable one;
        the patient comes from the CPR register. The answer carries the card's or note's status and the
        validator's warnings."""
        kind = document_kind(bundle)
        if kind is None:
            raise FhirError(422, Issue("error", "not-supported", "Not a ConditionList or Notes document: a document "
                                       "Bundle whose first entry is a Composition of type LOINC 11450-4 or SNOMED "
                                       "866144008", expression="Bundle.entry[0].resource.type",
                                       rule="plsp-document-kind"))
        if kind == "note" and (issue := rules.one_note_per_document(bundle)) is not None:
            raise FhirError(422, issue)
        findings = await run_in_threadpool(self._context.validator.validate, bundle)
        errors = [i for i in findings if i.is_error]
        if errors:
            raise FhirError(422, errors)
        warnings = [i for i in findings if i.severity == "warning"]
        taken = _intake(bundle, kind, clinic)
        patient = await self._nsp.patient(taken.patient.cpr, "Bundle.entry.resource.ofType(Patient)")
        if isinstance(taken, ConditionCard):
            status = await self._cards.store_card(replace(taken, patient=patient, clinic=clinic),
                                                  "ready-made document", warnings)
            return {"kind": kind, "card": status, "warnings": [issue_json(w) for w in warnings]}
        version = NoteVersion(key=taken.key, body=taken.body_html, fmt="html", created=taken.created,
                              updated=taken.updated, ended=taken.ended, author=taken.author)
        status = await self._notes.save_note(clinic, patient, version, mode="upsert", origin="ready-made document",
                                             warnings=warnings)
        return {"kind": "note", "note": status, "warnings": [issue_json(w) for w in warnings]}


def _intake(bundle: dict[str, Any], kind: str, clinic: Clinic) -> ConditionCard | Note:
    """The card or note a valid document holds (422 when it cannot be read as one, or names another clinic)."""
    try:
        return (document_intake.card_from_document(bundle, clinic_sor=clinic.sor) if kind == CONDITIONLIST
                else document_intake.note_from_document(bundle, clinic_sor=clinic.sor, clean=False))
    except document_intake.IntakeError as exc:
        raise FhirError(422, exc.issue()) from None
    except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:
        raise FhirError(422, Issue("error", "structure", f"The document cannot be read as a {kind} "
                                   f"({type(exc).__name__})", expression="Bundle",
                                   rule="plsp-document-intake")) from None
