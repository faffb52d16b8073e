"""EHMI envelope receipts (``ehmisbdh-acknowledgement``): the GP inbox answers an SBDH envelope that asks
for one with a ReceiptAcknowledgement at once (sender and receiver swapped, the original envelope and
message named); the EOJ records each receipt against the envelope it sent, in time or late, and marks a
missing one overdue after the configurable deadline; it receipts an enveloped acknowledgement itself."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from hco_flow import SKODSTRUP, send, status, switches
from lxml import etree

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.hco_sbdh import SBDH_NS, Envelope, unwrap, wrap
from nsp_sandbox.sbdh_receipt import build_receipt, read_receipt
from services.eoj_sender.replay_corpus import restamp

XML = {"Content-Type": "application/xml"}


def _use_sbdh(client: TestClient) -> None:
    endpoint = next(e for e in client.get("/eoj/endpoints").json() if e["sor"] == SKODSTRUP)
    assert client.put("/eoj/endpoints", json={**endpoint, "envelope": "sbdh"}).status_code == 200


def test_the_gp_inbox_receipts_an_envelope_and_the_eoj_records_it(client: TestClient) -> None:
    _use_sbdh(client)
    sent = send(client)
    (receipt,) = sent["receipts"]
    assert receipt["state"] == "received" and receipt["kind"] == "ReceiptAcknowledgement"
    assert receipt["envelope"] in sent["send_result"]
    assert receipt["received_at"] <= receipt["expected_by"]
    # a bare message asks for no receipt
    assert client.put("/eoj/endpoints", json={**next(e for e in client.get("/eoj/endpoints").json()
                                                     if e["sor"] == SKODSTRUP), "envelope": "none"}).status_code == 200
    assert send(client)["receipts"] == []


def test_the_receipt_is_the_ehmi_signal_for_the_envelope(client: TestClient, context: SandboxContext) -> None:
    _use_sbdh(client)
    bundle = restamp(send(client)["bundle"])
    raw, instance = wrap(bundle, context.clock.now(), receipt_ms=120_000)
    envelope = unwrap(raw)
    signal, receipt_id = build_receipt(envelope, context.clock.now(), timeout_ms=120_000)
    root = etree.fromstring(signal)
    ns = {"s": SBDH_NS}
    header = "s:StandardBusinessDocumentHeader"
    assert root.findtext(f"{header}/s:Sender/s:Identifier", namespaces=ns) == f"0088:{envelope.receiver_gln}"
    assert root.findtext(f"{header}/s:Receiver/s:Identifier", namespaces=ns) == f"0088:{envelope.sender_gln}"
    assert root.findtext(f"{header}/s:DocumentIdentification/s:Standard", namespaces=ns) == "ehmisbdh-acknowledgement"
    assert root.findtext(f"{header}/s:DocumentIdentification/s:TypeVersion", namespaces=ns) == "ebbp-signals-2.0"
    scopes = {s.findtext("s:Type", namespaces=ns): s.findtext("s:InstanceIdentifier", namespaces=ns)
              for s in root.findall(f"{header}/s:BusinessScope/s:Scope", ns)}
    assert scopes["ORIGINALENVELOPEIDENTIFIER"] == instance
    assert scopes["ORIGINALMESSAGEIDENTIFIER"] == bundle["entry"][0]["resource"]["id"]
    assert scopes["ORIGINALMESSAGEENVELOPEIDENTIFIER"] == bundle["id"]
    assert scopes["EHMI-ReceiptAcknowledgement"] == "Response"
    read = read_receipt(signal)
    assert read is not None and read.kind == "ReceiptAcknowledgement" and read.instance_identifier == receipt_id
    assert read_receipt(raw) is None  # a message envelope is no receipt
    # the message envelope carries the configured deadline
    assert b'TimeToAcknowledgeReceipt="120000"' in raw


def test_a_missing_receipt_is_overdue_after_the_deadline_and_a_late_one_is_marked(
        client: TestClient, context: SandboxContext) -> None:
    _use_sbdh(client)
    switches(client, receipt=False)
    sent = send(client)
    assert [r["state"] for r in sent["receipts"]] == ["pending"]
    context.clock.travel_to(context.clock.now() + timedelta(seconds=context.settings.ehmi_receipt_seconds + 1))
    assert [r["state"] for r in status(client, sent["id"])["receipts"]] == ["overdue"]
    # the receipt comes after all: recorded, late
    envelope = _envelope_of(client, sent)
    late, _ = build_receipt(envelope, context.clock.now(), timeout_ms=600_000)
    answer = client.post("/eoj/ehmi", content=late, headers=XML)
    assert answer.status_code == 202 and answer.json()["verdict"] == "applied"
    assert [r["state"] for r in status(client, sent["id"])["receipts"]] == ["late"]
    again = client.post("/eoj/ehmi", content=late, headers=XML)
    assert again.json()["verdict"] == "duplicate"


def test_a_receipt_exception_is_recorded_with_its_reason(client: TestClient, context: SandboxContext) -> None:
    _use_sbdh(client)
    switches(client, receipt=False)
    sent = send(client)
    signal, _ = build_receipt(_envelope_of(client, sent), context.clock.now(), timeout_ms=600_000,
                              reason="The envelope could not be delivered to the receiving system")
    assert client.post("/eoj/ehmi", content=signal, headers=XML).status_code == 202
    (receipt,) = status(client, sent["id"])["receipts"]
    assert receipt["state"] == "exception" and "could not be delivered" in receipt["reason"]


def test_an_unknown_receipt_is_logged_not_applied(client: TestClient, context: SandboxContext) -> None:
    bundle = restamp(send(client)["bundle"])
    raw, _ = wrap(bundle, context.clock.now())
    signal, _ = build_receipt(unwrap(raw), context.clock.now(), timeout_ms=600_000)
    answer = client.post("/eoj/ehmi", content=signal, headers=XML)
    assert answer.status_code == 202 and answer.json()["verdict"] == "unknown-envelope"
    # the GP inbox takes the EOJ's receipts for its acknowledgements, and never answers one
    noted = client.post("/lps/ehmi", content=signal, headers=XML)
    assert noted.status_code == 202 and noted.json()["verdict"] == "receipt"


def _envelope_of(client: TestClient, sent: dict[str, Any]) -> Envelope:
    """The envelope the EOJ sent (as the GP inbox would have read it), with its InstanceIdentifier."""
    (receipt,) = status(client, sent["id"])["receipts"]
    raw, _ = wrap(status(client, sent["id"])["bundle"], datetime.fromisoformat(sent["sent_at"]))
    return replace(unwrap(raw), instance_identifier=receipt["envelope"])
