"""The GP emulator's inbox: layered validation, the acknowledgement each fault deserves, duplicates,
and what the GP sees."""

from __future__ import annotations

import copy
import json
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from actor_tokens import operator
from event_loop import database_work_on_the_loop, threads_it_runs_on
from face_access import bearer, stranger
from fastapi.testclient import TestClient
from hco_flow import CPR, SKODSTRUP, order, send, status, switches

from nsp_sandbox import hco_versions
from nsp_sandbox.context import SandboxContext

ACK_BUNDLE = "http://medcomfhir.dk/ig/acknowledgement/StructureDefinition/medcom-messaging-acknowledgement"
FHIR = {"Content-Type": "application/fhir+json"}
FAULTS = {
    "wrong-event-code": "MSG_UNKNOWN_TYPE",
    "missing-cpr": "MSG_RESOURCE_REQUIRED",
    "unknown-npu-code": "MSG_CodeSystem_VALUE_UNKNOWN",
    "missing-value": "MSG_Datatype_Wrong",
    "role-without-code": "MSG_BAD_FORMAT",
    "result-over-12-characters": "MSG_Element_To_Long",
    "cc-destination": "MSG_BAD_FORMAT",
    "unknown-receiver": "MSG_Receiver_Identifier_UNKNOWN",
    "correction-of-unknown-original": "MSG_NO_EXIST",
    "reused-bundle-id": "MSG_DUPLICATE_ID",
}


def _ack_of(client: TestClient, header_id: str) -> dict[str, Any]:
    received = client.get("/lps/received", params={"header_id": header_id}).json()
    return received[0]["ack"]  # type: ignore[no-any-return]


def _as(client: TestClient, persona: str) -> dict[str, str]:
    return bearer(client, persona, "lps")


def test_the_corpus_lists_every_fault_with_its_expected_acknowledgement(client: TestClient) -> None:
    cases = {c["name"]: c for c in client.get("/eoj/corpus").json()}
    for name, code in FAULTS.items():
        assert cases[name]["expected"] == "fatal-error"
        assert cases[name]["expected_issue"] == code
    examples = [c for c in cases.values() if c["name"].startswith("example:")]
    assert len(examples) == 9 and all(c["expected"] == "ok" for c in examples)


@pytest.mark.parametrize(("fault", "code"), list(FAULTS.items()))
def test_each_fault_gets_its_negative_acknowledgement(client: TestClient, context: SandboxContext, validator,  # type: ignore[no-untyped-def]
                                                      fault: str, code: str) -> None:
    response = client.post("/eoj/corpus/run", params={"receiver": SKODSTRUP, "case": fault})
    assert response.status_code == 200, response.text
    result = response.json()[-1]
    assert result["case"] == fault
    if fault == "correction-of-unknown-original":
        # Held for its original first (it may still come); refused when the hold ends.
        assert result["ack"] == "pending" and result["result"] == "pending"
        context.clock.travel_to(context.clock.now() + timedelta(minutes=context.settings.lps_hold_minutes, seconds=1))
        assert len(operator(client).post("/lps/outbox/deliver").json()["released"]) == 1
        later = status(client, result["message"])
        codes = [c["code"] for i in later["ack_outcome"]["issue"] for c in i["details"]["coding"]]
        result = {**result, "ack": later["ack"], "issues": codes, "result": "pass" if code in codes else "FAIL"}
    assert result["ack"] == "fatal-error", result
    assert code in result["issues"], result
    assert result["result"] == "pass"
    ack = _ack_of(client, result["message"]) if fault != "reused-bundle-id" else \
        client.get("/lps/received", params={"header_id": result["message"]}).json()[-1]["ack"]
    assert [i.diagnostics for i in validator.validate(ack, ACK_BUNDLE) if i.is_error] == []
    header = ack["entry"][0]["resource"]
    assert header["response"]["identifier"] == result["message"]
    outcome = next(e["resource"] for e in ack["entry"] if e["resource"]["resourceType"] == "OperationOutcome")
    assert header["response"]["details"]["reference"] == f"OperationOutcome/{outcome['id']}"


def test_the_official_examples_are_accepted_re_stamped(client: TestClient, validator) -> None:  # type: ignore[no-untyped-def]
    results = client.post("/eoj/corpus/run", params={"receiver": SKODSTRUP, "case": "examples"}).json()
    assert len(results) == 9
    assert all(r["ack"] == "ok" and r["result"] == "pass" for r in results), results
    gps = ("gp-skodstrup", "gp-agerskov")  # the examples keep their receivers, the two practices
    received = {r["header_id"]: r for gp in gps
                for r in stranger(client).get("/lps/received", headers=_as(client, gp)).json()}
    assert set(received) == {r["message"] for r in results}
    for r in results:
        assert [i.diagnostics for i in validator.validate(received[r["message"]]["ack"], ACK_BUNDLE)
                if i.is_error] == []
    # The modification and the cancellation of 401cbc36 stayed linked after re-stamping.
    view = [m for gp in gps for m in stranger(client).get("/lps/inbox", params={"cpr": CPR},
                                                           headers=_as(client, gp)).json()]
    cancelled = [m for m in view if m["status"] == "cancelled"]
    assert len(cancelled) == 1
    assert cancelled[0]["cancellation_reason"] == "Cancellation due to incorrect CPR-number"
    assert [h["activity"] for h in cancelled[0]["history"]] == ["new-message", "modified-message", "retract-message"]
    assert any(m["refused_consent"] for m in view)


def test_a_duplicate_gets_the_identical_acknowledgement(client: TestClient) -> None:
    sent = send(client)
    bundle = sent["bundle"]
    first = _ack_of(client, sent["id"])
    again = client.post("/lps/ehmi", json=bundle, headers=FHIR)
    assert again.status_code == 202 and again.json()["verdict"] == "duplicate"
    received = client.get("/lps/received", params={"header_id": sent["id"]}).json()
    assert [r["verdict"] for r in received] == ["accepted", "duplicate"]
    second = received[1]["ack"]
    assert second["id"] != first["id"]  # a new envelope …
    assert second["entry"] == first["entry"]  # … around the same content
    view = client.get("/lps/inbox", params={"cpr": CPR}).json()
    assert len(view) == 1 and len(view[0]["history"]) == 1  # the GP does not see it twice


def test_an_acknowledgement_is_never_acknowledged(client: TestClient) -> None:
    sent = send(client)
    ack = _ack_of(client, sent["id"])
    response = client.post("/lps/ehmi", json=ack, headers=FHIR)
    assert response.status_code == 422
    assert "never acknowledged" in response.json()["issue"][0]["details"]["text"]
    assert len(client.get("/lps/received").json()) == 1


def test_a_modification_must_keep_the_cpr(client: TestClient) -> None:
    sent = send(client)
    modified = client.post(f"/eoj/hco/{sent['id']}/modify", json={"clinical_comment": "ny"}).json()
    assert modified["ack"] == "ok"
    bundle = copy.deepcopy(modified["bundle"])
    text = json.dumps(bundle).replace(modified["id"], "5c3a8bd6-2a8c-4f4e-9a43-000000000001")
    bundle = json.loads(text)
    bundle["id"] = "5c3a8bd6-2a8c-4f4e-9a43-000000000002"
    patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    patient["identifier"][0]["value"] = "0101010101"
    response = client.post("/eoj/messages", json=bundle, headers=FHIR)
    assert response.status_code == 201, response.text
    result = response.json()
    assert result["ack"] == "fatal-error"
    rules = [i["details"]["text"] for i in result["ack_outcome"]["issue"]]
    assert any("hco-modify-keeps-cpr" in r for r in rules), rules


def test_the_gp_sees_the_newest_version_with_corrections_marked(client: TestClient) -> None:
    sent = send(client)
    client.post(f"/eoj/hco/{sent['id']}/modify", json={"observations": [{"code": "NPU22089", "value": 7.9}]})
    (message,) = client.get("/lps/inbox", params={"cpr": CPR}).json()
    assert message["status"] == "corrected" and not message["archived"]
    results = {r["code"]: r for r in message["results"]}
    assert results["NPU22089"]["value"] == 7.9 and results["NPU22089"]["mark"] == "R"
    assert results["NPU19748"]["mark"] is None
    assert len(message["history"]) == 2
    client.post(f"/eoj/hco/{sent['id']}/retract", json={"reason": "Cancellation due to incorrect receiver"})
    (message,) = client.get("/lps/inbox", params={"cpr": CPR}).json()
    assert message["status"] == "cancelled" and message["archived"]
    assert message["cancellation_reason"] == "Cancellation due to incorrect receiver"
    assert client.get("/lps/inbox", params={"cpr": "0101010101"}).json() == []


def test_behaviour_switches_are_checked(client: TestClient) -> None:
    assert client.get("/lps/switches").json() == {"mode": "normal", "withhold": False, "twice": False,
                                                  "delay_minutes": 0, "receipt": True}
    for bad in ({"mode": "sometimes"}, {"withhold": "yes"}, {"delay_minutes": -1}, {"colour": "red"}):
        response = operator(client).put("/lps/switches", json=bad)
        assert response.status_code == 422 and response.json()["resourceType"] == "OperationOutcome"
    switches(client, mode="ok")
    lenient = client.post("/eoj/corpus/run", params={"receiver": SKODSTRUP, "case": "missing-value"}).json()[-1]
    assert lenient["ack"] == "ok"  # always ok: the findings travel as warnings
    assert lenient["issues"] == ["MSG_Datatype_Wrong"]


def test_unreadable_input_is_an_outcome(client: TestClient) -> None:
    bad = client.post("/lps/ehmi", content=b"[]", headers=FHIR)
    assert bad.status_code == 400 and bad.json()["resourceType"] == "OperationOutcome"
    empty = client.post("/lps/ehmi", json={"resourceType": "Bundle", "type": "message"}, headers=FHIR)
    assert empty.status_code == 422 and empty.json()["resourceType"] == "OperationOutcome"
    assert {p["sor"] for p in client.get("/lps/practices").json()} >= {SKODSTRUP}


def test_the_message_is_validated_in_the_cpu_lane_where_it_is_sent_and_received(
        client: TestClient, context: SandboxContext, monkeypatch: pytest.MonkeyPatch) -> None:
    """The EOJ that builds an HCO message and the GP system that receives it validate it in the process's CPU
    lane (as DDS validates what it is given), not on the event loop that serves the other requests."""
    threads = threads_it_runs_on(monkeypatch, hco_versions, "validate")
    sent = send(client)
    assert status(client, sent["id"])["ack"] == "ok"
    lane = context.cpu_lane.name
    assert len(threads) >= 2 and all(name.startswith(f"{lane}_") for name in threads), threads


def test_the_inbox_does_its_database_work_off_the_event_loop(client: TestClient, context: SandboxContext,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A message received, stored and acknowledged, and sent again (a duplicate): the GP system's database work
    is on worker threads, so that the event loop goes on with other requests meanwhile."""
    on_the_loop = database_work_on_the_loop(monkeypatch, "services/lps/")
    sent = send(client)
    assert status(client, sent["id"])["ack"] == "ok"
    again = client.post("/lps/ehmi", json=sent["bundle"], headers=FHIR)
    assert again.status_code == 202 and again.json()["verdict"] == "duplicate", again.text
    assert on_the_loop == []


def test_a_message_arriving_several_times_at_once_is_taken_in_once(context: SandboxContext) -> None:
    """Sent at the same moment by six connections over real HTTP, one message is accepted once and the other
    five are duplicates with the same answer: the inbox decides one message at a time from its look-up of
    earlier copies to the stored answer, though the checks wait for the CPU lane in between."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dds"))
    from served import Racers, serve

    with serve(context) as base_url, Racers(base_url, 6) as racers:
        taken_in_once(racers, a_sent_message(base_url))


def test_a_message_arriving_at_two_workers_at_once_is_taken_in_once(context: SandboxContext,
                                                                     database_url: str) -> None:
    """The same through two sandboxes on one database, as ``up --workers 2`` runs: neither's lock holds the
    other back, so an answer is kept only while no other worker answered a copy since its look-up, and the
    message is judged again (a duplicate) when one did. (The behaviour switches changed through both at once
    first: no change is lost.)"""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dds"))
    import httpx2 as httpx
    from served import Racers, two_workers

    with two_workers(context, database_url) as (first, second), Racers([first, second], 6) as racers:
        message = a_sent_message(first)
        # the behaviour switches changed at once through both, each a different one: every change is kept
        changed = {"withhold": True, "twice": True, "delay_minutes": 5, "receipt": False, "mode": "normal"}
        answers = racers.race([lambda c, k=k: c.put("/lps/switches", json={k: changed[k]})
                               for k in [*changed, "withhold"]])
        assert [a.status_code for a in answers] == [200] * 6, [a.text for a in answers]
        with httpx.Client(base_url=second, timeout=60) as two:
            assert {k: v for k, v in two.get("/lps/switches").json().items() if k in changed} == changed
            assert two.put("/lps/switches", json={"withhold": False, "twice": False, "delay_minutes": 0,
                                                  "receipt": True}).status_code == 200
        for _ in range(3):
            taken_in_once(racers, message)


def a_sent_message(base_url: str) -> dict[str, Any]:
    """An HCO message the sandbox's EOJ sent (and the GP system took) over real HTTP, as it was sent."""
    import httpx2 as httpx

    with httpx.Client(base_url=base_url, timeout=60) as one:
        sent = one.post("/eoj/hco", json=order(), headers=bearer(one, "system-eoj-aarhus", "eoj"))  # type: ignore[arg-type]
    assert sent.status_code == 201, sent.text
    return sent.json()  # type: ignore[no-any-return]


def taken_in_once(racers: Any, sent: dict[str, Any]) -> None:
    """A new copy of ``sent`` (new MessageHeader.id and Bundle.id) posted to the GP system by every one of
    ``racers`` at once: accepted once, the other copies duplicates with the same answer."""
    fresh = json.dumps(sent["bundle"]).replace(sent["id"], str(uuid.uuid4())).replace(
        sent["bundle"]["id"], str(uuid.uuid4())).encode()
    answers = racers.race([lambda c: c.post("/lps/ehmi", content=fresh, headers=FHIR)] * racers.width)
    assert all(a.status_code == 202 for a in answers), [a.text for a in answers]
    assert sorted(a.json()["verdict"] for a in answers) == ["accepted"] + ["duplicate"] * (racers.width - 1)
    assert len({a.json()["ack"] for a in answers}) == 1  # the same answer each time
