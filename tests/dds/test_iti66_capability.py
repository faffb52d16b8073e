"""ITI-66 Find Document Lists, List read, and the CapabilityStatement."""

from __future__ import annotations

from fastapi.testclient import TestClient
from mhd_client import CPR, CPR_SYSTEM, OTHER_CPR, Mhd

from nsp_sandbox.context import SandboxContext


def _lists(mhd: Mhd, **params: str) -> list[str]:
    response = mhd.client.get("/dds/fhir/List", params=params)
    assert response.status_code == 200, response.text
    return [e["resource"]["id"] for e in response.json()["entry"] if e["search"]["mode"] == "match"]


def test_find_submission_sets(mhd: Mhd) -> None:
    entry_id = mhd.provide_hco()
    mhd.provide_hco(cpr=OTHER_CPR)
    found = _lists(mhd, **{"patient.identifier": f"{CPR_SYSTEM}|{CPR}", "code": "submissionset",
                           "status": "current"})
    assert len(found) == 1
    submission = mhd.client.get(f"/dds/fhir/List/{found[0]}").json()
    assert submission["entry"] == [{"item": {"reference": f"DocumentReference/{entry_id}"}}]
    assert submission["status"] == "current" and submission["meta"]["versionId"] == "1"

    assert _lists(mhd, **{"patient.identifier": CPR, "code": "folder"}) == []
    assert _lists(mhd, **{"patient.identifier": CPR, "date": "2026-04-28"}) == found
    assert _lists(mhd, **{"patient.identifier": CPR, "date": "lt2026-04-28"}) == []
    assert _lists(mhd, **{"patient.identifier": CPR, "sourceId": "urn:oid:1.2.208.176.43210.8.10.99"}) == found
    assert _lists(mhd, **{"patient.identifier": CPR, "source.identifier": "urn:oid:9.9"}) == []
    unique_id = next(i["value"] for i in submission["identifier"] if i["use"] == "usual")
    assert _lists(mhd, **{"patient.identifier": CPR, "identifier": unique_id}) == found
    theirs = _lists(mhd, patient=f"Patient/{OTHER_CPR}", status="current")
    assert len(theirs) == 1 and theirs != found


def test_list_search_requires_a_patient_and_unknown_list_is_404(mhd: Mhd) -> None:
    assert mhd.client.get("/dds/fhir/List", params={"code": "submissionset"}).status_code == 400
    assert mhd.client.get("/dds/fhir/List/nope").status_code == 404
    assert mhd.client.get("/dds/fhir/DocumentReference/nope").status_code == 404
    assert mhd.client.get("/dds/documents/nope").status_code == 404


def test_capability_statement_lists_what_is_served(mhd: Mhd) -> None:
    response = mhd.client.get("/dds/fhir/metadata")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    statement = response.json()
    assert statement["resourceType"] == "CapabilityStatement" and statement["fhirVersion"] == "4.0.1"
    rest = statement["rest"][0]
    assert rest["interaction"] == [{"code": "transaction", "documentation": "ITI-65 Provide Document Bundle"}]
    resources = {r["type"]: r for r in rest["resource"]}
    assert set(resources) == {"DocumentReference", "List", "Subscription"}
    assert {i["code"] for i in resources["Subscription"]["interaction"]} == {"create", "read", "delete"}
    dr_params = {p["name"] for p in resources["DocumentReference"]["searchParam"]}
    assert {"patient", "patient.identifier", "status", "date", "period", "type", "category", "format",
            "setting", "facility", "event", "security-label", "author.identifier", "related"} <= dr_params
    assert {i["code"] for i in resources["DocumentReference"]["interaction"]} == {"read", "update", "search-type"}
    # no entry is ever deleted; a subscription can be ended
    assert all(i["code"] != "delete" for r in rest["resource"] if r["type"] != "Subscription" for i in r["interaction"])
    # every parameter listed is accepted by the server (none ignored with a warning)
    entry_id = mhd.provide_hco()
    for name in sorted(dr_params - {"patient", "patient.identifier", "status"}):
        bundle = mhd.client.get("/dds/fhir/DocumentReference", params={
            "patient.identifier": CPR, "status": "current",
            name: "2026" if name in ("date", "creation", "period") else "x"}).json()
        assert all(e["search"]["mode"] == "match" for e in bundle["entry"]), name
    assert entry_id


def test_the_capability_statement_declares_its_security(client: TestClient, context: SandboxContext) -> None:
    statement = client.get("/dds/fhir/metadata").json()  # no token needed for metadata
    security = statement["rest"][0]["security"]
    assert security["service"][0]["coding"] == [{
        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "OAuth",
        "display": "OAuth"}]
    description = security["description"]
    for needed in ("Authorization: Bearer <token>", "POST http://sandbox.test/nsp/sts/token",
                   "http://sandbox.test/nsp/sts/jwks", "urn:nsp-sandbox:dds", "X-Consent-Override"):
        assert needed in description
    # and it says the truth: a call without the token is refused with the challenge it describes
    refused = client.get("/dds/fhir/DocumentReference", params={"patient.identifier": CPR, "status": "current"})
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")

    context.settings = context.settings.model_copy(update={"dds_access_control": False})
    open_statement = client.get("/dds/fhir/metadata").json()["rest"][0]["security"]
    assert "service" not in open_statement and "switched off" in open_statement["description"]
