"""Min Spærring: citizens (or those acting for them) add, list and revoke blocks; history is kept."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sts_client import auth

BRUNO = "2509479989"


def test_add_list_and_revoke_keeps_history(client: TestClient) -> None:
    me = auth(client, f"citizen-{BRUNO}")
    made = client.post("/nsp/consent/blocks", headers=me, json={
        "who": {"type": "organisation", "id": "937961000016000"}, "include_sub_units": True,
        "valid_from": "2026-01-01", "valid_to": "2099-12-31", "data_from": "2025-01-01", "data_to": "2025-06-30"})
    assert made.status_code == 201, made.text
    block = made.json()
    assert block["cpr"] == BRUNO and block["status"] == "active"
    assert block["organisations_covered"] == ["937961000016000", "1144561000016002", "900001000099016"]
    assert block["valid_to"] == "2099-12-31T23:59:59+00:00"
    revoked = client.post(f"/nsp/consent/blocks/{block['id']}/revoke", headers=me)
    assert revoked.json()["status"] == "revoked" and revoked.json()["revoked_by"] == f"citizen-{BRUNO}"
    listed = client.get("/nsp/consent/blocks", headers=me).json()
    assert [b["id"] for b in listed] == [block["id"]] and listed[0]["status"] == "revoked"


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


def test_professionals_do_not_manage_blocks_and_systems_read_them(client: TestClient) -> None:
    gp = auth(client, "gp-skodstrup")
    assert client.post("/nsp/consent/blocks", headers=gp, json={"who": {"type": "all"}}).status_code == 403
    system = auth(client, "system-dds", "nsp")
    assert client.get("/nsp/consent/blocks", headers=system).status_code == 400
    assert client.get("/nsp/consent/blocks", headers=system, params={"cpr": BRUNO}).json() == []


@pytest.mark.parametrize("body", [
    {}, {"who": {"type": "someone"}}, {"who": {"type": "professional", "id": "NOPE"}},
    {"who": {"type": "organisation", "id": "1"}}, {"who": {"type": "all"}, "include_sub_units": "yes"},
    {"who": {"type": "all"}, "valid_from": "2026-02-01", "valid_to": "2026-01-01"},
    {"who": {"type": "all"}, "data_from": "last year"}, {"who": {"type": "all"}, "valid_from": "2026-01-01T00:00"},
    {"who": {"type": "all"}, "data_from": "2026-02-01", "data_to": "2026-01-01"}])
def test_malformed_blocks_are_refused(client: TestClient, body: dict) -> None:
    response = client.post("/nsp/consent/blocks", headers=auth(client, f"citizen-{BRUNO}"), json=body)
    assert response.status_code == 400, response.text
    assert response.json()["resourceType"] == "OperationOutcome"


def test_not_json_is_refused(client: TestClient) -> None:
    response = client.post("/nsp/consent/blocks", headers={**auth(client, f"citizen-{BRUNO}"),
                                                           "Content-Type": "application/json"}, content=b"{")
    assert response.status_code == 400
    assert client.post("/nsp/sts/token", json=[1]).status_code == 400
