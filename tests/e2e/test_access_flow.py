"""The access story end to end, with HTTP calls only: personas, tokens, provide, blocks,
værdispring, Min Log.

The GP sees the citizen's documents and it is logged; after the citizen blocks the GP's clinic
the GP sees nothing and nothing is logged; with værdispring the GP sees everything and the
citizen finds the flagged entry with its reason in Min Log; a professional with no relation is
refused; the relative with a power of attorney sees the grantor's documents.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from sts_client import auth

from nsp_sandbox.mhd_source import (
    CPR_SYSTEM,
    Coding,
    DocumentMetadata,
    Organisation,
    PatientInfo,
    provide_bundle,
)

CITIZEN = "2509479989"
FHIR_JSON = {"Content-Type": "application/fhir+json"}


def document(n: int) -> tuple[DocumentMetadata, bytes]:
    meta = DocumentMetadata(
        patient=PatientInfo(CITIZEN, "Elmer", ("Bruno",), "male", "1947-09-25"),
        author=Organisation("1144561000016002", "Pleje og Rehabilitering", "5790000123117"),
        unique_id=f"urn:uuid:00000000-0000-4000-8000-00000000000{n}", title=f"Kommunale prøvesvar {n}",
        type=Coding("urn:oid:1.2.208.184.100.1", "HCOM"),
        category=Coding("http://medcomfhir.dk/ig/document/CodeSystem/MedCom-ihe-classcode-CS-TEMP", "001"),
        format=Coding("http://medcomfhir.dk/ig/xdsdocuments/CodeSystem/MedComHCOFormatCodeCS",
                      "urn:ad:dk:medcom:msg:hco-v1.2:full"),
        facility_type=Coding("http://snomed.info/sct", "550621000005101"),
        practice_setting=Coding("http://snomed.info/sct", "658161000005107"),
        creation=datetime.fromisoformat(f"2026-04-2{n}T10:00:00+02:00"), content_type="text/xml")
    return meta, f"<prøvesvar>{n}</prøvesvar>".encode()


def find(client: TestClient, headers: dict[str, str]) -> Any:
    return client.get("/dds/fhir/DocumentReference", headers=headers,
                      params={"patient.identifier": f"{CPR_SYSTEM}|{CITIZEN}", "status": "current"})


def found(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [e["resource"]["id"] for e in response.json()["entry"] if e["search"]["mode"] == "match"]


def min_log(client: TestClient) -> list[dict[str, Any]]:
    response = client.get("/nsp/minlog", headers=auth(client, f"citizen-{CITIZEN}"))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_the_access_story(client: TestClient) -> None:
    personas = client.get("/nsp/personas").json()
    citizen = next(p for p in personas if p["kind"] == "citizen" and p["cpr"] == CITIZEN)
    gp = next(p for p in personas if p["kind"] == "professional" and p["organisation"] == citizen["gp"])
    stranger = next(p for p in personas if p["kind"] == "professional" and CITIZEN not in p["relations"])
    relative = next(p for p in personas if p["kind"] == "relative" and CITIZEN in p["acts_for"])
    source = next(p for p in personas if p["kind"] == "system" and p.get("system_kind") == "eoj")

    # A source system provides two documents; it may not read them back.
    bundle = provide_bundle([document(1), document(2)], source_id="urn:oid:1.2.208.176.43210.8.10.99",
                            submitted=datetime.fromisoformat("2026-04-28T10:00:00+02:00"))
    provided = client.post("/dds/fhir", json=bundle, headers={**FHIR_JSON, **auth(client, source["id"])})
    assert provided.status_code == 200, provided.text
    assert find(client, auth(client, source["id"])).status_code == 403

    # The GP sees the citizen's documents, and it is logged.
    as_gp = auth(client, gp["id"])
    documents = found(find(client, as_gp))
    assert len(documents) == 2
    assert client.get(f"/dds/documents/{documents[0]}", headers=as_gp).text in ("<prøvesvar>1</prøvesvar>",
                                                                                "<prøvesvar>2</prøvesvar>")
    log = min_log(client)
    assert len(log) == 2 and {e["user_name"] for e in log} == {gp["name"]}
    assert {e["activity"] for e in log} == {"ITI-67 Find Document References", "ITI-68 Retrieve Document"}
    assert not any(e["consent_override"] for e in log)

    # The citizen blocks her GP: the GP sees nothing, and nothing is logged.
    blocked = client.post("/nsp/consent/blocks", headers=auth(client, f"citizen-{CITIZEN}"),
                          json={"who": {"type": "professional", "id": gp["authorisation"]}})
    assert blocked.status_code == 201, blocked.text
    empty = find(client, as_gp)
    assert found(empty) == [] and empty.json()["total"] == 0
    assert client.get(f"/dds/documents/{documents[0]}", headers=as_gp).status_code == 404
    assert len(min_log(client)) == 2

    # With værdispring the GP sees everything; the citizen finds the flagged entry and its reason.
    overridden = find(client, {**as_gp, "X-Consent-Override": "Patient unconscious, acute admission"})
    assert sorted(found(overridden)) == sorted(documents)
    newest = min_log(client)[0]
    assert newest["consent_override"] is True
    assert newest["reason"] == "Patient unconscious, acute admission"
    assert newest["user_name"] == gp["name"] and newest["organisation_id"] == gp["organisation"]

    # A professional with no treatment relation is refused.
    refused = find(client, auth(client, stranger["id"]))
    assert refused.status_code == 403
    assert "treatment relation" in refused.json()["issue"][0]["diagnostics"]

    # The relative holding the citizen's power of attorney sees the grantor's documents.
    # Their look-up is on the citizen's Min Log too, under the relative's name.
    assert sorted(found(find(client, auth(client, relative["id"])))) == sorted(documents)
    log = min_log(client)
    assert len(log) == 4
    assert log[0]["user_name"] == relative["name"] and not log[0]["consent_override"]
