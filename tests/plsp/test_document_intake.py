"""Ready-made documents taken in: every official example goes intake → generate and stays valid and true.

The examples are read from the published packages in ``../shared/fhir-packages`` at run time.
"""

from __future__ import annotations

import base64
import copy
import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from plsp_document_cases import CARDS, NOTES

from nsp_sandbox.conformance.packages import PackageRegistry
from nsp_sandbox.conformance.validator import Validator
from nsp_sandbox.simplified_html import clean_note_html
from services.plsp_hub.conditionlist_document import build_conditionlist
from services.plsp_hub.document_intake import IntakeError, card_from_document, note_from_document
from services.plsp_hub.notes_document import build_note_document
from services.plsp_hub.state import ConditionCard

ASSEMBLED = datetime(2026, 12, 20, 8, 0, tzinfo=UTC)
SOR = "urn:oid:1.2.208.176.1.1"
FHIR_PACKAGES_DIR = Path(os.environ.get("NSP_SANDBOX_TEST_FHIR_PACKAGES",
                                        Path(__file__).resolve().parents[2].parent / "shared" / "fhir-packages"))
VALUE_ATTACHMENT = "http://medcomfhir.dk/ig/core/StructureDefinition/medcom-observation-value-attachment-extension"


def _example_bundles(name: str, version: str) -> list[Any]:
    if not FHIR_PACKAGES_DIR.is_dir():
        return []
    package = PackageRegistry.load([FHIR_PACKAGES_DIR], None).get(name, version)
    if package is None:
        return []
    return [pytest.param(filename, id=filename) for filename, resource in package.examples()
            if resource.get("resourceType") == "Bundle"]


def example(packages: PackageRegistry, name: str, version: str, filename: str) -> dict[str, Any]:
    package = packages.get(name, version)
    assert package is not None
    return copy.deepcopy(dict(package.examples())[filename])


def resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def author_sor(bundle: dict[str, Any]) -> str:
    org = resources(bundle, "Organization")[0]
    return next(i["value"] for i in org["identifier"] if i["system"] == SOR)


def errors(validator: Validator, bundle: dict[str, Any]) -> list[str]:
    return [f"{i.expression} [{i.rule}] {i.diagnostics}" for i in validator.validate(bundle) if i.is_error]


def diagnoses_of(bundle: dict[str, Any]) -> list[tuple[Any, ...]]:
    """What a reader sees of each Condition: codes (no display), text, status, type and dates."""
    out = []
    for c in resources(bundle, "Condition"):
        codes = tuple((cd.get("system"), cd["code"]) for cd in c.get("code", {}).get("coding", []))
        categories = tuple(sorted(cd["code"] for cat in c["category"] for cd in cat["coding"]))
        out.append((codes, c.get("code", {}).get("text"), categories, c["recordedDate"][:10],
                    (c.get("onsetDateTime") or "")[:10], (c.get("abatementDateTime") or "")[:10]))
    return out


def note_text(bundle: dict[str, Any]) -> str:
    observation = resources(bundle, "Observation")[0]
    data = next(x["valueAttachment"]["data"] for x in observation["extension"] if x["url"] == VALUE_ATTACHMENT)
    return base64.b64decode(data).decode("utf-8")


# ---- the official examples ----------------------------------------------------------------------

@pytest.mark.parametrize("filename", _example_bundles("medcom.fhir.dk.conditionlist", "1.0.1"))
def test_official_conditionlist_examples_round_trip(validator: Validator, packages: PackageRegistry,
                                                    filename: str) -> None:
    original = example(packages, "medcom.fhir.dk.conditionlist", "1.0.1", filename)
    card = card_from_document(original, clinic_sor=author_sor(original))
    generated = build_conditionlist(card, assembled=ASSEMBLED)
    assert errors(validator, generated) == []
    assert diagnoses_of(generated) == diagnoses_of(original)
    assert resources(generated, "Patient")[0]["identifier"] == resources(original, "Patient")[0]["identifier"]
    assert resources(generated, "Organization")[0]["name"] == resources(original, "Organization")[0]["name"]
    assert all("note" not in c for c in resources(generated, "Condition"))


def test_internal_notes_and_approval_are_read_from_the_maximum_example(packages: PackageRegistry) -> None:
    original = example(packages, "medcom.fhir.dk.conditionlist", "1.0.1",
                       "Bundle-23d8ece4-7cff-47c1-9680-571377c6ea74.json")
    card = card_from_document(original, clinic_sor="325381000016008")
    assert card.clinic.ydernummer == "091034" and card.clinic.name == "MedCom Testcenter"
    assert card.updated == datetime.fromisoformat("2024-05-01T12:00:00+01:00")
    assert card.approval is not None
    assert (card.approval.by.given, card.approval.by.family) == (("Bo", "Test"), "Vestergaard")
    assert card.approval.at == card.updated  # the example's attester has no time
    notes = {d.key: d.internal_note for d in card.diagnoses}
    assert notes["2f703d89-787d-418f-a804-b986aa181492"] == "Patienten er særligt ramt af træthed grundet sygdommen."
    assert notes["f90a8472-6495-4865-be5d-fae6650a033e"] is None
    resolved = next(d for d in card.diagnoses if d.sks == "DC43")
    assert (resolved.status, resolved.kind, resolved.abatement) == ("relevant", "encounter-diagnosis",
                                                                    date(2023, 6, 7))
    minimal = example(packages, "medcom.fhir.dk.conditionlist", "1.0.1",
                      "Bundle-b991dcb7-6f2a-4e56-96f9-6b4b23cb9472.json")
    assert card_from_document(minimal, clinic_sor="325381000016008").approval is None


@pytest.mark.parametrize("filename", _example_bundles("medcom.fhir.dk.notes", "1.0.0"))
def test_official_notes_examples_round_trip(validator: Validator, packages: PackageRegistry, filename: str) -> None:
    original = example(packages, "medcom.fhir.dk.notes", "1.0.0", filename)
    note = note_from_document(original, clinic_sor=author_sor(original))
    generated = build_note_document(note, assembled=ASSEMBLED)
    assert errors(validator, generated) == []
    assert note_text(generated) == clean_note_html(note_text(original)).html
    assert clean_note_html(note_text(original)).removed == ()
    assert datetime.fromisoformat(resources(generated, "Composition")[0]["date"]) == datetime.fromisoformat(
        resources(original, "Composition")[0]["date"])


def test_the_extended_notes_example_keeps_its_author(packages: PackageRegistry) -> None:
    original = example(packages, "medcom.fhir.dk.notes", "1.0.0", "Bundle-ba7d908a-0134-4f28-b5f5-0fcaf088e60b.json")
    note = note_from_document(original, clinic_sor="61741000016007", key="n-1", version=3)
    assert (note.key, note.version) == ("n-1", 3)
    assert note.author is not None and note.author.role_code == "speciallaegeipraksis"
    assert note.author.practitioner is not None
    assert note.author.practitioner.identifier_value == "urn:uuid:0ee2db70-d972-4497-a156-0a8109aaa771"
    assert note.clinic.ydernummer == "77410"
    assert note.created == datetime.fromisoformat("2026-12-12T09:05:00Z")
    assert note.updated == datetime.fromisoformat("2026-12-12T14:50:00+01:00")


# ---- refusals -----------------------------------------------------------------------------------

def test_a_document_of_another_clinic_is_refused(packages: PackageRegistry) -> None:
    original = example(packages, "medcom.fhir.dk.conditionlist", "1.0.1",
                       "Bundle-b991dcb7-6f2a-4e56-96f9-6b4b23cb9472.json")
    with pytest.raises(IntakeError) as caught:
        card_from_document(original, clinic_sor="12345678901")
    assert caught.value.path == "Bundle.entry[0].resource.author[0]"
    assert "325381000016008" in caught.value.message
    issue = caught.value.issue()
    assert issue.is_error and issue.expression == caught.value.path
    notes = example(packages, "medcom.fhir.dk.notes", "1.0.0", "Bundle-9521a7f0-bad4-4a46-8c51-cd8378b24106.json")
    with pytest.raises(IntakeError, match="not the submitting clinic"):
        note_from_document(notes, clinic_sor="12345678901")


def _generated_card_document(case: str = "maximum") -> dict[str, Any]:
    return build_conditionlist(CARDS[case], assembled=ASSEMBLED)


@pytest.mark.parametrize(("mutate", "path"), [
    (lambda b: b["entry"][4]["resource"].update(category=[]), "Bundle.entry[4].resource.category"),
    (lambda b: b["entry"][4]["resource"].pop("recordedDate"), "Bundle.entry[4].resource.recordedDate"),
    (lambda b: b["entry"][4]["resource"].update(onsetDateTime="2003"), "Bundle.entry[4].resource.onsetDateTime"),
    (lambda b: b["entry"][4]["resource"].update(recordedDate="2024-01-01T10:00:00"),
     "Bundle.entry[4].resource.recordedDate"),
    (lambda b: b["entry"][1]["resource"].update(identifier=[]), "Bundle.entry[1].resource.identifier"),
    (lambda b: b["entry"][0]["resource"].update(subject={"reference": "urn:uuid:nowhere"}),
     "Bundle.entry[0].resource.subject"),
    (lambda b: b["entry"][0]["resource"]["section"][0].update(entry=[]), "Bundle.entry[0].resource.section"),
    (lambda b: b.update(entry=b["entry"][1:]), "Bundle.entry[0].resource"),
])
def test_what_cannot_be_kept_is_refused_naming_the_element(mutate: Any, path: str) -> None:
    bundle = _generated_card_document()
    mutate(bundle)
    with pytest.raises(IntakeError) as caught:
        card_from_document(bundle, clinic_sor="325381000016008")
    assert caught.value.path == path


def test_a_note_body_that_is_not_base64_is_refused() -> None:
    bundle = build_note_document(NOTES["organization-only"], assembled=ASSEMBLED)
    bundle["entry"][1]["resource"]["extension"][0]["valueAttachment"]["data"] = "@@not base64@@"
    with pytest.raises(IntakeError) as caught:
        note_from_document(bundle, clinic_sor="61741000016007")
    assert caught.value.path == "Bundle.entry[1].resource.extension[0].valueAttachment.data"


# ---- the hub's own documents come back as they went out -----------------------------------------

@pytest.mark.parametrize("case", sorted(CARDS))
def test_generated_cards_read_back_to_the_shared_state(case: str) -> None:
    card = CARDS[case]
    back = card_from_document(build_conditionlist(card, assembled=ASSEMBLED), clinic_sor=card.clinic.sor)
    assert (back.patient, back.clinic, back.approval) == (card.patient, card.clinic, card.approval)
    assert back.updated == card.updated
    shared = ConditionCard(card.patient, card.clinic, card.diagnoses, card.updated, card.approval)
    expected = [(d.sks, d.icpc2, d.text, d.status, d.kind, d.recorded, d.onset, d.abatement, d.other_codes)
                for d in shared.diagnoses]
    assert [(d.sks, d.icpc2, d.text, d.status, d.kind, d.recorded, d.onset, d.abatement, d.other_codes)
            for d in back.diagnoses] == expected
    assert all(d.internal_note is None for d in back.diagnoses)  # never shared, so never read back


@pytest.mark.parametrize("case", sorted(NOTES))
def test_generated_notes_read_back_to_the_note(case: str) -> None:
    note = NOTES[case]
    back = note_from_document(build_note_document(note, assembled=ASSEMBLED), clinic_sor=note.clinic.sor,
                              key=note.key, version=note.version)
    assert back == note
