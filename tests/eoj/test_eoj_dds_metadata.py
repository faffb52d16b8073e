"""What the EOJ shares to DDS describes the message with a DocumentReference that meets MedCom's
``homecare-observation-documentreference`` profile, naming the patient as NSP's CPR register does;
and the EOJ speaks as the acute team NSP's SOR register puts under its system persona."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from actor_tokens import eoj_as
from fastapi.testclient import TestClient
from hco_flow import CPR, dds_entries, profile_errors, send
from sts_client import auth

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.hco_examples import example_messages
from nsp_sandbox.mhd_source import provide_bundle
from services.eoj_sender.chain import read_facts
from services.eoj_sender.corpus_run import ORDER
from services.eoj_sender.nsp_registers import Person
from services.eoj_sender.replay_corpus import restamp
from services.eoj_sender.sharing import SOURCE_ID, document_metadata

HCOM = "http://medcomfhir.dk/ig/xdsdocuments/StructureDefinition/homecare-observation-documentreference"
DOCUMENT_PATIENT = "http://medcomfhir.dk/ig/document/StructureDefinition/medcom-document-patient"
SOR = "urn:oid:1.2.208.176.1.1"
GLN = "https://www.gs1.org/gln"
PROTECTED_CPR = "0201919990"  # Sofie Kjær: name and address protection in the synthetic world


def _entry(client: TestClient, entry_id: str, cpr: str) -> dict[str, Any]:
    response = client.get(f"/dds/fhir/DocumentReference/{entry_id}", headers=auth(client, f"citizen-{cpr}"))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _contained(entry: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(r for r in entry["contained"] if r["resourceType"] == kind)


def _register(client: TestClient, cpr: str) -> dict[str, Any]:
    response = client.get(f"/nsp/persons/{cpr}", headers=auth(client, "system-eoj-aarhus", "nsp"))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_every_official_example_is_shared_with_a_document_reference_meeting_the_profile(
        client: TestClient, context: SandboxContext, validator) -> None:  # type: ignore[no-untyped-def]
    examples = sorted(example_messages(context.packages),
                      key=lambda e: ORDER.get(getattr(read_facts(e[1]), "activity", ""), 9))
    header_ids: dict[str, str] = {}
    shared = []
    for name, bundle in examples:
        response = client.post("/eoj/messages", json=restamp(bundle, header_ids))
        assert response.status_code == 201, f"{name}: {response.text}"
        status = response.json()
        assert status["ack"] == "ok", name
        if status["dds"]["entry"]:
            shared.append((name, status))
    # new, modified, ReceiveTestExample1, 2 and 4, and the blood tests with an EKG; not the eCPR patient,
    # not the refused consent, not the retraction
    assert len(shared) == 6
    person = _register(client, CPR)
    for name, status in shared:
        entry = _entry(client, status["dds"]["entry"], status["cpr"])
        assert entry["meta"]["profile"] == [HCOM], name
        assert profile_errors(validator, entry, HCOM) == [], name
        patient = _contained(entry, "Patient")
        assert patient["meta"]["profile"] == [DOCUMENT_PATIENT]
        assert patient["name"] == [{"use": "official", "family": person["family"], "given": person["given"]}]
        assert (patient["gender"], patient["birthDate"]) == (person["gender"], person["birth_date"])
        assert (person["family"], person["given"], person["gender"], person["birth_date"]) == (
            "Elmer", ["Bruno"], "male", "1947-09-25")


def test_the_patient_comes_from_the_cpr_register_not_from_the_order(client: TestClient, validator) -> None:  # type: ignore[no-untyped-def]
    sent = send(client, family="Elmer-Typo", given=["Brno"])
    (entry,) = dds_entries(client)
    assert entry["id"] == sent["dds"]["entry"]
    assert profile_errors(validator, entry, HCOM) == []
    assert _contained(entry, "Patient")["name"][0] == {"use": "official", "family": "Elmer", "given": ["Bruno"]}


def test_a_protected_citizen_is_named_adressebeskyttet(client: TestClient, validator) -> None:  # type: ignore[no-untyped-def]
    sent = send(client, cpr=PROTECTED_CPR, family="Kjær", given=["Sofie"])
    assert sent["ack"] == "ok" and sent["dds"]["entry"]
    entry = _entry(client, sent["dds"]["entry"], PROTECTED_CPR)
    assert profile_errors(validator, entry, HCOM) == []
    patient = _contained(entry, "Patient")
    assert patient["name"] == [{"use": "official", "family": "ADRESSEBESKYTTET", "given": ["ADRESSEBESKYTTET"]}]
    assert "Kjær" not in str(entry)
    assert patient["gender"] == "female" and patient["birthDate"] == "1991-01-02"


def test_a_cpr_the_register_does_not_know_is_not_shared(client: TestClient) -> None:
    sent = send(client, cpr="1111111118", family="Ukendt", given=["Person"])
    assert sent["ack"] == "ok"  # the GP still gets the results
    assert sent["dds"]["entry"] is None and "CPR register" in sent["dds"]["why_not"]


@pytest.mark.parametrize(("persona", "team_sor", "team_gln", "team_name"), [
    ("system-eoj-aarhus", "900001000099016", "5790009900016", "Akutteam Aarhus"),
    ("system-eoj-copenhagen", "900004000099016", "5790009900047", "Akutteam København"),
])
def test_the_eoj_speaks_as_the_acute_team_of_its_persona(client: TestClient, context: SandboxContext, validator,  # type: ignore[no-untyped-def]
                                                         persona: str, team_sor: str, team_gln: str,
                                                         team_name: str) -> None:
    context.settings.eoj_persona = persona
    eoj_as(client, persona)
    sent = send(client)
    bundle = sent["bundle"]
    header = bundle["entry"][0]["resource"]
    producer = next(e["resource"] for e in bundle["entry"]
                    if f"Organization/{e['resource']['id']}" == header["sender"]["reference"])
    ids = {i["system"]: i["value"] for i in producer["identifier"]}
    assert (ids[SOR], ids[GLN], producer["name"]) == (team_sor, team_gln, team_name)
    assert ids["http://medcomfhir.dk/ig/terminology/CodeSystem/MedComProducentID"] == "KAF"
    assert sent["ack"] == "ok"
    entry = _entry(client, sent["dds"]["entry"], CPR)
    assert profile_errors(validator, entry, HCOM) == []
    author = _contained(entry, "Organization")
    assert {i["value"] for i in author["identifier"]} == {team_sor, team_gln} and author["name"] == team_name


def test_a_persona_without_an_acute_team_cannot_send(client: TestClient, context: SandboxContext) -> None:
    context.settings.eoj_persona = "system-lps-skodstrup"  # a GP clinic: no acute team in its SOR tree
    eoj_as(client, "system-lps-skodstrup")
    response = client.post("/eoj/hco", json={"cpr": CPR, "family": "Elmer", "receiver": "52581000016005",
                                             "observations": [{"code": "NPU22089", "value": 6.8}]})
    assert response.status_code == 502
    (issue,) = response.json()["issue"]
    assert "acute team" in issue["diagnostics"] and issue["details"]["coding"][0]["code"] == "eoj-producer-acute-team"


def test_dds_checks_the_declared_profile_so_what_it_took_had_no_errors(client: TestClient) -> None:
    bundle = send(client)["bundle"]
    person = Person(CPR, ("Bruno",), "Elmer", "male", "1947-09-25", False)
    meta = replace(document_metadata(restamp(bundle), person), version_id=None)  # the profile wants it
    body = provide_bundle([(meta, b"{}")], source_id=SOURCE_ID, submitted=datetime.now(UTC))
    response = client.post("/dds/fhir", json=body, headers={"Content-Type": "application/fhir+json",
                                                            **auth(client, "system-eoj-aarhus", "dds")})
    assert response.status_code == 422, response.text
    texts = [i["diagnostics"] for i in response.json()["issue"] if i["severity"] == "error"]
    assert any("extension" in t for t in texts), texts


def test_a_later_version_keeps_the_sender_of_its_chain(client: TestClient, context: SandboxContext) -> None:
    first = send(client)
    context.settings.eoj_persona = "system-eoj-copenhagen"
    eoj_as(client, "system-eoj-copenhagen")
    modified = client.post(f"/eoj/hco/{first['id']}/modify", json={"clinical_comment": "Ny vurdering"}).json()
    assert modified["ack"] == "ok"  # the GP links it: same sender as the original
    bundle = modified["bundle"]
    sender = bundle["entry"][0]["resource"]["sender"]["reference"]
    producer = next(e["resource"] for e in bundle["entry"] if f"Organization/{e['resource']['id']}" == sender)
    assert producer["name"] == "Akutteam Aarhus"
    newest = send(client)["bundle"]
    ref = newest["entry"][0]["resource"]["sender"]["reference"]
    assert next(e["resource"]["name"] for e in newest["entry"]
                if f"Organization/{e['resource']['id']}" == ref) == "Akutteam København"
