"""The EOJ follows acknowledgements as MedCom reliable messaging says: positive, negative, missing
(resend after 30 minutes on the sandbox clock, at most twice), duplicate (ignored and logged)."""

from __future__ import annotations

import copy
import sys
from datetime import timedelta
from pathlib import Path

import httpx2 as httpx
from actor_tokens import GP_PERSONA, operator
from fastapi.testclient import TestClient
from hco_flow import order, send, status, switches
from sts_client import auth

from nsp_sandbox.context import SandboxContext

FHIR = {"Content-Type": "application/fhir+json"}


def _later(context: SandboxContext, minutes: int) -> None:
    context.clock.travel_to(context.clock.now() + timedelta(minutes=minutes))


def test_a_positive_acknowledgement_arrives_for_the_message(client: TestClient) -> None:
    sent = send(client)
    assert sent["ack"] == "ok"
    assert [a["verdict"] for a in sent["ack_log"]] == ["applied"]
    received = client.get("/lps/received", params={"header_id": sent["id"]}).json()
    assert received[0]["ack"]["entry"][0]["resource"]["response"] == {"identifier": sent["id"], "code": "ok"}
    assert sent["resend_due_at"] is None


def test_withheld_acknowledgement_is_resent_after_the_timeout_at_most_twice(client: TestClient,
                                                                             context: SandboxContext) -> None:
    switches(client, withhold=True)
    sent = send(client)
    assert sent["ack"] == "pending"
    too_early = client.post(f"/eoj/hco/{sent['id']}/resend")
    assert too_early.status_code == 409
    assert "not overdue" in too_early.text
    assert client.post("/eoj/hco/resend-due").json() == []

    _later(context, 31)
    resent = client.post("/eoj/hco/resend-due").json()
    assert [m["id"] for m in resent] == [sent["id"]]
    first = status(client, sent["id"])
    assert len(first["resends"]) == 1
    assert first["bundle_id"] != sent["bundle_id"]  # a new envelope, the same MessageHeader.id
    assert first["bundle"]["entry"][0]["resource"]["id"] == sent["id"]
    # The GP system recognised the resend (same MessageHeader.id) and did not show it twice.
    received = client.get("/lps/received", params={"header_id": sent["id"]}).json()
    assert [r["verdict"] for r in received] == ["accepted", "duplicate"]

    _later(context, 31)
    assert client.post(f"/eoj/hco/{sent['id']}/resend").status_code == 200
    _later(context, 31)
    third = client.post(f"/eoj/hco/{sent['id']}/resend")
    assert third.status_code == 409
    assert "at most 2" in third.text
    assert status(client, sent["id"])["ack"] == "pending"
    assert status(client, sent["id"])["resend_due_at"] is None


def test_a_resend_gets_the_original_answer_once_the_gp_stops_withholding(client: TestClient,
                                                                         context: SandboxContext) -> None:
    switches(client, withhold=True)
    sent = send(client)
    switches(client, withhold=False)
    _later(context, 31)
    after = client.post(f"/eoj/hco/{sent['id']}/resend").json()
    assert after["ack"] == "ok"
    assert client.post(f"/eoj/hco/{sent['id']}/resend").status_code == 409  # acknowledged: nothing to resend


def test_duplicate_acknowledgements_are_ignored_and_logged(client: TestClient) -> None:
    switches(client, twice=True)
    sent = send(client)
    assert sent["ack"] == "ok"
    assert [a["verdict"] for a in sent["ack_log"]] == ["applied", "duplicate"]
    # A contradicting answer never overturns a final one.
    ack = copy.deepcopy(client.get("/lps/received", params={"header_id": sent["id"]}).json()[0]["ack"])
    ack["id"] = "another-envelope"
    ack["entry"][0]["resource"]["response"]["code"] = "fatal-error"
    response = client.post("/eoj/ehmi", json=ack, headers={"Content-Type": "application/fhir+json"})
    assert response.status_code == 202
    assert response.json()["verdict"] == "contradicts"
    after = status(client, sent["id"])
    assert after["ack"] == "ok"
    assert [a["verdict"] for a in after["ack_log"]] == ["applied", "duplicate", "contradicts"]


def test_negative_and_transient_acknowledgements(client: TestClient, context: SandboxContext) -> None:
    switches(client, mode="fatal")
    refused = send(client)
    assert refused["ack"] == "fatal-error"
    assert refused["ack_outcome"]["resourceType"] == "OperationOutcome"
    # the DDS copy is a secondary delivery sent with the message: the GP's answer does not decide it
    assert refused["dds"]["entry"] is not None and refused["dds"]["state"] == "shared"
    assert refused["resend_due_at"] is None

    switches(client, mode="transient")
    busy = send(client)
    assert busy["ack"] == "transient-error"
    codes = [c["code"] for i in busy["ack_outcome"]["issue"] for c in i["details"]["coding"]]
    assert codes == ["MSG_Mailbox_Out_Of_Operation"]
    switches(client, mode="normal")
    _later(context, 31)
    retried = client.post(f"/eoj/hco/{busy['id']}/resend").json()
    assert retried["ack"] == "ok"  # a transient error is processed again on resend
    assert retried["dds"]["entry"] is not None


def test_a_delayed_acknowledgement_arrives_when_due_on_the_sandbox_clock(client: TestClient,
                                                                         context: SandboxContext) -> None:
    switches(client, delay_minutes=10)
    sent = send(client)
    assert sent["ack"] == "pending"
    assert operator(client).post("/lps/outbox/deliver").json()["delivered"] == []
    _later(context, 11)
    delivered = operator(client).post("/lps/outbox/deliver").json()["delivered"]
    assert len(delivered) == 1 and "HTTP 202" in delivered[0]
    assert status(client, sent["id"])["ack"] == "ok"


def test_acknowledgement_face_refuses_what_is_not_an_acknowledgement(client: TestClient) -> None:
    sent = send(client)
    response = client.post("/eoj/ehmi", json=sent["bundle"], headers={"Content-Type": "application/fhir+json"})
    assert response.status_code == 422
    assert response.json()["resourceType"] == "OperationOutcome"
    ack = copy.deepcopy(client.get("/lps/received", params={"header_id": sent["id"]}).json()[0]["ack"])
    ack["id"] = "x"
    ack["entry"][0]["resource"]["response"]["identifier"] = "never-sent"
    unknown = client.post("/eoj/ehmi", json=ack, headers={"Content-Type": "application/fhir+json"})
    assert unknown.status_code == 202 and unknown.json()["verdict"] == "unknown-message"


def test_every_acknowledgement_is_kept_as_read_and_listed(client: TestClient, context: SandboxContext) -> None:
    before = context.clock.now()
    switches(client, twice=True)
    sent = send(client)
    kept = client.get("/eoj/acks", params={"message": sent["id"]})
    assert kept.status_code == 200, kept.text
    assert [a["verdict"] for a in kept.json()] == ["applied", "duplicate"]
    received = client.get("/lps/received", params={"header_id": sent["id"]}).json()[0]["ack"]
    assert [a["bundle"] for a in kept.json()] == [received, received]  # each copy as it came, in full
    # An acknowledgement of a message this EOJ never sent is kept too, under the identifier it answers.
    stray = copy.deepcopy(received)
    stray["id"], stray["entry"][0]["resource"]["response"]["identifier"] = "stray-envelope", "never-sent"
    assert client.post("/eoj/ehmi", json=stray, headers={"Content-Type": "application/fhir+json"}).status_code == 202
    assert [a["verdict"] for a in client.get("/eoj/acks", params={"message": "never-sent"}).json()] == [
        "unknown-message"]
    since = client.get("/eoj/acks", params={"since": before.isoformat()}).json()
    assert [a["response_to"] for a in since] == [sent["id"], sent["id"], "never-sent"]
    later = (context.clock.now() + timedelta(minutes=1)).isoformat()
    assert client.get("/eoj/acks", params={"since": later}).json() == []
    refused = client.get("/eoj/acks", params={"since": "yesterday"})
    assert refused.status_code == 400 and refused.json()["issue"][0]["expression"] == ["since"]
    client.auth = None
    assert client.get("/eoj/acks").status_code == 401  # the EOJ's own staff read what came back


def test_one_acknowledgement_arriving_at_two_workers_at_once_is_applied_once(context: SandboxContext,
                                                                              database_url: str) -> None:
    """Two sandboxes on one database, as ``up --workers 2`` runs, each given the same acknowledgement three times
    at once: it is applied once and the other five are duplicates."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dds"))
    from served import Racers, two_workers

    with two_workers(context, database_url) as (first, second), Racers([first, second], 6) as racers, \
            httpx.Client(base_url=first, timeout=60) as one:
        headers = auth(one, "system-eoj-aarhus", "eoj")
        assert one.put("/lps/switches", json={"withhold": True}).status_code == 200
        sent = one.post("/eoj/hco", json=order(), headers=headers).json()
        assert sent["ack"] == "pending"
        ack = one.get("/lps/received", params={"header_id": sent["id"]},
                      headers=auth(one, GP_PERSONA, "lps")).json()[0]["ack"]
        answers = racers.race([lambda c: c.post("/eoj/ehmi", json=ack, headers=FHIR)] * 6)
        assert [a.status_code for a in answers] == [202] * 6, [a.text for a in answers]
        assert sorted(a.json()["verdict"] for a in answers) == ["applied"] + ["duplicate"] * 5
        assert one.get(f"/eoj/hco/{sent['id']}", headers=headers).json()["ack"] == "ok"
