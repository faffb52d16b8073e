"""Sizes on EHMI: a message is at most 100 MB (``hco_max_message_bytes``), a comment at most 1 MB. Each is
answered with a negative acknowledgement naming the rule and ``MSG_Element_To_Long`` — also a message too
large to read whole (its beginning says whose it is) — or, for an SBDH envelope too large to read, an SBDH
ReceiptException; never a bare 413. The general body limit no longer cuts off valid messages."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from hco_flow import lps_received, send, status

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.hco_sbdh import wrap
from nsp_sandbox.message_size import message_bytes, read_limit
from services.eoj_sender.replay_corpus import restamp

FHIR = {"Content-Type": "application/fhir+json"}
MEDCOM = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-acknowledgement-error-codes"


def _with_comment(bundle: dict[str, Any], comment: str) -> dict[str, Any]:
    bundle = restamp(bundle)
    report = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "DiagnosticReport")
    report["conclusion"] = comment
    return bundle


def _answer(client: TestClient, bundle: dict[str, Any]) -> tuple[str | None, list[dict[str, Any]]]:
    """What the GP inbox answered ``bundle`` with: the acknowledgement code and its issues."""
    (received,) = lps_received(client, bundle["entry"][0]["resource"]["id"])
    return received["ack_code"], received["issues"]


def test_a_comment_over_1_mb_gets_a_negative_acknowledgement(client: TestClient) -> None:
    bundle = _with_comment(status(client, send(client)["id"])["bundle"], "x" * (1_048_576 + 1))
    response = client.post("/lps/ehmi", content=json.dumps(bundle), headers=FHIR)
    assert response.status_code == 202 and response.json()["ack"] == "fatal-error", response.text
    code, issues = _answer(client, bundle)
    assert code == "fatal-error"
    assert any(i["msg_code"] == "MSG_Element_To_Long" and "hco-comment-length" in str(i) for i in issues), issues


def test_a_comment_of_exactly_1_mb_is_fine(client: TestClient) -> None:
    bundle = _with_comment(status(client, send(client)["id"])["bundle"], "x" * 1_048_576)
    response = client.post("/lps/ehmi", content=json.dumps(bundle), headers=FHIR)
    assert response.status_code == 202 and response.json()["ack"] == "ok", response.text


def test_a_message_over_the_limit_is_refused_by_its_size_with_an_acknowledgement(client: TestClient,
                                                                                 context: SandboxContext) -> None:
    bundle = _with_comment(status(client, send(client)["id"])["bundle"], "y" * 90_000)
    context.settings.hco_max_message_bytes = 60_000  # scaled down: the rule, not the 100 MB
    assert message_bytes(bundle) > 60_000
    response = client.post("/lps/ehmi", content=json.dumps(bundle), headers=FHIR)
    assert response.status_code == 202 and response.json()["ack"] == "fatal-error", response.text
    code, issues = _answer(client, bundle)
    assert code == "fatal-error"
    assert [(i["msg_code"], i["details"]["coding"][-1]["code"]) for i in issues] == [
        ("MSG_Element_To_Long", "hco-message-size")]
    # the EOJ does not send one: refused before anything travels
    refused = client.post("/eoj/messages", content=json.dumps(restamp(bundle)), headers=FHIR)
    assert refused.status_code == 422 and "hco-message-size" in refused.text and "MSG_Element_To_Long" in refused.text


def test_a_body_too_large_to_read_is_still_acknowledged_negatively(client: TestClient,
                                                                   context: SandboxContext) -> None:
    bundle = _with_comment(status(client, send(client)["id"])["bundle"], "z" * 1_300_000)
    context.settings.hco_max_message_bytes = 10_000
    assert len(json.dumps(bundle)) > read_limit(10_000)
    response = client.post("/lps/ehmi", content=json.dumps(bundle), headers=FHIR)
    assert response.status_code == 202, response.text
    assert response.json()["verdict"] == "rejected" and response.json()["ack"] == "fatal-error"
    code, issues = _answer(client, bundle)
    assert code == "fatal-error" and issues[0]["msg_code"] == "MSG_Element_To_Long"
    assert f"over {read_limit(10_000)} bytes" in issues[0]["diagnostics"]


def test_an_envelope_too_large_to_read_gets_a_receipt_exception(client: TestClient, context: SandboxContext) -> None:
    bundle = _with_comment(status(client, send(client)["id"])["bundle"], "z" * 1_300_000)
    raw, _ = wrap(bundle, context.clock.now())
    context.settings.hco_max_message_bytes = 10_000
    response = client.post("/lps/ehmi", content=raw, headers={"Content-Type": "application/xml"})
    assert response.status_code == 413
    (issue,) = response.json()["issue"]
    codes = [c["code"] for c in issue["details"]["coding"]]
    assert "hco-message-size" in codes and "MSG_Element_To_Long" in codes
    assert "ReceiptException sent to" in issue["diagnostics"] and "HTTP 202" in issue["diagnostics"]


def test_a_message_over_the_general_body_limit_but_within_100_mb_is_taken(client: TestClient,
                                                                          context: SandboxContext) -> None:
    context.settings.max_body_bytes = 50_000  # the sandbox's general request limit (20 MB by default)
    sent = send(client, clinical_comment="w" * 200_000)
    assert sent["ack"] == "ok", sent
    bundle = _with_comment(status(client, sent["id"])["bundle"], "v" * 200_000)
    ready = client.post("/eoj/messages", content=json.dumps(bundle), headers=FHIR)
    assert ready.status_code == 201 and ready.json()["ack"] == "ok", ready.text
