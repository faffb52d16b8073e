"""``POST /sandbox/reset``: every actor's data emptied without a restart — no documents, no messages,
no Min Log, no loaded world — while the clock, the fault switches and the shipped world stay."""

from __future__ import annotations

from fastapi.testclient import TestClient
from hco_flow import CPR, SKODSTRUP, dds_entries, send
from sts_client import auth
from world_support import ANNA, load, world_file


def test_after_a_reset_nothing_is_left_but_the_world_as_shipped(client: TestClient) -> None:
    assert load(client, world_file()).status_code == 200
    sent = send(client)
    assert sent["ack"] == "ok" and len(dds_entries(client)) == 1
    gp = auth(client, "gp-skodstrup")
    assert client.get("/dds/fhir/DocumentReference", headers=gp, params={
        "patient.identifier": f"urn:oid:1.2.208.176.1.2|{CPR}", "status": "current"}).status_code == 200
    assert client.get("/nsp/minlog", params={"cpr": CPR}, headers=auth(client, f"citizen-{CPR}", ["nsp"])).json()
    assert client.put(f"/sandbox/endpoints/{SKODSTRUP}", json={"url": "http://127.0.0.1:9/ehmi",
                                                               "hco_version": "1.2"}).status_code == 200
    assert client.put("/lps/switches", json={"twice": True}).status_code == 200
    assert client.put("/sandbox/faults/dds/slow", json={"on": True, "seconds": 0}).status_code == 200
    frozen = client.put("/sandbox/clock", json={"now": "2026-03-01T12:00:00+01:00", "frozen": True}).json()["now"]

    reset = client.post("/sandbox/reset")
    assert reset.status_code == 200, reset.text
    assert reset.json()["reset"] == ["dds", "nsp", "plsp", "eoj", "lps", "view"]
    assert reset.json()["actors"]["dds"]["emptied"]["dds_document_entry"] == 1

    assert dds_entries(client) == []
    assert client.get("/lps/received").json() == []
    assert client.get(f"/eoj/hco/{sent['id']}").status_code == 404
    assert client.get("/nsp/minlog", params={"cpr": CPR}, headers=auth(client, f"citizen-{CPR}", ["nsp"])).json() \
        == []
    personas = {p["id"] for p in client.get("/nsp/personas").json()}
    assert f"citizen-{ANNA}" not in personas and f"citizen-{CPR}" in personas  # the shipped world only
    seeded = next(e for e in client.get("/sandbox/endpoints").json() if e["sor"] == SKODSTRUP)
    assert seeded["url"].endswith("/lps/ehmi") and seeded["hco_version"] is None  # seeded again
    assert client.get("/lps/switches").json()["twice"] is False
    assert client.get("/sandbox/clock").json()["now"] == frozen  # the clock is not touched
    assert next(s for s in client.get("/sandbox/faults").json() if s["name"] == "slow")["state"]["on"] is True

    # Back in real time, old tokens stay good (NSP keeps its keys), and the sandbox works on from empty.
    client.delete("/sandbox/clock")
    assert client.get("/dds/fhir/DocumentReference", headers=gp, params={
        "patient.identifier": f"urn:oid:1.2.208.176.1.2|{CPR}", "status": "current"}).status_code == 200
    assert send(client)["ack"] == "ok" and len(dds_entries(client)) == 1
