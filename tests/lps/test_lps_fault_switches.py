"""The GP inbox's fault switches (``GET /sandbox/faults``): the behaviour of ``PUT /lps/switches`` for a
number of messages (mode ok / fatal / transient, withhold, twice, delay), and two more: duplicate
acknowledgements with different content, and acknowledgements that come after the sender's resend."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from hco_flow import lps_received, send, status, switches

from nsp_sandbox.context import SandboxContext


def switch(client: TestClient, name: str, **body: Any) -> None:
    response = client.put(f"/sandbox/faults/lps/{name}", json={"on": True, "calls": 1, **body})
    assert response.status_code == 200, response.text


def _later(context: SandboxContext, minutes: int) -> None:
    context.clock.travel_to(context.clock.now() + timedelta(minutes=minutes))


def test_the_answer_modes_for_one_message_each(client: TestClient) -> None:
    switch(client, "mode-fatal")
    assert send(client)["ack"] == "fatal-error"
    switch(client, "mode-transient")
    assert send(client)["ack"] == "transient-error"
    assert send(client)["ack"] == "ok"  # both used up
    switches(client, mode="fatal")  # PUT /lps/switches as before; a fault switch wins for its calls
    switch(client, "mode-ok")
    assert send(client)["ack"] == "ok"
    assert send(client)["ack"] == "fatal-error"


def test_withhold_twice_and_delay(client: TestClient, context: SandboxContext) -> None:
    switch(client, "withhold")
    assert send(client)["ack"] == "pending"
    switch(client, "twice")
    doubled = send(client)
    assert [a["verdict"] for a in doubled["ack_log"]] == ["applied", "duplicate"]
    switch(client, "delay", minutes=5)
    delayed = send(client)
    assert delayed["ack"] == "pending"
    assert send(client)["ack"] == "ok"
    _later(context, 6)
    assert len(client.post("/lps/outbox/deliver").json()["delivered"]) == 1
    assert status(client, delayed["id"])["ack"] == "ok"


def test_a_duplicate_acknowledgement_with_different_content(client: TestClient) -> None:
    switch(client, "ack-duplicate-different")
    sent = send(client)
    ack = lps_received(client, sent["id"])[0]["ack"]
    assert ack["entry"][0]["resource"]["response"]["code"] == "ok"
    log = status(client, sent["id"])["ack_log"]
    # The same envelope (Bundle.id) twice, with another answer the second time.
    assert [(a["code"], a["verdict"]) for a in log] == [("ok", "applied"), ("transient-error", "duplicate")]
    assert log[0]["bundle_id"] == log[1]["bundle_id"] == ack["id"]
    assert len(status(client, send(client)["id"])["ack_log"]) == 1  # used up


def test_a_late_acknowledgement_comes_after_the_resend(client: TestClient, context: SandboxContext) -> None:
    switch(client, "ack-late")
    sent = send(client)
    assert sent["ack"] == "pending"
    _later(context, 31)  # MedCom: resend after 30 minutes without an acknowledgement
    assert [m["id"] for m in client.post("/eoj/hco/resend-due").json()] == [sent["id"]]
    assert status(client, sent["id"])["ack"] == "ok"  # the resend was answered at once
    _later(context, 5)  # 36 minutes after the first sending: the late one comes
    delivered = client.post("/lps/outbox/deliver").json()["delivered"]
    assert len(delivered) == 1 and "HTTP 202" in delivered[0]
    log = status(client, sent["id"])["ack_log"]
    assert [(a["code"], a["verdict"]) for a in log] == [("ok", "applied"), ("ok", "duplicate")]  # the late one
    assert send(client)["ack"] == "ok"  # used up: acknowledged at once again
