"""ITI-65 Provide Document Bundle: what is stored, what is refused, and that refusal stores nothing."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from fastapi.testclient import TestClient
from mhd_client import (
    CPR,
    CPR_SYSTEM,
    FHIR_JSON,
    OTHER_CPR,
    Mhd,
    about,
    expressions,
    ihe_codes,
    issues_of,
    sha1_b64,
)

from nsp_sandbox.config import Strictness
from nsp_sandbox.context import SandboxContext
from sandbox.app import create_sandbox_app


def test_provide_registers_entry_submission_set_and_document(mhd: Mhd) -> None:
    dr = mhd.document_reference()
    unique_id = dr["masterIdentifier"]["value"]
    bundle = mhd.bundle((dr, mhd.examples.hco))
    response = mhd.post(bundle)

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["resourceType"] == "Bundle" and answer["type"] == "transaction-response"
    statuses = [e["response"]["status"] for e in answer["entry"]]
    assert statuses == ["201 Created"] * 3  # List, DocumentReference, Binary: request order
    list_location, dr_location, binary_location = (e["response"]["location"] for e in answer["entry"])
    assert list_location.startswith("List/") and dr_location.startswith("DocumentReference/")

    stored = mhd.read(dr_location.split("/")[1])
    assert stored["status"] == "current"
    assert stored["masterIdentifier"]["value"] == unique_id
    attachment = stored["content"][0]["attachment"]
    assert attachment["size"] == len(mhd.examples.hco)
    assert attachment["hash"] == sha1_b64(mhd.examples.hco)
    assert attachment["url"] == binary_location
    assert attachment["url"].startswith("http://sandbox.test/dds/")
    assert "data" not in attachment

    submission = mhd.client.get(f"/dds/fhir/{list_location}").json()
    assert submission["entry"] == [{"item": {"reference": dr_location}}]
    assert submission["subject"]["identifier"]["value"] == CPR


def test_retrieve_is_byte_exact_with_etag(mhd: Mhd) -> None:
    entry_id = mhd.provide_hco()
    url = mhd.read(entry_id)["content"][0]["attachment"]["url"]

    response = mhd.client.get(url)
    assert response.status_code == 200
    assert response.content == mhd.examples.hco
    assert response.headers["content-type"].startswith(FHIR_JSON)
    assert response.headers["etag"] == f'"{hashlib.sha1(mhd.examples.hco).hexdigest()}"'
    again = mhd.client.get(url, headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert mhd.client.get(url, headers={"If-None-Match": '"0000"'}).status_code == 200


def _general_practice(dr: dict[str, Any], type_coding: dict[str, str], format_coding: dict[str, str]) -> None:
    """Turn the HCO-modelled DocumentReference into one for a GP document (not the HCO profile)."""
    del dr["meta"]
    dr["type"] = {"coding": [type_coding]}
    dr["content"][0]["format"] = format_coding
    dr["context"]["facilityType"] = {"coding": [{"system": "http://snomed.info/sct", "code": "394761003"}]}
    dr["context"]["practiceSetting"] = {"coding": [{"system": "http://snomed.info/sct", "code": "408443003"}]}


def test_document_bundles_inline_and_several_per_submission(lenient_context: SandboxContext, mhd: Mhd) -> None:
    # Notes has no published formatCode yet, so this test does not apply the code lists.
    lenient_context.settings = lenient_context.settings.model_copy(update={
        "validation_profile": Strictness.REJECT, "dds_rules_patient": Strictness.REJECT,
        "dds_rules_metadata": Strictness.REJECT, "dds_rules_author": Strictness.REJECT})
    condition_list = mhd.document_reference(cpr=OTHER_CPR)
    _general_practice(condition_list, {"system": "http://loinc.org", "code": "11450-4"},
                      {"system": "urn:oid:1.2.208.184.100.10", "code": "urn:ad:dk:medcom:plr-v1.0:full"})
    notes = mhd.document_reference(cpr=OTHER_CPR)
    _general_practice(notes, {"system": "http://snomed.info/sct", "code": "866144008"},
                      {"system": "urn:oid:1.2.208.184.100.10", "code": "urn:ad:dk:medcom:notes-v1.0:full"})
    ids = mhd.provide((notes, mhd.examples.notes), (condition_list, mhd.examples.condition_list),
                      cpr=OTHER_CPR, inline=True)
    assert len(ids) == 2
    for entry_id, content in zip(ids, (mhd.examples.notes, mhd.examples.condition_list), strict=True):
        url = mhd.read(entry_id)["content"][0]["attachment"]["url"]
        assert mhd.client.get(url).content == about(content, OTHER_CPR)


def test_matching_size_and_hash_are_accepted_and_wrong_ones_refused(mhd: Mhd) -> None:
    good = mhd.document_reference()
    good["content"][0]["attachment"].update(size=len(mhd.examples.hco), hash=sha1_b64(mhd.examples.hco))
    assert mhd.post(mhd.bundle((good, mhd.examples.hco))).status_code == 200

    bad = mhd.document_reference()
    bad["content"][0]["attachment"].update(size=17, hash=hashlib.sha1(mhd.examples.hco).hexdigest())
    response = mhd.post(mhd.bundle((bad, mhd.examples.hco)))
    assert response.status_code == 422
    assert {"Bundle.entry[1].resource.content[0].attachment.size",
            "Bundle.entry[1].resource.content[0].attachment.hash"} <= expressions(response)
    assert "XDSRepositoryMetadataError" in ihe_codes(response)
    assert "looks like hex" in response.text
    assert len(mhd.found_ids(**{"patient.identifier": f"{CPR_SYSTEM}|{CPR}", "status": "current"})) == 1


def test_duplicate_unique_id_in_registry_is_a_conflict(mhd: Mhd) -> None:
    first = mhd.document_reference()
    mhd.provide((first, mhd.examples.hco))
    again = mhd.document_reference(unique_id=first["masterIdentifier"]["value"])
    response = mhd.post(mhd.bundle((again, mhd.examples.hco)))
    assert response.status_code == 409
    assert ihe_codes(response) == {"XDSDuplicateUniqueIdInRegistry"}
    assert "Bundle.entry[1].resource.masterIdentifier" in expressions(response)


def test_duplicate_unique_id_in_message(mhd: Mhd) -> None:
    one = mhd.document_reference()
    two = mhd.document_reference(unique_id=one["masterIdentifier"]["value"])
    response = mhd.post(mhd.bundle((one, mhd.examples.hco), (two, mhd.examples.hco)))
    assert response.status_code == 422
    assert "XDSRegistryDuplicateUniqueIdInMessage" in ihe_codes(response)
    assert mhd.found_ids(**{"patient.identifier": CPR, "status": "current"}) == []


def test_one_bad_document_reference_stores_nothing(mhd: Mhd) -> None:
    good = mhd.document_reference()
    bad = mhd.document_reference()
    bad["relatesTo"] = [{"code": "replaces", "target": {"reference": "DocumentReference/no-such-entry"}}]
    response = mhd.post(mhd.bundle((good, mhd.examples.hco), (bad, mhd.examples.hco)))
    assert response.status_code == 422
    assert "XDSMissingDocument" in ihe_codes(response)
    assert "Bundle.entry[2].resource.relatesTo[0].target" in expressions(response)
    assert mhd.found_ids(**{"patient.identifier": CPR, "status": "current,superseded"}) == []
    lists = mhd.client.get("/dds/fhir/List", params={"patient.identifier": CPR}).json()
    assert lists["total"] == 0
    # the good entry's uniqueId is still free
    mhd.provide((good, mhd.examples.hco))


def test_patient_of_entry_must_be_that_of_the_submission_set(mhd: Mhd) -> None:
    dr = mhd.document_reference(cpr=OTHER_CPR)
    response = mhd.post(mhd.bundle((dr, mhd.examples.hco), cpr=CPR))
    assert response.status_code == 422
    assert "XDSPatientIdDoesNotMatch" in ihe_codes(response)
    assert "Bundle.entry[1].resource.subject" in expressions(response)


def test_missing_document_and_unreferenced_binary(mhd: Mhd) -> None:
    dr = mhd.document_reference()
    bundle = mhd.bundle((dr, mhd.examples.hco))
    dr["content"][0]["attachment"]["url"] = "urn:uuid:00000000-0000-4000-8000-000000000000"
    response = mhd.post(bundle)
    assert response.status_code == 422
    assert {"XDSMissingDocument", "XDSMissingDocumentMetadata"} <= ihe_codes(response)


def test_content_type_must_agree_with_binary(mhd: Mhd) -> None:
    dr = mhd.document_reference()
    bundle = mhd.bundle((dr, mhd.examples.hco))
    bundle["entry"][2]["resource"]["contentType"] = "application/fhir+xml"
    response = mhd.post(bundle)
    assert response.status_code == 422
    assert "Bundle.entry[1].resource.content[0].attachment.contentType" in expressions(response)


def test_malformed_requests_get_4xx_operation_outcomes(mhd: Mhd) -> None:
    post = mhd.client.post
    cases = [
        (post("/dds/fhir", content=b"{not json", headers={"Content-Type": FHIR_JSON}), 400),
        (post("/dds/fhir", content=b"<Bundle/>", headers={"Content-Type": "application/fhir+xml"}), 415),
        (post("/dds/fhir", content=b"[1, 2]", headers={"Content-Type": FHIR_JSON}), 400),
        (mhd.post({"resourceType": "Patient"}), 400),
        (mhd.post({"resourceType": "Bundle", "type": "batch", "entry": []}), 400),
        (mhd.post({"resourceType": "Bundle", "type": "transaction"}), 400),
        (mhd.post({"resourceType": "Bundle", "type": "transaction", "entry": [
            {"fullUrl": "urn:uuid:1", "resource": "x", "request": {"method": "POST", "url": "List"}}]}), 400),
    ]
    for response, status in cases:
        assert response.status_code == status, response.text
        assert issues_of(response)[0]["severity"] == "error"


def test_transaction_shape_errors(mhd: Mhd) -> None:
    dr = mhd.document_reference()
    no_list = mhd.bundle((dr, mhd.examples.hco))
    del no_list["entry"][0]
    assert mhd.post(no_list).status_code == 400

    bad_base64 = mhd.bundle((mhd.document_reference(), mhd.examples.hco))
    bad_base64["entry"][2]["resource"]["data"] = "***"
    response = mhd.post(bad_base64)
    assert response.status_code == 400
    assert expressions(response) == {"Bundle.entry[2].resource.data"}

    folder = mhd.bundle((mhd.document_reference(), mhd.examples.hco))
    folder["entry"].append({"fullUrl": "urn:uuid:f", "request": {"method": "POST", "url": "List"}, "resource": {
        "resourceType": "List", "status": "current", "mode": "working",
        "code": {"coding": [{"code": "folder"}]}}})
    assert mhd.post(folder).status_code == 422

    unlisted = mhd.bundle((mhd.document_reference(), mhd.examples.hco))
    del unlisted["entry"][0]["resource"]["entry"]  # (an empty array would be invalid FHIR JSON)
    response = mhd.post(unlisted)
    assert response.status_code == 422
    assert "Bundle.entry[1].resource" in expressions(response)


def test_huge_body_is_refused(context: SandboxContext, mhd: Mhd) -> None:
    small = SandboxContext(context.settings.model_copy(update={"max_body_bytes": 1000}), context.clock,
                           context.database)
    small._packages = context._packages
    with TestClient(create_sandbox_app(small, warm_packages=False), base_url="http://sandbox.test") as client:
        body = json.dumps(mhd.bundle((mhd.document_reference(), mhd.examples.hco))).encode()
        response = client.post("/dds/fhir", content=body, headers={"Content-Type": FHIR_JSON, **mhd.source_headers})
    assert response.status_code == 413
    assert issues_of(response)[0]["code"] == "too-costly"


def test_profile_validation_of_document_refuses_invalid_content(mhd: Mhd) -> None:
    broken = json.loads(mhd.examples.hco)
    broken["type"] = "not-a-bundle-type"
    content = json.dumps(broken).encode()
    response = mhd.post(mhd.bundle((mhd.document_reference(), content)))
    assert response.status_code == 422
    assert any(e.startswith("Bundle.entry[2].resource.data") for e in expressions(response)), response.text


def test_document_declared_json_but_not_json(mhd: Mhd) -> None:
    response = mhd.post(mhd.bundle((mhd.document_reference(), b"\x00\x01 not json")))
    assert response.status_code == 422
    assert "XDSRepositoryMetadataError" in ihe_codes(response)


def test_lenient_settings_return_warnings_in_the_response(lenient_context: SandboxContext, mhd: Mhd) -> None:
    lenient_context.settings = lenient_context.settings.model_copy(
        update={"validation_profile": Strictness.WARNING})
    broken = json.loads(mhd.examples.hco)
    broken["type"] = "not-a-bundle-type"
    response = mhd.post(mhd.bundle((mhd.document_reference(), json.dumps(broken).encode())))
    assert response.status_code == 200, response.text
    binary_entry = response.json()["entry"][2]["response"]
    warnings = binary_entry["outcome"]["issue"]
    assert warnings and all(i["severity"] == "warning" for i in warnings)


def test_hash_is_over_the_exact_bytes_received(mhd: Mhd) -> None:
    spaced = mhd.examples.hco.replace(b",", b" ,", 5)
    entry_id = mhd.provide((mhd.document_reference(), spaced))[0]
    stored = mhd.read(entry_id)["content"][0]["attachment"]
    assert stored["hash"] == base64.b64encode(hashlib.sha1(spaced).digest()).decode()
    assert mhd.client.get(stored["url"]).content == spaced


def test_each_resource_is_structure_checked_once(mhd: Mhd, monkeypatch: Any) -> None:
    """The structure layer and the profile layer share one base-structure check per resource; the
    model layer is asked only where the profile walk leaves it something to find."""
    from nsp_sandbox.conformance import base_structure
    from nsp_sandbox.conformance import validator as validator_module

    real = base_structure.base_structure_issues
    checked: list[str] = []

    def counting(resource: dict[str, Any]) -> list[Any]:
        checked.append(str(resource.get("resourceType")))
        return real(resource)

    monkeypatch.setattr(base_structure, "base_structure_issues", counting)
    monkeypatch.setattr(validator_module, "base_structure_issues", counting)
    response = mhd.post(mhd.bundle((mhd.document_reference(), mhd.examples.hco)))
    assert response.status_code == 200, response.text
    # The document and its DocumentReference are clean and profiled: the profile walk has judged
    # everything the model layer would. The SubmissionSet declares no profile: the model layer reads it.
    assert checked == ["List"]

    reference = mhd.document_reference()
    reference["date"] = "2021-02-29T10:00:00+01:00"  # the R4 regex admits it; the calendar does not
    response = mhd.post(mhd.bundle((reference, mhd.examples.hco)))
    assert response.status_code == 422, response.text
    assert checked == ["List", "DocumentReference", "List"]
    found = [i for i in response.json()["issue"] if i["details"]["coding"][-1]["code"] == "base-structure"]
    assert [i["expression"] for i in found] == [["Bundle.entry[1].resource.date"]], response.text
    assert "day value is outside expected range" in found[0]["diagnostics"]
