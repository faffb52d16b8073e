"""Each DDS access rule on its own: relatives and parents, treatment relations (seeded and added
in BRS, with a period), værdispring, Min Log, lists, name and address protection, deceased
citizens, and NSP being unreachable."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from access_setup import GRETHE, block, find, matches, min_log, provide_documents, warnings
from fastapi.testclient import TestClient
from mhd_client import CPR_SYSTEM, Mhd
from sts_client import add_relation, auth

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.outcome import FhirError
from sandbox.app import create_sandbox_app
from services.dds.access import address_protection

BRUNO = "2509479989"  # gave Emil (0505059996) a fuldmagt
IDA = "0505239996"  # born 2023; custodial parents Anna (1502829995) and Jens (3001749995)
SOFIE = "0201919990"  # name and address protected; gave Anna a fuldmagt
ERIK = "1010401230"  # deceased


def test_a_fuldmagt_holder_reads_the_grantors_documents_and_nobody_elses(client: TestClient, mhd: Mhd) -> None:
    documents = provide_documents(mhd, BRUNO)
    response = find(client, "relative-0505059996", BRUNO)
    assert response.status_code == 200
    assert set(matches(response)) == {documents.old, documents.new}
    assert client.get(f"/dds/documents/{documents.new}", headers=auth(client, "relative-0505059996")).status_code == 200
    assert find(client, "relative-0505059996", GRETHE).status_code == 403
    assert find(client, "citizen-0505059996", BRUNO).status_code == 403  # as himself he acts for no one
    find(client, f"citizen-{BRUNO}", BRUNO)
    logged = min_log(client, BRUNO)  # Emil's two look-ups on Bruno's log; Bruno's own is not logged
    assert [e["activity"] for e in logged] == ["ITI-68 Retrieve Document", "ITI-67 Find Document References"]
    assert {e["user_name"] for e in logged} == {"Emil Elmer"}


def test_a_relatives_look_up_is_on_the_data_subjects_min_log_naming_the_relative(client: TestClient,
                                                                                 mhd: Mhd) -> None:
    provide_documents(mhd, IDA)
    provide_documents(mhd, BRUNO)
    find(client, "relative-3001749995", IDA)  # Jens, Ida's father
    find(client, "relative-0505059996", BRUNO)  # Emil, holding Bruno's fuldmagt
    for cpr, reader, name, role in ((IDA, "relative-1502829995", "Jens Holm", "Forældremyndighedsindehaver"),
                                    (BRUNO, f"citizen-{BRUNO}", "Emil Elmer", "Fuldmagtshaver")):
        response = client.get("/nsp/minlog", headers=auth(client, reader), params={"cpr": cpr})
        assert response.status_code == 200, response.text
        [entry] = response.json()
        assert entry["cpr"] == cpr and entry["activity"] == "ITI-67 Find Document References"
        assert entry["user_name"] == name and entry["user_role"] == role
        assert entry["user_identifier"] is None and entry["organisation_id"] is None  # no CPR of the relative
        assert "on behalf of the citizen" in entry["addition"]
        assert entry["consent_override"] is False and entry["acting_as"] is None
    # … and on the relative's own log, saying in which capacity they looked.
    for relative, acting_as, person in (("3001749995", "parent", "Ida Holm"),
                                        ("0505059996", "fuldmagt", "Bruno Elmer")):
        own = client.get("/nsp/minlog", headers=auth(client, f"relative-{relative}"), params={"cpr": relative})
        [entry] = own.json()
        assert (entry["cpr"], entry["acting_as"], entry["person_name"]) == (relative, acting_as, person)
        assert entry["activity"] == "ITI-67 Find Document References"
    assert find(client, "relative-0505059996", BRUNO, status="superseded").status_code == 200
    assert len(min_log(client, BRUNO)) == 1  # an empty result is not logged


def test_parents_read_their_child_under_15_until_the_child_turns_15(client: TestClient, mhd: Mhd,
                                                                     context: SandboxContext) -> None:
    documents = provide_documents(mhd, IDA)
    for parent in ("relative-1502829995", "relative-3001749995"):
        assert set(matches(find(client, parent, IDA))) == {documents.old, documents.new}
    assert find(client, "relative-0505059996", IDA).status_code == 403
    context.clock.travel_to(datetime(2038, 5, 6, tzinfo=UTC))  # Ida is 15
    response = find(client, "relative-3001749995", IDA)
    assert response.status_code == 403
    assert "CPR 0505239996" in response.json()["issue"][0]["diagnostics"]


def test_no_treatment_relation_is_refused_naming_it(client: TestClient, mhd: Mhd) -> None:
    provide_documents(mhd)
    response = find(client, "doctor-auh-acute", GRETHE)
    assert response.status_code == 403
    issue = response.json()["issue"][0]
    assert issue["details"]["coding"][0]["code"] == "dds-treatment-relation"
    assert "No treatment relation" in issue["diagnostics"]
    assert "AU5R1" in issue["diagnostics"] and GRETHE in issue["diagnostics"]


def test_a_relation_added_in_brs_holds_for_its_period(client: TestClient, mhd: Mhd, context: SandboxContext) -> None:
    documents = provide_documents(mhd)
    today = context.clock.now().date()
    add_relation(client, "doctor-auh-acute", GRETHE, valid_from=today.isoformat(),
                 valid_to=(today + timedelta(days=30)).isoformat())
    assert set(matches(find(client, "doctor-auh-acute", GRETHE))) == {documents.old, documents.new}
    persona = next(p for p in client.get("/nsp/personas").json() if p["id"] == "doctor-auh-acute")
    assert GRETHE in persona["relations"]
    context.clock.travel_to(context.clock.now() + timedelta(days=31))
    assert find(client, "doctor-auh-acute", GRETHE).status_code == 403


def test_a_professional_cannot_give_themself_a_relation(client: TestClient, mhd: Mhd) -> None:
    provide_documents(mhd)
    for persona in ("doctor-auh-acute", f"citizen-{GRETHE}"):
        response = client.post("/nsp/brs/relations", headers=auth(client, persona, "nsp"),
                               json={"professional": "doctor-auh-acute", "cpr": GRETHE})
        assert response.status_code == 403
        assert response.json()["issue"][0]["details"]["coding"][0]["code"] == "brs-register"
    assert find(client, "doctor-auh-acute", GRETHE).status_code == 403


def test_vaerdispring_needs_a_reason_and_logs_it(client: TestClient, mhd: Mhd) -> None:
    provide_documents(mhd)
    block(client, GRETHE, {"type": "all"})
    for empty in ("", "   "):
        response = find(client, "gp-skodstrup", GRETHE, override=empty)
        assert response.status_code == 400
        assert response.json()["issue"][0]["details"]["coding"][0]["code"] == "dds-consent-override-reason"
    assert find(client, "gp-skodstrup", GRETHE, override="%ff").status_code == 400
    reason = "Akut indlæggelse, patienten er bevidstløs"
    assert len(matches(find(client, "gp-skodstrup", GRETHE, override=quote(reason)))) == 2
    [entry] = min_log(client, GRETHE)
    assert entry["consent_override"] is True and entry["reason"] == reason


def test_min_log_entry_fields(client: TestClient, mhd: Mhd) -> None:
    provide_documents(mhd)
    find(client, "nurse-aarhus-acute", GRETHE)
    [entry] = min_log(client, GRETHE)
    assert entry["activity"] == "ITI-67 Find Document References"
    assert entry["organisation_id"] == "900001000099016"
    assert entry["organisation_name"] == "Akutteam Aarhus"
    assert (entry["user_identifier"], entry["user_name"], entry["user_role"]) == ("AA9P1", "Pia Sørensen",
                                                                                  "Sygeplejerske")
    assert entry["consent_override"] is False and entry["reason"] is None
    assert entry["system_name"] == "DDS — DokumentDelingsServicen"


def test_an_empty_result_is_not_logged(client: TestClient) -> None:
    assert matches(find(client, "gp-skodstrup", GRETHE)) == []
    assert min_log(client, GRETHE) == []


def test_lists_follow_the_blocks(client: TestClient, mhd: Mhd) -> None:
    documents = provide_documents(mhd)

    def lists(persona: str):  # type: ignore[no-untyped-def]
        return client.get("/dds/fhir/List", headers=auth(client, persona),
                          params={"patient.identifier": f"{CPR_SYSTEM}|{GRETHE}"})

    assert lists("system-eoj-aarhus").status_code == 403
    assert lists("doctor-auh-acute").status_code == 403
    assert len(matches(lists("gp-skodstrup"))) == 2
    period = block(client, GRETHE, {"type": "all"}, data_from="2024-01-01", data_to="2024-12-31")
    response = lists("gp-skodstrup")
    members = [e["item"]["reference"] for m in response.json()["entry"] if m["search"]["mode"] == "match"
               for e in m["resource"]["entry"]]
    assert members == [f"DocumentReference/{documents.new}"]
    assert warnings(response)
    client.post(f"/nsp/consent/blocks/{period['id']}/revoke", headers=auth(client, f"citizen-{GRETHE}"))
    everything = block(client, GRETHE, {"type": "professional", "id": "SK7T1"})
    assert matches(lists("gp-skodstrup")) == []
    list_id = matches(lists("nurse-aarhus-acute"))[0]
    assert client.get(f"/dds/fhir/List/{list_id}", headers=auth(client, "gp-skodstrup")).status_code == 404
    assert client.get(f"/dds/fhir/List/{list_id}", headers=auth(client, "nurse-aarhus-acute")).status_code == 200
    assert everything["status"] == "active"


def test_a_protected_address_is_never_shown_to_a_relative(client: TestClient, mhd: Mhd) -> None:
    """DDS metadata never carries an address (sourcePatientInfo: name, birth date, gender); the
    document may: a relative gets it without the patient's address, an authority with it."""
    message = json.loads(mhd.examples.hco)
    for entry in message["entry"]:
        if entry["resource"]["resourceType"] == "Patient":
            entry["resource"]["identifier"][0]["value"] = SOFIE
            entry["resource"]["address"] = [{"line": ["Blågårdsgade 17"], "city": "København N",
                                             "postalCode": "2200"}]
    content = json.dumps(message, ensure_ascii=False).encode()
    entry_id = mhd.provide((mhd.document_reference(cpr=SOFIE), content), cpr=SOFIE)[0]
    relative = auth(client, "relative-1502829995")
    assert client.get(f"/dds/fhir/DocumentReference/{entry_id}", headers=relative).status_code == 200
    assert SOFIE in str(find(client, "relative-1502829995", SOFIE).json())
    document = client.get(f"/dds/documents/{entry_id}", headers=relative)
    assert document.status_code == 200
    assert document.json()["id"] == message["id"]  # the document is shown …
    assert "Blågårdsgade" not in document.text  # … without the patient's address
    assert document.headers["etag"] != client.get(f"/dds/documents/{entry_id}",
                                                  headers=auth(client, f"citizen-{SOFIE}")).headers["etag"]
    assert "Blågårdsgade" in client.get(f"/dds/documents/{entry_id}", headers=auth(client, f"citizen-{SOFIE}")).text
    add_relation(client, "nurse-copenhagen-acute", SOFIE)
    nurse = client.get(f"/dds/documents/{entry_id}", headers=auth(client, "nurse-copenhagen-acute"))
    assert nurse.content == content
    # NSP shows the protected address to no one but authorities either.
    persona = next(p for p in client.get("/nsp/personas").json() if p["id"] == f"citizen-{SOFIE}")
    assert persona["name_and_address_protected"] is True and "address" not in persona
    as_relative = client.get(f"/nsp/persons/{SOFIE}", headers=auth(client, "relative-1502829995", "nsp"))
    assert as_relative.status_code == 200 and "address" not in as_relative.json()
    as_system = client.get(f"/nsp/persons/{SOFIE}", headers=auth(client, "system-dds", "nsp"))
    assert as_system.json()["address"].startswith("Blågårdsgade")


def test_a_deceased_citizens_documents_stay_readable_but_no_token_is_issued(client: TestClient, mhd: Mhd) -> None:
    documents = provide_documents(mhd, ERIK)
    assert set(matches(find(client, "gp-skodstrup", ERIK))) == {documents.old, documents.new}
    response = client.post("/nsp/sts/token", json={"persona": f"citizen-{ERIK}"})
    assert response.status_code == 403


def test_dds_refuses_look_ups_it_cannot_check(context: SandboxContext, mhd: Mhd) -> None:
    """With NSP unreachable DDS answers 503, never data it could not check or log."""
    provide_documents(mhd)
    token = mhd.reader_headers
    elsewhere = SandboxContext(context.settings.model_copy(update={"nsp_url": "http://127.0.0.1:9/nsp"}),
                               context.clock, context.database)
    elsewhere._packages = context._packages
    with TestClient(create_sandbox_app(elsewhere, warm_packages=False, only={"dds"})) as lonely:
        response = lonely.get("/dds/fhir/DocumentReference", headers=token,
                              params={"patient.identifier": f"{CPR_SYSTEM}|{GRETHE}", "status": "current"})
    assert response.status_code == 503
    assert response.json()["issue"][0]["details"]["coding"][0]["code"] == "nsp-available"


def test_protected_addresses_are_taken_out_of_cda_and_fhir_xml() -> None:
    cda = (b'<ClinicalDocument xmlns="urn:hl7-org:v3"><recordTarget><patientRole><addr><city>Secret</city></addr>'
           b'</patientRole></recordTarget><author><assignedAuthor><addr>Clinic road 1</addr></assignedAuthor>'
           b'</author></ClinicalDocument>')
    stripped = address_protection.strip_document(cda, "text/xml")
    assert b"Secret" not in stripped and b"Clinic road 1" in stripped
    fhir_xml = (b'<Bundle xmlns="http://hl7.org/fhir"><entry><resource><Patient><address><city value="Secret"/>'
                b'</address></Patient></resource></entry></Bundle>')
    assert b"Secret" not in address_protection.strip_document(fhir_xml, "application/fhir+xml")
    with pytest.raises(FhirError) as refused:
        address_protection.strip_document(b"%PDF-1.7", "application/pdf")
    assert refused.value.status == 403


def test_travelling_back_in_time_keeps_dds_talking_to_nsp(client: TestClient, mhd: Mhd,
                                                          context: SandboxContext) -> None:
    provide_documents(mhd)
    assert len(matches(find(client, "gp-skodstrup", GRETHE))) == 2
    context.clock.travel_to(context.clock.now() - timedelta(days=1))
    assert len(matches(find(client, "gp-skodstrup", GRETHE))) == 2
