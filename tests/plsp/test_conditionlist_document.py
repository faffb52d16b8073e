"""The hub's ConditionList 1.0.1 documents: valid against the official profile, and true to the card.

Each card of MedCom's send-test cases is generated and validated with the conformance engine
against ``medcom-conditionlist-bundle`` (zero errors); the TestScript assertions that apply to a
sender (dk-medcom-ConditionList-test-scripts) are checked on the result.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from plsp_document_cases import ASBESTOS, ASSEMBLED, BO, CARDS, DIABETES, HASSERIS, card

from nsp_sandbox.conformance.validator import Validator
from services.plsp_hub.conditionlist_document import build_conditionlist
from services.plsp_hub.state import Approval, ConditionCard, Diagnosis

BUNDLE_PROFILE = "http://medcomfhir.dk/ig/conditionlist/StructureDefinition/medcom-conditionlist-bundle"
SKS_D = "urn:oid:1.2.208.176.2.4.12"
ICPC2 = "urn:oid:1.2.208.176.2.31"
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def errors(validator: Validator, bundle: dict[str, Any]) -> list[str]:
    return [f"{i.expression} [{i.rule}] {i.diagnostics}" for i in validator.validate(bundle) if i.is_error]


def resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def composition(bundle: dict[str, Any]) -> dict[str, Any]:
    first = bundle["entry"][0]["resource"]
    assert first["resourceType"] == "Composition"
    return first


def by_ref(bundle: dict[str, Any], ref: dict[str, str]) -> dict[str, Any]:
    return next(e["resource"] for e in bundle["entry"] if e["fullUrl"] == ref["reference"])


@pytest.mark.parametrize("case", sorted(CARDS))
def test_send_test_cards_validate_with_zero_errors(validator: Validator, case: str) -> None:
    bundle = build_conditionlist(CARDS[case], assembled=ASSEMBLED)
    assert bundle["meta"]["profile"] == [BUNDLE_PROFILE]
    assert errors(validator, bundle) == []


def test_validation_is_not_vacuous(validator: Validator) -> None:
    """The profile is really walked: a Condition without category:status is an error."""
    bundle = build_conditionlist(CARDS["minimal"], assembled=ASSEMBLED)
    condition = resources(bundle, "Condition")[0]
    condition["category"] = [c for c in condition["category"] if c["coding"][0]["system"] != "http://snomed.info/sct"]
    assert errors(validator, bundle) != []


@pytest.mark.parametrize("case", sorted(CARDS))
def test_test_script_assertions_hold(case: str) -> None:
    the_card = CARDS[case]
    bundle = build_conditionlist(the_card, assembled=ASSEMBLED)
    comp = composition(bundle)
    conditions = resources(bundle, "Condition")
    # BundleTimestamp-Not-Equal-To-CompositionDate
    assert bundle["timestamp"] != comp["date"]
    # NoteText-Not-Present
    assert all("note" not in c for c in conditions)
    # MultipleConditions-Unique-Condition-Id
    refs = [e["reference"] for e in comp["section"][0]["entry"]]
    assert len(set(refs)) == len(refs) == len(the_card.diagnoses)
    assert len({c["id"] for c in conditions}) == len(conditions)
    # MultipleConditions-Unique-Timestamp
    for c in conditions:
        assert bundle["timestamp"] not in {c.get("recordedDate"), c.get("onsetDateTime"), c.get("abatementDateTime")}
    # general content (send protocol 3.4)
    assert bundle["id"] != bundle["identifier"]["value"].removeprefix("urn:uuid:")
    assert bundle["type"] == "document"
    assert [e["resource"]["resourceType"] for e in bundle["entry"]].count("Composition") == 1
    assert all(by_ref(bundle, ref)["resourceType"] == "Condition" for ref in comp["section"][0]["entry"])
    assert comp["confidentiality"] == "N" and comp["status"] == "final" and comp["language"] == "da"
    assert comp["type"]["coding"][0]["code"] == "11450-4"
    assert comp["title"] == f"Diagnoseoversigt for {the_card.patient.cpr}"
    patient = by_ref(bundle, comp["subject"])
    assert patient["identifier"] == [{"system": "urn:oid:1.2.208.176.1.2", "value": the_card.patient.cpr}]
    assert {"name", "gender", "birthDate"} <= patient.keys()
    assert all(r["resource"].get("text", {}).get("div") for r in bundle["entry"])


def test_internal_note_is_never_shared_not_even_in_a_narrative() -> None:
    bundle = build_conditionlist(card(ASBESTOS, DIABETES), assembled=ASSEMBLED)
    assert "Rygning og asbest" not in json.dumps(bundle, ensure_ascii=False)
    assert all("note" not in c for c in resources(bundle, "Condition"))


def test_composition_date_is_the_card_update_and_timestamp_the_assembly() -> None:
    bundle = build_conditionlist(CARDS["minimal"], assembled=datetime(2024, 5, 7, 8, 0, 5, tzinfo=UTC))
    assert composition(bundle)["date"] == "2024-05-06T11:15:00+02:00"
    assert bundle["timestamp"] == "2024-05-07T10:00:05+02:00"


def test_abatement_makes_the_condition_resolved() -> None:
    bundle = build_conditionlist(CARDS["resolved-with-abatement"], assembled=ASSEMBLED)
    (condition,) = resources(bundle, "Condition")
    assert condition["clinicalStatus"]["coding"][0]["code"] == "resolved"
    assert condition["abatementDateTime"] == "2024-05-06"
    active = build_conditionlist(CARDS["minimal"], assembled=ASSEMBLED)
    assert resources(active, "Condition")[0]["clinicalStatus"]["coding"][0]["code"] == "active"


def test_status_and_type_categories() -> None:
    bundle = build_conditionlist(card(DIABETES, ASBESTOS), assembled=ASSEMBLED)
    codes = [{(c["coding"][0]["system"], c["coding"][0]["code"]) for c in cond["category"]}
             for cond in resources(bundle, "Condition")]
    condition_category = "http://terminology.hl7.org/CodeSystem/condition-category"
    assert codes == [
        {(condition_category, "problem-list-item"), ("http://snomed.info/sct", "15240007")},
        {(condition_category, "encounter-diagnosis"), ("http://snomed.info/sct", "723506003")},
    ]


def test_codes_carry_no_invented_display_and_text_is_the_diagnosis_text() -> None:
    bundle = build_conditionlist(CARDS["maximum"], assembled=ASSEMBLED)
    first = resources(bundle, "Condition")[0]
    assert first["code"] == {"coding": [{"system": SKS_D, "code": "DE119a"}, {"system": ICPC2, "code": "T90"}],
                             "text": "Type 2-diabetes"}
    text_only = resources(build_conditionlist(CARDS["text-only"], assembled=ASSEMBLED), "Condition")[0]
    assert text_only["code"] == {"text": "KOL"}
    empty = resources(build_conditionlist(CARDS["no-code-no-text"], assembled=ASSEMBLED), "Condition")[0]
    assert "code" not in empty and empty["recordedDate"] == "2021-06-15"
    other = resources(build_conditionlist(CARDS["other-and-systemless-codes"], assembled=ASSEMBLED), "Condition")[0]
    assert other["code"]["coding"] == [{"system": "http://snomed.info/sct", "code": "238131007"}, {"code": "ACB"}]


def test_date_only_values_stay_dates_and_datetimes_carry_the_danish_offset() -> None:
    bundle = build_conditionlist(CARDS["maximum"], assembled=ASSEMBLED)
    first, second, third = resources(bundle, "Condition")
    assert (first["recordedDate"], first["onsetDateTime"]) == ("2023-03-15", "2020-02-20")
    assert second["recordedDate"] == "2023-05-01T09:30:00+02:00"
    assert second["onsetDateTime"] == "2003-02-01T08:00:00+01:00"
    assert third["recordedDate"] == "2024-01-17T10:00:00+01:00"


def test_several_diagnoses_keep_distinct_recorded_dates() -> None:
    bundle = build_conditionlist(CARDS["several-recorded-dates"], assembled=ASSEMBLED)
    recorded = [c["recordedDate"] for c in resources(bundle, "Condition")]
    assert len(set(recorded)) == len(recorded) == 3


def test_authors_and_attester() -> None:
    bundle = build_conditionlist(CARDS["maximum"], assembled=ASSEMBLED)
    comp = composition(bundle)
    organization = by_ref(bundle, comp["author"][0])
    assert organization["identifier"] == [{"system": "urn:oid:1.2.208.176.1.1", "value": "325381000016008"},
                                          {"system": "urn:oid:1.2.208.176.1.4", "value": "091034"}]
    assert organization["name"] == "MedCom Testcenter"
    person = by_ref(bundle, comp["author"][1])
    assert person["resourceType"] == "Practitioner" and person["name"][0]["family"] == "Vestergaard"
    assert comp["attester"] == [{"mode": "official", "time": "2024-05-06T11:00:00+02:00",
                                 "party": comp["author"][1]}]
    unapproved = composition(build_conditionlist(CARDS["minimal"], assembled=ASSEMBLED))
    assert "attester" not in unapproved and len(unapproved["author"]) == 1


def test_protected_names_are_kept_as_placeholders() -> None:
    bundle = build_conditionlist(CARDS["address-protection"], assembled=ASSEMBLED)
    (patient,) = resources(bundle, "Patient")
    assert patient["name"] == [{"use": "official", "family": "ADRESSEBESKYTTET",
                                "given": ["ADRESSEBESKYTTET", "ADRESSEBESKYTTET"]}]


def test_narratives_escape_the_data() -> None:
    bundle = build_conditionlist(CARDS["escaped-text"], assembled=ASSEMBLED)
    (condition,) = resources(bundle, "Condition")
    assert "<script>" not in condition["text"]["div"]
    assert "&lt;script&gt;" in condition["text"]["div"]
    assert condition["code"]["text"] == 'Allergi <script>alert("x")</script> & mere'


def test_bundle_identifiers_are_fresh_on_every_call() -> None:
    bundles = [build_conditionlist(CARDS["maximum"], assembled=ASSEMBLED) for _ in range(3)]
    ids = {b["id"] for b in bundles}
    identifiers = {b["identifier"]["value"] for b in bundles}
    assert len(ids) == len(identifiers) == 3
    for b in bundles:
        assert UUID4.match(b["id"])
        assert b["identifier"]["system"] == "urn:ietf:rfc:3986"
        assert UUID4.match(b["identifier"]["value"].removeprefix("urn:uuid:"))
        assert b["identifier"]["value"] != f"urn:uuid:{b['id']}"


def _stable_parts(bundle: dict[str, Any]) -> dict[str, Any]:
    return {kind: [(r["id"], r.get("identifier")) for r in resources(bundle, kind)]
            for kind in ("Patient", "Organization", "Practitioner")}


def test_patient_organization_and_practitioner_identity_is_stable_across_versions() -> None:
    first = build_conditionlist(CARDS["maximum"], assembled=ASSEMBLED)
    changed = ConditionCard(CARDS["maximum"].patient, CARDS["maximum"].clinic, CARDS["maximum"].diagnoses[:1],
                            updated=datetime(2024, 6, 1, 9, 0, tzinfo=UTC),
                            approval=Approval(BO, datetime(2024, 6, 1, 9, 0, tzinfo=UTC)))
    second = build_conditionlist(changed, assembled=datetime(2024, 6, 2, tzinfo=UTC))
    assert _stable_parts(first) == _stable_parts(second)
    assert all(uuid.UUID(rid) for parts in _stable_parts(first).values() for rid, _ in parts)


def test_condition_ids_are_stable_per_clinic_and_diagnosis() -> None:
    one = resources(build_conditionlist(card(DIABETES, ASBESTOS), assembled=ASSEMBLED), "Condition")
    again = resources(build_conditionlist(card(ASBESTOS, DIABETES), assembled=ASSEMBLED), "Condition")
    assert {c["id"] for c in one} == {c["id"] for c in again}
    elsewhere = resources(build_conditionlist(card(DIABETES, clinic=HASSERIS), assembled=ASSEMBLED), "Condition")
    assert elsewhere[0]["id"] not in {c["id"] for c in one}


def test_an_empty_card_gives_no_document() -> None:
    with pytest.raises(ValueError, match="empty"):
        build_conditionlist(card(), assembled=ASSEMBLED)


def test_duplicate_diagnosis_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="distinct keys"):
        build_conditionlist(card(DIABETES, Diagnosis("dx-t90", date(2024, 1, 1), "current")), assembled=ASSEMBLED)
