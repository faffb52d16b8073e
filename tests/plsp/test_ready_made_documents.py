"""The official MedCom examples submitted as ready-made documents (``POST /plsp/documents``)."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest
from fastapi.testclient import TestClient
from plsp_support import CL_TYPE, NOTE_TYPE, Reader, note_text, plsp, resources

from nsp_sandbox.conformance.validator import Validator
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.plsp_client import PlspError

CONDITIONLISTS = ("23d8ece4-7cff-47c1-9680-571377c6ea74", "7ffa0111-1aa2-4d68-99f8-1fbf57448c8c",
                  "96d37376-e176-4c6a-9c49-2b56e7aae665", "9d923ef7-c817-4e41-a0c2-01c80e8bde0c",
                  "a4630688-dc6b-4484-9ef7-b9a08148c407", "b991dcb7-6f2a-4e56-96f9-6b4b23cb9472",
                  "df3915a2-6f88-4dea-955a-1b0008b23853")
NOTES = ("9521a7f0-bad4-4a46-8c51-cd8378b24106", "ba7d908a-0134-4f28-b5f5-0fcaf088e60b")
TESTCENTER = "system-lps-medcom-testcenter"  # MedCom Testcenter, the ConditionList examples' clinic
HASSERIS = "system-lps-hasseris"  # Lægerne Hasseris Bymidte, the Notes examples' clinic


def example(packages: Any, name: str, bundle_id: str) -> dict[str, Any]:
    package = packages.get(name)
    assert package is not None, f"{name} is not loaded"
    return copy.deepcopy(package.load(f"example/Bundle-{bundle_id}.json"))  # type: ignore[no-any-return]


@pytest.mark.parametrize("bundle_id", CONDITIONLISTS)
def test_each_official_conditionlist_is_taken(client: TestClient, clock: SandboxContext, packages: Any,
                                              bundle_id: str) -> None:
    bundle = example(packages, "medcom.fhir.dk.conditionlist", bundle_id)
    answer = plsp(client, TESTCENTER).submit_document(bundle)
    status = answer["card"]
    assert answer["kind"] == "conditionlist" and status["version"] == 1
    cpr = status["cpr"]
    approved = bundle_id.startswith("23d8ece4")  # the only example with an official attester who is a person
    assert status["approved"] is approved and status["shared"] is approved
    if approved:
        document = Reader(client, f"citizen-{cpr}").document(
            Reader(client, f"citizen-{cpr}").search(cpr=cpr, type_code=CL_TYPE)[0])
        assert not any("note" in c for c in resources(document, "Condition"))  # the example's notes: not shared


@pytest.mark.parametrize("bundle_id", NOTES)
def test_each_official_note_is_taken_and_served_valid(client: TestClient, clock: SandboxContext, packages: Any,
                                                      validator: Validator, bundle_id: str) -> None:
    bundle = example(packages, "medcom.fhir.dk.notes", bundle_id)
    answer = plsp(client, HASSERIS).submit_document(bundle)
    assert answer["kind"] == "note" and answer["note"]["shared"]
    doctor = Reader(client, "gp-hasseris")
    found = doctor.search(cpr="3001749995", type_code=NOTE_TYPE)
    assert len(found) == 1
    document = doctor.document(found[0])
    assert [i.diagnostics for i in validator.validate(document) if i.is_error] == []
    assert "mmHg" in note_text(document) or "BT" in note_text(document)


def test_a_document_of_another_clinic_is_refused(client: TestClient, clock: SandboxContext, packages: Any) -> None:
    bundle = example(packages, "medcom.fhir.dk.notes", NOTES[0])
    with pytest.raises(PlspError) as refused:
        plsp(client, TESTCENTER).submit_document(bundle)
    assert refused.value.status == 422 and "plsp-document-intake" in refused.value.rules()[0]


def test_a_document_failing_its_profile_is_refused_with_paths(client: TestClient, clock: SandboxContext,
                                                              packages: Any) -> None:
    bundle = example(packages, "medcom.fhir.dk.conditionlist", CONDITIONLISTS[5])
    condition = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Condition")
    condition["category"] = [c for c in condition["category"]
                             if c["coding"][0]["system"] != "http://snomed.info/sct"]  # category:status missing
    with pytest.raises(PlspError) as refused:
        plsp(client, TESTCENTER).submit_document(bundle)
    assert refused.value.status == 422
    index = next(i for i, e in enumerate(bundle["entry"]) if e["resource"] is condition)
    assert any(f"Bundle.entry[{index}].resource.category" in i.get("expression", []) and
               "category:status" in i["diagnostics"] for i in refused.value.issues)


def test_one_note_per_document(client: TestClient, clock: SandboxContext, packages: Any) -> None:
    bundle = example(packages, "medcom.fhir.dk.notes", NOTES[0])
    observation = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation")
    second = copy.deepcopy(observation)
    second["fullUrl"] = second["fullUrl"].replace(second["resource"]["id"], "5b0e8a58-4d53-4a55-8d0c-2f4f0d1a1c11")
    second["resource"]["id"] = "5b0e8a58-4d53-4a55-8d0c-2f4f0d1a1c11"
    bundle["entry"].append(second)
    with pytest.raises(PlspError) as refused:
        plsp(client, HASSERIS).submit_document(bundle)
    assert refused.value.rules()[0].startswith(f"plsp-note-one-per-document @ Bundle.entry[{len(bundle['entry']) - 1}]")


def test_a_blank_note_document_is_refused(client: TestClient, clock: SandboxContext, packages: Any) -> None:
    bundle = example(packages, "medcom.fhir.dk.notes", NOTES[0])
    observation = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation")
    for extension in observation["extension"]:
        if "valueAttachment" in extension:
            extension["valueAttachment"]["data"] = base64.b64encode(b" ").decode()
    with pytest.raises(PlspError) as refused:
        plsp(client, HASSERIS).submit_document(bundle)
    assert any(r.startswith("plsp-note-blank") for r in refused.value.rules())


def test_not_a_document(client: TestClient, clock: SandboxContext) -> None:
    with pytest.raises(PlspError) as refused:
        plsp(client, HASSERIS).submit_document({"resourceType": "Patient"})
    assert refused.value.status == 422 and "plsp-document-kind" in refused.value.rules()[0]


def test_codes_of_other_systems_and_without_a_system_survive_the_hub(client: TestClient, clock: SandboxContext,
                                                                    packages: Any) -> None:
    bundle = example(packages, "medcom.fhir.dk.conditionlist", CONDITIONLISTS[0])  # approved: it is shared
    condition = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Condition")
    condition["code"]["coding"] += [{"system": "http://snomed.info/sct", "code": "44054006"}, {"code": "ACB"}]
    status = plsp(client, TESTCENTER).submit_document(bundle)["card"]
    cpr = status["cpr"]
    reader = Reader(client, f"citizen-{cpr}")
    document = reader.document(reader.search(cpr=cpr, type_code=CL_TYPE)[0])
    codings = [c for r in resources(document, "Condition") for c in r.get("code", {}).get("coding", [])]
    assert {"system": "http://snomed.info/sct", "code": "44054006"} in codings
    assert {"code": "ACB"} in codings


def test_a_ready_made_note_with_hostile_html_is_reduced_and_says_what_went(client: TestClient, clock: SandboxContext,
                                                                          packages: Any) -> None:
    bundle = example(packages, "medcom.fhir.dk.notes", NOTES[0])
    observation = resources(bundle, "Observation")[0]
    hostile = '<p>BT 138/82<script>alert(1)</script><img src=x onerror="alert(2)"/></p>'
    for ext in observation["extension"]:
        if "valueAttachment" in ext:
            ext["valueAttachment"]["data"] = base64.b64encode(hostile.encode()).decode()
    answer = plsp(client, HASSERIS).submit_document(bundle)
    reduced = [w for w in answer["note"]["issues"] if "plsp-note-html-reduced" in str(w)]
    assert reduced and "<script>" in str(reduced[0])
    doctor = Reader(client, "gp-hasseris")
    served = note_text(doctor.document(doctor.search(cpr="3001749995", type_code=NOTE_TYPE)[0]))
    assert "BT 138/82" in served and "script" not in served and "onerror" not in served
