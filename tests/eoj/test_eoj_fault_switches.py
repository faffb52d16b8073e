"""The EOJ's fault switches (``GET /sandbox/faults``), for testing a GP system: resend at once, send
twice, break the correction chain — each for a number of messages, then the EOJ sends as before."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from hco_flow import lps_received, send, status


def switch(client: TestClient, name: str, **body: Any) -> None:
    response = client.put(f"/sandbox/faults/eoj/{name}", json={"on": True, "calls": 1, **body})
    assert response.status_code == 200, response.text


def test_duplicate_sends_the_same_envelope_twice(client: TestClient) -> None:
    switch(client, "duplicate")
    sent = send(client)
    received = lps_received(client, sent["id"])
    assert len(received) == 2
    assert received[1]["bundle_id"].startswith(received[0]["bundle_id"] + "#reused-")  # the same Bundle.id
    assert "sent again (fault switch eoj/duplicate)" in sent["send_result"]
    assert len(lps_received(client, send(client)["id"])) == 1


def test_resend_sends_a_new_envelope_at_once(client: TestClient) -> None:
    switch(client, "resend")
    sent = send(client)
    received = lps_received(client, sent["id"])
    assert [r["verdict"] for r in received] == ["accepted", "duplicate"]  # the GP recognised the resend
    assert received[0]["bundle_id"] != received[1]["bundle_id"]
    assert len(lps_received(client, send(client)["id"])) == 1


def test_a_broken_chain_points_the_modification_at_a_message_never_sent(client: TestClient) -> None:
    switch(client, "broken-chain")
    first = send(client)  # a new message: nothing to break, the switch keeps its call
    assert first["ack"] == "ok"
    modified = client.post(f"/eoj/hco/{first['id']}/modify", json={"clinical_comment": "Ny vurdering"})
    assert modified.status_code == 201, modified.text
    (arrived,) = lps_received(client, modified.json()["id"])
    assert arrived["verdict"] != "accepted"  # the GP cannot place a correction of an unknown message
    # The EOJ's own record keeps the true chain.
    chain = status(client, modified.json()["id"])["chain"]
    assert [(m["id"], m["previous"]) for m in chain] == [(first["id"], None), (modified.json()["id"], first["id"])]
    assert arrived["verdict"] == "held"  # waiting for an original that never comes
    second = send(client)  # the switch's one call is used: a chain as it should be
    again = client.post(f"/eoj/hco/{second['id']}/modify", json={"clinical_comment": "Igen"})
    (fine,) = lps_received(client, again.json()["id"])
    assert fine["verdict"] == "accepted"
