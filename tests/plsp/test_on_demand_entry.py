"""The On-Demand DocumentReferences the hub registers in DDS, and their ITI-65 registration Bundle."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from plsp_document_cases import CARDS, NOTES, SIDSEL

from nsp_sandbox.config import Settings
from nsp_sandbox.conformance.validator import Validator
from services.dds.metadata_rules import check_document_reference
from services.plsp_hub.on_demand_entry import (
    conditionlist_entry,
    note_entry,
    note_unique_id,
    registration_bundle,
)

R4_DOCUMENT_REFERENCE = "http://hl7.org/fhir/StructureDefinition/DocumentReference"
CREATED = datetime(2024, 5, 6, 9, 15, 30, tzinfo=UTC)
URL = "https://plsp.sandbox.test/plsp/on-demand/"


def cl_entry(case: str = "maximum", **overrides: Any) -> dict[str, Any]:
    args = {"url": URL + "conditionlist/2509479989", "entry_uuid": str(uuid.uuid4()),
            "unique_id": f"urn:uuid:{uuid.uuid4()}", "created": CREATED, **overrides}
    return conditionlist_entry(CARDS[case], **args)


def n_entry(case: str = "practitioner-and-role", **overrides: Any) -> dict[str, Any]:
    the_note = NOTES[case]
    args = {"url": URL + "notes/" + the_note.key, "entry_uuid": f"urn:uuid:{uuid.uuid4()}",
            "unique_id": note_unique_id(the_note), **overrides}
    return note_entry(the_note, **args)


def contained(dr: dict[str, Any], ref: dict[str, str]) -> dict[str, Any]:
    return next(c for c in dr["contained"] if f"#{c['id']}" == ref["reference"])


def errors(validator: Validator, resource: dict[str, Any], profile: str | None = None) -> list[str]:
    return [f"{i.expression} [{i.rule}] {i.diagnostics}" for i in validator.validate(resource, profile)
            if i.is_error]


ENTRIES = {
    "conditionlist-approved": lambda: cl_entry("maximum"),
    "conditionlist-unapproved": lambda: cl_entry("minimal"),
    "conditionlist-protected": lambda: cl_entry("address-protection"),
    "note-full-author": lambda: n_entry("practitioner-and-role"),
    "note-organization-only": lambda: n_entry("organization-only"),
    "note-with-end": lambda: n_entry("with-end-winter-time"),
}


@pytest.mark.parametrize("case", sorted(ENTRIES))
def test_entries_are_valid_r4_document_references(validator: Validator, case: str) -> None:
    dr = ENTRIES[case]()
    assert errors(validator, dr, R4_DOCUMENT_REFERENCE) == []


@pytest.mark.parametrize("case", sorted(ENTRIES))
def test_entries_pass_the_danish_xds_metadata_rules_of_dds(validator: Validator, case: str) -> None:
    dr = ENTRIES[case]()
    issues = check_document_reference(dr, terminology=validator.terminology, settings=Settings())
    # MedCom has published no Notes formatCode: the sandbox's choice is in no national value set.
    allowed = {"dk-xds-format-code-valueset"} if case.startswith("note") else set()
    assert [f"{i.expression} [{i.rule}] {i.diagnostics}" for i in issues if i.is_error and i.rule not in allowed] == []
    del dr["context"]["facilityType"]  # the rules are really applied
    assert any(i.is_error for i in check_document_reference(dr, terminology=validator.terminology,
                                                            settings=Settings()))


@pytest.mark.parametrize("case", sorted(ENTRIES))
def test_entries_are_on_demand_no_hash_size_or_data(case: str) -> None:
    dr = ENTRIES[case]()
    (content,) = dr["content"]
    attachment = content["attachment"]
    assert not {"hash", "size", "data"} & attachment.keys()
    assert attachment["url"].startswith(URL)
    assert attachment["contentType"] == "application/fhir+json"
    assert attachment["language"] == "da"
    assert dr["status"] == "current"
    assert dr["securityLabel"][0]["coding"][0]["code"] == "N"
    assert dr["category"][0]["coding"][0]["code"] == "001"
    assert dr["context"]["facilityType"]["coding"][0]["code"] == "394761003"
    assert dr["context"]["practiceSetting"]["coding"][0]["code"] == "408443003"
    institution = contained(dr, dr["author"][0])
    assert institution["resourceType"] == "Organization"
    assert institution["identifier"][0]["system"] == "urn:oid:1.2.208.176.1.1" and institution["name"]
    patient = contained(dr, dr["context"]["sourcePatientInfo"])
    assert {"identifier", "name", "gender", "birthDate"} <= patient.keys()
    assert contained(dr, dr["subject"]) is patient


def test_conditionlist_entry_metadata() -> None:
    entry_uuid = str(uuid.uuid4())
    dr = cl_entry("maximum", entry_uuid=entry_uuid, unique_id="urn:uuid:bf1bb63b-d405-4dfe-9810-37b16b333a01")
    assert dr["id"] == entry_uuid
    assert dr["identifier"][0]["value"] == f"urn:uuid:{entry_uuid}"
    assert dr["masterIdentifier"]["value"] == "urn:uuid:bf1bb63b-d405-4dfe-9810-37b16b333a01"
    assert dr["type"]["coding"] == [{"system": "http://loinc.org", "code": "11450-4",
                                     "display": "Problem list - Reported"}]
    assert dr["content"][0]["format"]["system"] == "urn:oid:1.2.208.184.100.10"
    assert dr["content"][0]["format"]["code"] == "urn:ad:dk:medcom:plr-v1.0:full"
    assert dr["content"][0]["attachment"]["title"] == "Diagnoseoversigt for 2509479989"
    assert dr["content"][0]["attachment"]["creation"] == "2024-05-06T11:15:30+02:00"
    assert "period" not in dr["context"]
    person = contained(dr, dr["author"][1])
    assert person["resourceType"] == "Practitioner" and person["name"][0]["family"] == "Vestergaard"
    assert dr["authenticator"] == dr["author"][1]
    assert contained(dr, dr["author"][0])["identifier"][1] == {"system": "urn:oid:1.2.208.176.1.4",
                                                               "value": "091034"}
    unapproved = cl_entry("minimal")
    assert len(unapproved["author"]) == 1 and "authenticator" not in unapproved


def test_note_entry_metadata() -> None:
    the_note = NOTES["updated"]
    dr = note_entry(the_note, url=URL + "n", entry_uuid=str(uuid.uuid4()), unique_id=note_unique_id(the_note))
    assert dr["type"]["coding"] == [{"system": "http://snomed.info/sct", "code": "866144008",
                                     "display": "Encounter note"}]
    assert dr["content"][0]["format"] == {
        "system": "urn:ietf:rfc:3986",
        "code": "http://medcomfhir.dk/ig/notes/StructureDefinition/medcom-notes-composition|1.0"}
    assert dr["content"][0]["attachment"]["title"] == "Journalnotat for 2509479989"
    assert dr["context"]["period"] == {"start": "2026-05-05T10:11:00+02:00"}
    assert dr["content"][0]["attachment"]["creation"] == "2026-05-06T07:32:00+02:00"
    person = contained(dr, dr["author"][1])
    assert person["identifier"] == [{"system": SIDSEL.identifier_system, "value": SIDSEL.identifier_value}]
    assert "authenticator" not in dr
    assert note_unique_id(the_note) != note_unique_id(NOTES["practitioner-and-role"])  # a new version, a new id
    org_only = n_entry("organization-only")
    assert len(org_only["author"]) == 1


def test_relative_urls_and_non_uuid_entry_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="absolute"):
        cl_entry(url="/plsp/on-demand/x")
    with pytest.raises(ValueError):
        cl_entry(entry_uuid="not-a-uuid")


def test_registration_bundle_holds_the_submission_set_and_entries_only(validator: Validator) -> None:
    entries = [cl_entry("maximum"), note_entry(NOTES["updated"], url=URL + "n", entry_uuid=str(uuid.uuid4()),
                                               unique_id=note_unique_id(NOTES["updated"]))]
    bundle = registration_bundle(entries, source_id="urn:oid:1.2.208.176.43210.8.1",
                                 submitted=datetime(2026, 5, 6, 6, 0, tzinfo=UTC), patient_cpr="2509479989")
    assert bundle["type"] == "transaction"
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds == ["List", "DocumentReference", "DocumentReference"]
    submission_set = bundle["entry"][0]["resource"]
    assert submission_set["code"]["coding"][0]["code"] == "submissionset"
    assert submission_set["subject"]["identifier"] == {"system": "urn:oid:1.2.208.176.1.2", "value": "2509479989"}
    assert submission_set["date"] == "2026-05-06T08:00:00+02:00"
    assert [m["item"]["reference"] for m in submission_set["entry"]] == [e["fullUrl"] for e in bundle["entry"][1:]]
    assert all(e["request"] == {"method": "POST", "url": e["resource"]["resourceType"]} for e in bundle["entry"])
    assert errors(validator, bundle) == []


def test_registration_bundle_refuses_other_patients_and_stored_content() -> None:
    with pytest.raises(ValueError, match="not about patient"):
        registration_bundle([cl_entry("maximum")], source_id="x", submitted=CREATED, patient_cpr="3001749995")
    stored = cl_entry("maximum")
    stored["content"][0]["attachment"]["size"] = 10
    with pytest.raises(ValueError, match="On-Demand"):
        registration_bundle([stored], source_id="x", submitted=CREATED, patient_cpr="2509479989")
    relative = cl_entry("maximum")
    relative["content"][0]["attachment"]["url"] = "Binary/123"
    with pytest.raises(ValueError, match="absolute"):
        registration_bundle([relative], source_id="x", submitted=CREATED, patient_cpr="2509479989")
    with pytest.raises(ValueError):
        registration_bundle([], source_id="x", submitted=CREATED, patient_cpr="2509479989")
