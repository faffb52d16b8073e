"""A modification or retraction that overtakes its original (``hco.md`` §7.1: "an error, or a pending
state if the original has not arrived yet"): the GP inbox holds it without an acknowledgement, shows
it as pending, and applies it when the original arrives; when the original does not come within the
hold time it is refused ``MSG_NO_EXIST``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from actor_tokens import operator
from fastapi.testclient import TestClient
from hco_flow import CPR, lps_received

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.hco_examples import example_messages
from services.eoj_sender.replay_corpus import restamp

FHIR = {"Content-Type": "application/fhir+json"}
NEW, MODIFIED, CANCELLED = ("Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json",
                            "Bundle-73996cdc-3192-4d15-bd16-c365ef0085e7.json",
                            "Bundle-5f341feb-9a20-463a-96cc-a9ca8ace5567.json")


def _chain(context: SandboxContext) -> dict[str, dict[str, Any]]:
    """The official new → modified → cancelled example chain, re-stamped, still linked."""
    examples = dict(example_messages(context.packages))
    header_ids: dict[str, str] = {}
    return {name: restamp(examples[name], header_ids) for name in (NEW, MODIFIED, CANCELLED)}


def _post(client: TestClient, bundle: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/lps/ehmi", json=bundle, headers=FHIR)
    assert response.status_code == 202, response.text
    return response.json()  # type: ignore[no-any-return]


def _header(bundle: dict[str, Any]) -> str:
    return str(bundle["entry"][0]["resource"]["id"])


def test_corrections_that_overtake_their_original_are_held_and_applied_when_it_arrives(
        client: TestClient, context: SandboxContext) -> None:
    chain = _chain(context)
    cancelled = _post(client, chain[CANCELLED])
    assert (cancelled["verdict"], cancelled["ack"]) == ("held", None)
    assert _header(chain[NEW]) in cancelled["delivery"]
    modified = _post(client, chain[MODIFIED])
    assert modified["verdict"] == "held"
    pending = client.get("/lps/inbox", params={"cpr": CPR}).json()
    assert [(m["status"], m["activity"], m["waiting_for"]) for m in pending] == [
        ("pending", "retract-message", _header(chain[NEW])), ("pending", "modified-message", _header(chain[NEW]))]
    assert [r["ack_code"] for r in lps_received(client, _header(chain[MODIFIED]))] == ["pending"]

    original = _post(client, chain[NEW])
    assert (original["verdict"], original["ack"]) == ("accepted", "ok")
    # Both were checked and answered once the original was in; the retraction still ends the chain.
    for name in (MODIFIED, CANCELLED):
        (row,) = lps_received(client, _header(chain[name]))
        assert (row["verdict"], row["ack_code"]) == ("accepted", "ok")
        assert row["ack"]["entry"][0]["resource"]["response"]["identifier"] == _header(chain[name])
    (message,) = client.get("/lps/inbox", params={"cpr": CPR}).json()
    assert message["message"] == _header(chain[NEW])
    assert message["status"] == "cancelled" and message["archived"]
    assert message["cancellation_reason"] == "Cancellation due to incorrect CPR-number"
    assert [h["activity"] for h in message["history"]] == ["new-message", "modified-message", "retract-message"]


def test_a_resent_held_message_stays_held(client: TestClient, context: SandboxContext) -> None:
    chain = _chain(context)
    _post(client, chain[MODIFIED])
    again = _post(client, {**chain[MODIFIED], "id": "0f7c2a51-6f43-4c1e-9d3e-2d2b7f1a0001"})
    assert (again["verdict"], again["ack"]) == ("held", None)
    assert [r["verdict"] for r in lps_received(client, _header(chain[MODIFIED]))] == ["held", "duplicate"]
    _post(client, chain[NEW])
    assert lps_received(client, _header(chain[MODIFIED]))[0]["ack_code"] == "ok"


def test_a_held_correction_whose_original_never_comes_is_refused_when_the_hold_ends(
        client: TestClient, context: SandboxContext) -> None:
    chain = _chain(context)
    assert _post(client, chain[MODIFIED])["verdict"] == "held"
    hold = timedelta(minutes=context.settings.lps_hold_minutes)
    context.clock.travel_to(context.clock.now() + hold - timedelta(seconds=5))
    assert operator(client).post("/lps/outbox/deliver").json()["released"] == []  # not yet
    context.clock.travel_to(context.clock.now() + timedelta(seconds=10))
    (released,) = operator(client).post("/lps/outbox/deliver").json()["released"]
    assert released.startswith("held message answered fatal-error")
    (row,) = lps_received(client, _header(chain[MODIFIED]))
    assert (row["verdict"], row["ack_code"]) == ("rejected", "fatal-error")
    outcome = next(e["resource"] for e in row["ack"]["entry"] if e["resource"]["resourceType"] == "OperationOutcome")
    assert [c["code"] for i in outcome["issue"] for c in i["details"]["coding"]] == ["MSG_NO_EXIST"]
    assert client.get("/lps/inbox", params={"cpr": CPR}).json() == []
    # The original arriving late is a message of its own; the refusal is never overturned.
    assert _post(client, chain[NEW])["ack"] == "ok"
    assert lps_received(client, _header(chain[MODIFIED]))[0]["ack_code"] == "fatal-error"


def test_without_a_hold_time_the_correction_is_refused_at_once(client: TestClient, context: SandboxContext) -> None:
    context.settings.lps_hold_minutes = 0
    chain = _chain(context)
    refused = _post(client, chain[MODIFIED])
    assert (refused["verdict"], refused["ack"]) == ("rejected", "fatal-error")
    (row,) = lps_received(client, _header(chain[MODIFIED]))
    assert any(i["msg_code"] == "MSG_NO_EXIST" for i in row["issues"])


def test_a_correction_of_a_refused_original_is_answered_with_the_original(client: TestClient,
                                                                          context: SandboxContext) -> None:
    chain = _chain(context)
    assert _post(client, chain[MODIFIED])["verdict"] == "held"
    broken = chain[NEW]
    report = next(e["resource"] for e in broken["entry"] if e["resource"]["resourceType"] == "Observation")
    report.pop("valueQuantity", None)  # the original itself is refused (a result without a value)
    assert _post(client, broken)["ack"] == "fatal-error"
    (row,) = lps_received(client, _header(chain[MODIFIED]))
    assert (row["verdict"], row["ack_code"]) == ("rejected", "fatal-error")
