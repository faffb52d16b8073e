"""EHMI's SBDH envelope: the EOJ wraps messages for an endpoint registered with ``envelope: sbdh``, the
GP inbox takes bare Bundles and enveloped ones alike, answers the way the message came, and refuses a
malformed or wrongly addressed envelope with a precise 400 OperationOutcome."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from actor_tokens import operator
from fastapi.testclient import TestClient
from hco_flow import SKODSTRUP, lps_received, send
from lxml import etree

from nsp_sandbox.hco_sbdh import SBDH_NS, unwrap, wrap
from services.eoj_sender.replay_corpus import restamp

XML = {"Content-Type": "application/xml"}
NS = {"s": SBDH_NS}


def _use_sbdh(client: TestClient, sor: str = SKODSTRUP) -> dict[str, Any]:
    endpoint = next(e for e in client.get("/eoj/endpoints").json() if e["sor"] == sor)
    response = operator(client).put("/eoj/endpoints", json={**endpoint, "envelope": "sbdh"})
    assert response.status_code == 200, response.text
    assert response.json()["envelope"] == "sbdh"
    return response.json()  # type: ignore[no-any-return]


def _fresh_message(client: TestClient) -> dict[str, Any]:
    """A valid message not yet received: a sent one with new Bundle.id and MessageHeader.id."""
    return restamp(send(client)["bundle"])


def test_an_sbdh_endpoint_gets_enveloped_messages_and_answers_in_an_envelope(client: TestClient) -> None:
    _use_sbdh(client)
    sent = send(client)
    assert sent["send_result"].startswith("HTTP 202 (SBDH envelope ")
    assert sent["ack"] == "ok"  # the enveloped acknowledgement was read by /eoj/ehmi
    (received,) = lps_received(client, sent["id"])
    assert (received["envelope"], received["ack_envelope"], received["ack_code"]) == ("sbdh", "sbdh", "ok")
    modified = client.post(f"/eoj/hco/{sent['id']}/modify", json={"clinical_comment": "Ny vurdering"}).json()
    assert modified["ack"] == "ok" and "SBDH" in modified["send_result"]


def test_a_bare_bundle_is_answered_bare(client: TestClient) -> None:
    sent = send(client)
    assert sent["send_result"] == "HTTP 202" and sent["ack"] == "ok"
    (received,) = lps_received(client, sent["id"])
    assert (received["envelope"], received["ack_envelope"]) == ("none", "none")


def test_the_envelope_repeats_the_message_addressing_and_identifiers(client: TestClient) -> None:
    bundle = _fresh_message(client)
    raw, instance = wrap(bundle, datetime(2026, 2, 3, 10, 15, tzinfo=UTC))
    envelope = unwrap(raw)
    header = bundle["entry"][0]["resource"]
    assert envelope.instance_identifier == instance and envelope.bundle == bundle
    assert envelope.standard == "homecareobservation-message" and envelope.type_version == "1.1"
    assert envelope.receiver_gln == "5790000127092"  # Skødstrup Lægepraksis, as in the official examples
    assert envelope.scopes["MESSAGEIDENTIFIER"] == header["id"]
    assert envelope.scopes["MESSAGEENVELOPEIDENTIFIER"] == bundle["id"]
    assert envelope.scopes["PROCESSID"] == "urn:ehmi:sdn-emergence"
    assert envelope.scopes["PATIENTID"] == "2509479989"
    assert envelope.scopes["EHMI-ReceiptAcknowledgement"] == "Request"
    response = client.post("/lps/ehmi", content=raw, headers=XML)
    assert response.status_code == 202, response.text
    assert response.json()["ack"] == "ok"
    (received,) = lps_received(client, header["id"])
    assert received["envelope"] == "sbdh"


def _set(path: str, value: str) -> Callable[[Any], None]:
    def change(root: Any) -> None:
        root.xpath(path, namespaces=NS)[0].text = value
    return change


def _drop(path: str) -> Callable[[Any], None]:
    def change(root: Any) -> None:
        element = root.xpath(path, namespaces=NS)[0]
        element.getparent().remove(element)
    return change


def _attribute(path: str, name: str, value: str) -> Callable[[Any], None]:
    def change(root: Any) -> None:
        root.xpath(path, namespaces=NS)[0].set(name, value)
    return change


HEADER = "/s:StandardBusinessDocument/s:StandardBusinessDocumentHeader"


@pytest.mark.parametrize(("change", "rule", "where"), [
    (_drop(f"{HEADER}/s:Sender"), "ehmi-sbdh-element", "StandardBusinessDocumentHeader/Sender"),
    (_attribute(f"{HEADER}/s:Receiver/s:Identifier", "Authority", "gln"), "ehmi-sbdh-authority",
     "Receiver/Identifier/@Authority"),
    (_set(f"{HEADER}/s:Sender/s:Identifier", "0088:5790000127093"), "ehmi-sbdh-party", "Sender/Identifier"),
    (_set(f"{HEADER}/s:DocumentIdentification/s:Type", "Invoice"), "ehmi-sbdh-type", "DocumentIdentification/Type"),
    (_drop(f"{HEADER}/s:BusinessScope/s:Scope[s:Type='MESSAGEIDENTIFIER']"), "ehmi-sbdh-scope", "BusinessScope"),
    (_set("/s:StandardBusinessDocument/s:BinaryContent", "not base64!"), "ehmi-sbdh-content", "BinaryContent"),
    (_attribute("/s:StandardBusinessDocument/s:BinaryContent", "mimeType", "application/pdf"),
     "ehmi-sbdh-content-type", "BinaryContent/@mimeType"),
    (_set(f"{HEADER}/s:BusinessScope/s:Scope[s:Type='MESSAGEIDENTIFIER']/s:InstanceIdentifier", "other-id"),
     "ehmi-sbdh-consistent", "Scope[Type=MESSAGEIDENTIFIER]"),
    (_set(f"{HEADER}/s:Sender/s:Identifier", "0088:5790000147465"), "ehmi-sbdh-consistent", "Sender/Identifier"),
], ids=["no-sender", "wrong-authority", "bad-gln-check-digit", "not-a-bundle", "no-message-identifier",
        "content-not-base64", "content-not-fhir-json", "message-id-contradicts", "sender-contradicts"])
def test_a_malformed_envelope_is_refused_precisely(client: TestClient, change: Callable[[Any], None], rule: str,
                                                   where: str) -> None:
    bundle = _fresh_message(client)
    root = etree.fromstring(wrap(bundle, datetime.now(UTC))[0])
    change(root)
    response = client.post("/lps/ehmi", content=etree.tostring(root), headers=XML)
    assert response.status_code == 400, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    issues = [i for i in outcome["issue"] if i["details"]["coding"][0]["code"] == rule]
    assert issues and any(where in i["expression"][0] for i in issues), outcome
    assert lps_received(client, bundle["entry"][0]["resource"]["id"]) == []  # not taken in, not acknowledged


def test_a_wrongly_addressed_envelope_is_refused(client: TestClient) -> None:
    bundle = _fresh_message(client)
    receiver_ref = bundle["entry"][0]["resource"]["destination"][0]["receiver"]["reference"]
    receiver = next(e["resource"] for e in bundle["entry"] if f"Organization/{e['resource']['id']}" == receiver_ref)
    for identifier in receiver["identifier"]:
        if identifier["system"] == "https://www.gs1.org/gln":
            identifier["value"] = "5790001111113"  # a valid GLN of no practice of this GP system
    response = client.post("/lps/ehmi", content=wrap(bundle, datetime.now(UTC))[0], headers=XML)
    assert response.status_code == 400
    (issue,) = response.json()["issue"]
    assert issue["details"]["coding"][0]["code"] == "ehmi-sbdh-receiver"
    assert "0088:5790001111113" in issue["diagnostics"]
    assert issue["expression"] == ["StandardBusinessDocument/StandardBusinessDocumentHeader/Receiver/Identifier"]


@pytest.mark.parametrize(("json_text", "rule"), [
    ('"resourceType": "Bundle", ', "json-duplicate-key"), ('"total": NaN, ', "json-syntax")])
def test_an_envelope_s_json_is_read_as_every_face_reads_json(client: TestClient, json_text: str, rule: str) -> None:
    """The message inside an envelope is read strictly too: a key twice, or a number JSON does not have, is refused
    at BinaryContent, never read "last one wins"."""
    bundle = _fresh_message(client)
    content = json.dumps(bundle).replace('"resourceType": "Bundle", ', '"resourceType": "Bundle", ' + json_text, 1)
    response = client.post("/lps/ehmi", content=wrap(bundle, datetime.now(UTC), content=content.encode())[0],
                           headers=XML)
    assert response.status_code == 400, response.text
    (issue,) = [i for i in response.json()["issue"] if i["details"]["coding"][0]["code"] == rule]
    assert issue["expression"] == ["StandardBusinessDocument/BinaryContent"]
    assert lps_received(client, bundle["entry"][0]["resource"]["id"]) == []


@pytest.mark.parametrize("body", [b"<not-closed", b"<Invoice xmlns='urn:x'/>", base64.b64encode(b"{}")])
def test_what_is_not_an_envelope_is_refused(client: TestClient, body: bytes) -> None:
    response = client.post("/lps/ehmi", content=body, headers=XML)
    assert response.status_code == 400
    assert response.json()["issue"][0]["details"]["coding"][0]["code"] in ("ehmi-sbdh-xml", "ehmi-sbdh-root")


def test_the_eoj_takes_acknowledgements_bare_or_enveloped_and_checks_the_envelope(client: TestClient) -> None:
    sent = send(client)
    (received,) = lps_received(client, sent["id"])
    ack = dict(received["ack"], id="a-new-envelope-id")  # a duplicate of the ack, under a new envelope
    raw, _ = wrap(ack, datetime.now(UTC))
    response = client.post("/eoj/ehmi", content=raw, headers=XML)
    assert response.status_code == 202, response.text
    assert response.json()["verdict"] == "duplicate"
    root = etree.fromstring(raw)
    _set(f"{HEADER}/s:Receiver/s:Identifier", "0088:5790000147465")(root)
    refused = client.post("/eoj/ehmi", content=etree.tostring(root), headers=XML)
    assert refused.status_code == 400
    assert refused.json()["issue"][0]["details"]["coding"][0]["code"] == "ehmi-sbdh-consistent"


def test_the_register_knows_only_two_envelopes(client: TestClient) -> None:
    endpoint = next(e for e in client.get("/eoj/endpoints").json() if e["sor"] == SKODSTRUP)
    assert endpoint["envelope"] == "none"
    response = operator(client).put("/eoj/endpoints", json={**endpoint, "envelope": "soap"})
    assert response.status_code == 422
    assert response.json()["issue"][0]["expression"] == ["envelope"]
