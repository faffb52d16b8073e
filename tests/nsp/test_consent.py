"""Min Spærring: consent items (negative and positive, who and what), added by citizens, those acting
for them and professionals with a treatment relation; unknown and old fields refused; history kept."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sts_client import auth

BRUNO = "2509479989"
AARHUS = "937961000016000"  # Aarhus Kommune (→ Pleje og Rehabilitering → Akutteam Aarhus)


def test_a_what_block_on_a_treatment_place_with_sub_units_keeps_history(client: TestClient) -> None:
    me = auth(client, f"citizen-{BRUNO}")
    made = client.post("/nsp/consent/blocks", headers=me, json={
        "who": {"type": "all"}, "what": {"type": "organisation", "id": AARHUS, "include_sub_units": True},
        "valid_from": "2026-01-01", "valid_to": "2099-12-31", "data_from": "2025-01-01", "data_to": "2025-06-30"})
    assert made.status_code == 201, made.text
    block = made.json()
    assert block["cpr"] == BRUNO and block["status"] == "active" and block["kind"] == "negative"
    assert block["who"] == {"type": "all", "id": None, "name": None}
    assert block["what"]["organisations_covered"] == [AARHUS, "1144561000016002", "900001000099016"]
    assert block["what"]["name"] == "Aarhus Kommune" and block["what"]["include_sub_units"] is True
    assert block["valid_to"] == "2099-12-31T23:59:59+00:00"
    assert block["created_by"] == f"citizen-{BRUNO}" and block["created_by_name"] == "Bruno Elmer"
    assert block["created_by_system"] == "nsp-sandbox persona"
    revoked = client.post(f"/nsp/consent/blocks/{block['id']}/revoke", headers=me)
    assert revoked.json()["status"] == "revoked" and revoked.json()["revoked_by"] == f"citizen-{BRUNO}"
    listed = client.get("/nsp/consent/blocks", headers=me).json()
    assert [b["id"] for b in listed] == [block["id"]] and listed[0]["status"] == "revoked"


def test_a_positive_consent_needs_an_end_and_never_comes_from_a_professional(client: TestClient) -> None:
    me = auth(client, f"citizen-{BRUNO}")
    positive = {"kind": "positive", "who": {"type": "professional", "id": "SK7T1"}}
    missing_end = client.post("/nsp/consent/blocks", headers=me, json=positive)
    assert missing_end.status_code == 400 and missing_end.json()["issue"][0]["expression"] == ["valid_to"]
    made = client.post("/nsp/consent/blocks", headers=me, json={**positive, "valid_to": "2099-01-01"})
    assert made.status_code == 201 and made.json()["kind"] == "positive"
    assert made.json()["who"] == {"type": "professional", "id": "SK7T1", "name": "Lars Lund"}
    gp = auth(client, "gp-skodstrup")
    refused = client.post("/nsp/consent/blocks", headers=gp, json={**positive, "cpr": BRUNO, "valid_to": "2099-01-01"})
    assert refused.status_code == 403 and refused.json()["issue"][0]["expression"] == ["kind"]


def test_a_professional_with_a_treatment_relation_blocks_on_the_citizens_behalf(client: TestClient) -> None:
    gp = auth(client, "gp-skodstrup")  # Bruno's GP
    made = client.post("/nsp/consent/blocks", headers=gp, json={"cpr": BRUNO, "who": {"type": "professional",
                                                                                       "id": "AU5R1"}})
    assert made.status_code == 201, made.text
    assert made.json()["created_by"] == "gp-skodstrup" and made.json()["created_by_name"] == "Lars Lund"
    assert made.json()["created_by_system"] == "nsp-sandbox persona"
    seen = client.get("/nsp/consent/blocks", headers=auth(client, f"citizen-{BRUNO}")).json()
    assert [b["id"] for b in seen] == [made.json()["id"]]
    no_cpr = client.post("/nsp/consent/blocks", headers=gp, json={"who": {"type": "all"}})
    assert no_cpr.status_code == 400
    stranger = auth(client, "doctor-auh-acute")  # no treatment relation with Bruno
    assert client.post("/nsp/consent/blocks", headers=stranger,
                       json={"cpr": BRUNO, "who": {"type": "all"}}).status_code == 403
    assistant = auth(client, "secretary-skodstrup")
    assert client.post("/nsp/consent/blocks", headers=assistant,
                       json={"cpr": BRUNO, "who": {"type": "all"}}).status_code == 403


def test_a_relative_manages_the_blocks_of_whom_they_act_for(client: TestClient) -> None:
    proxy = auth(client, "relative-0505059996")
    made = client.post("/nsp/consent/blocks", headers=proxy, json={"cpr": BRUNO, "who": {"type": "all"}})
    assert made.status_code == 201 and made.json()["created_by"] == "relative-0505059996"
    assert len(client.get("/nsp/consent/blocks", headers=auth(client, f"citizen-{BRUNO}")).json()) == 1
    other = client.post("/nsp/consent/blocks", headers=proxy, json={"cpr": "0602631234", "who": {"type": "all"}})
    assert other.status_code == 403
    stranger = auth(client, "citizen-0602631234")
    assert client.get("/nsp/consent/blocks", headers=stranger, params={"cpr": BRUNO}).status_code == 403
    assert client.post(f"/nsp/consent/blocks/{made.json()['id']}/revoke", headers=stranger).status_code == 404


def test_systems_read_blocks_and_do_not_make_them(client: TestClient) -> None:
    system = auth(client, "system-dds", "nsp")
    assert client.get("/nsp/consent/blocks", headers=system).status_code == 400
    assert client.get("/nsp/consent/blocks", headers=system, params={"cpr": BRUNO}).json() == []
    assert client.post("/nsp/consent/blocks", headers=system,
                       json={"cpr": BRUNO, "who": {"type": "all"}}).status_code == 403


@pytest.mark.parametrize(("body", "named"), [
    ({"kind": "positive", "who": {"type": "professional", "id": "SK7T1"}, "valid_to": "2099-01-01", "colour": 1},
     ["colour"]),
    ({"who": {"type": "all", "name": "x"}}, ["who.name"]),
    ({"who": {"type": "all"}, "what": {"type": "all", "sub_units": True}}, ["what.sub_units"]),
    ({"who": {"type": "all"}, "include_sub_units": True}, ["include_sub_units"]),
    ({"who": {"type": "organisation", "id": AARHUS}}, ["who.type"]),
    ({"who": {"type": "all"}, "a": 1, "b": 2}, ["a", "b"]),
])
def test_unknown_and_old_fields_are_refused_naming_them(client: TestClient, body: dict, named: list[str]) -> None:
    me = auth(client, f"citizen-{BRUNO}")
    response = client.post("/nsp/consent/blocks", headers=me, json=body)
    assert response.status_code == 422, response.text
    assert [i["expression"][0] for i in response.json()["issue"]] == named
    assert client.get("/nsp/consent/blocks", headers=me).json() == []  # nothing was registered


@pytest.mark.parametrize("body", [
    {}, {"who": {"type": "someone"}}, {"who": {"type": "professional", "id": "NOPE"}},
    {"who": {"type": "all"}, "what": {"type": "organisation", "id": "1"}},
    {"who": {"type": "all"}, "what": {"type": "organisation", "id": AARHUS, "include_sub_units": "yes"}},
    {"who": {"type": "all"}, "what": {"type": "all", "id": AARHUS}}, {"who": {"type": "all", "id": "SK7T1"}},
    {"who": {"type": "all"}, "kind": "maybe"},
    {"who": {"type": "all"}, "valid_from": "2026-02-01", "valid_to": "2026-01-01"},
    {"who": {"type": "all"}, "data_from": "last year"}, {"who": {"type": "all"}, "valid_from": "2026-01-01T00:00"},
    {"who": {"type": "all"}, "data_from": "2026-02-01", "data_to": "2026-01-01"}])
def test_malformed_blocks_are_refused(client: TestClient, body: dict) -> None:
    response = client.post("/nsp/consent/blocks", headers=auth(client, f"citizen-{BRUNO}"), json=body)
    assert response.status_code == 400, response.text
    assert response.json()["resourceType"] == "OperationOutcome"


def test_unknown_fields_are_refused_on_every_nsp_body(client: TestClient) -> None:
    token = client.post("/nsp/sts/token", json={"persona": "gp-skodstrup", "scope": "all"})
    assert token.status_code == 422 and token.json()["issue"][0]["expression"] == ["scope"]
    system = auth(client, "system-dds", "nsp")
    entry = client.post("/nsp/minlog/entries", headers=system, json={"cpr": BRUNO, "activity": "x", "level": 1})
    assert entry.status_code == 422 and entry.json()["issue"][0]["expression"] == ["level"]
    me = auth(client, f"citizen-{BRUNO}")
    made = client.post("/nsp/consent/blocks", headers=me, json={"who": {"type": "all"}}).json()
    revoke = client.post(f"/nsp/consent/blocks/{made['id']}/revoke", headers=me, json={"reason": "x"})
    assert revoke.status_code == 422 and revoke.json()["issue"][0]["expression"] == ["reason"]
    assert client.get("/nsp/consent/blocks", headers=me).json()[0]["status"] == "active"


def test_not_json_is_refused(client: TestClient) -> None:
    response = client.post("/nsp/consent/blocks", headers={**auth(client, f"citizen-{BRUNO}"),
                                                           "Content-Type": "application/json"}, content=b"{")
    assert response.status_code == 400
    assert client.post("/nsp/sts/token", json=[1]).status_code == 400
