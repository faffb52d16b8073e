"""The XDS.b client against a small fake DDS (an httpx MockTransport): what goes over the wire —
SOAP 1.1, WS-Addressing, the DGWS security header the sandbox's DGWS layer verifies, HSUID only on
ITI-18/43, MTOM for ITI-41 — and how answers and faults are read back."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import httpx2 as httpx
import pytest
from lxml import etree

from nsp_sandbox.dgws.certificates import TrustList
from nsp_sandbox.dgws.faults import DgwsFault, fault_envelope
from nsp_sandbox.dgws.hsuid import PROFESSIONAL, find_hsuid, parse_hsuid
from nsp_sandbox.dgws.idcard import SOR, SYSTEM, USER, CardUser, CareProvider, IdCard, build_idcard
from nsp_sandbox.dgws.keys import KeyPair, self_signed
from nsp_sandbox.dgws.security import check_security
from nsp_sandbox.dgws.signing import sign_enveloped
from nsp_sandbox.xds import from_mhd
from nsp_sandbox.xds import vocabulary as v
from nsp_sandbox.xds.client import XdsClient, XdsFault
from nsp_sandbox.xds.ebrim import Document, identifier, parse_provide_and_register, parse_submit_objects_request
from nsp_sandbox.xds.mtom import package, parse_message
from nsp_sandbox.xds.query import AdhocQueryResponse, parse_adhoc_query_request, write_adhoc_query_response
from nsp_sandbox.xds.registry_response import RegistryResponse, write_registry_response
from nsp_sandbox.xds.retrieve import (
    DocumentRequest,
    RetrievedDocument,
    RetrieveDocumentSetResponse,
    parse_retrieve_request,
    write_retrieve_response,
)
from nsp_sandbox.xds.soap import SoapVersion, parse_envelope, response_envelope

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
CPR = "0108589995"
BASE = "http://dds.test/dds"


@cache
def sts() -> KeyPair:
    return self_signed("xds-client-test-sts", "nsp-sandbox tests", NOW)


def card(kind: str = USER) -> etree._Element:
    user = CardUser("1203701235", "Lars", "Lund", "Læge", "Læge", "SK7T1") if kind == USER else None
    value = IdCard(card_id="c", card_type=kind, authentication_level=4 if kind == USER else 3,
                   issuer="NSP-SANDBOX-STS", name_id="x", name_id_format="medcom:other", issue_instant=NOW,
                   not_before=NOW, not_on_or_after=NOW + timedelta(hours=24), it_system_name="Test EPJ",
                   care_provider=CareProvider("52581000016005", SOR, "Skødstrup Lægepraksis"), user=user)
    return sign_enveloped(build_idcard(value), sts().key, sts().certificate)


def document_reference() -> dict[str, Any]:
    return {
        "resourceType": "DocumentReference", "id": "3f1c9a5e-5d4b-4c1a-9d7e-2b8f6a1c0d11",
        "contained": [
            {"resourceType": "Patient", "id": "patient", "identifier": [{"system": "urn:oid:1.2.208.176.1.2",
                                                                          "value": CPR}],
             "name": [{"family": "Berggren", "given": ["Nancy", "Ann"]}], "gender": "female",
             "birthDate": "1958-08-01"},
            {"resourceType": "Organization", "id": "author", "name": "Aarhus Kommune",
             "identifier": [{"system": "urn:oid:1.2.208.176.1.1", "value": "937961000016000"}]}],
        "masterIdentifier": {"system": "urn:ietf:rfc:3986", "value": "urn:oid:1.2.208.184.1.99"},
        "status": "current", "subject": {"reference": "#patient"}, "author": [{"reference": "#author"}],
        "type": {"coding": [{"system": "urn:oid:1.2.208.184.100.1", "code": "HCOM", "display": "HCO"}]},
        "category": [{"coding": [{"system": "urn:oid:1.2.208.184.100.9", "code": "001"}]}],
        "securityLabel": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                                       "code": "N"}]}],
        "content": [{"attachment": {"contentType": "application/fhir+json", "language": "da",
                                    "title": "Prøvesvar", "creation": "2026-02-28T09:30:00+01:00"},
                     "format": {"system": "urn:oid:1.2.208.184.100.10", "code": "urn:ad:dk:medcom:msg:hco-v1.2:full"}}],
        "context": {"facilityType": {"coding": [{"system": "http://snomed.info/sct", "code": "550621000005101"}]},
                    "practiceSetting": {"coding": [{"system": "http://snomed.info/sct", "code": "658161000005107"}]},
                    "period": {"start": "2026-02-27T08:00:00Z"}},
    }


class FakeDds:
    """Records each request, verifies its DGWS security, and answers per endpoint."""

    def __init__(self, fault: DgwsFault | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.fault = fault

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.fault is not None:
            return httpx.Response(500, content=fault_envelope(self.fault), headers={"content-type": "text/xml"})
        message = parse_message(request.headers["content-type"], request.content)
        check_security(etree.fromstring(message.envelope_bytes), TrustList((sts().certificate,)), NOW)
        envelope = parse_envelope(message.envelope_bytes)
        path = request.url.path
        if path == "/dds/ddsregistry":
            parse_adhoc_query_request(envelope.payload)
            payload = write_adhoc_query_response(AdhocQueryResponse(total_result_count=0))
        elif path == "/dds/ddsrepository":
            asked = parse_retrieve_request(envelope.payload).documents[0]
            answer = RetrieveDocumentSetResponse(documents=[RetrievedDocument(
                asked.repository_unique_id, asked.document_unique_id, "text/xml", b"<doc>\x00bytes</doc>")])
            root = response_envelope(envelope, write_retrieve_response(answer))
            content_type, body = package(root, SoapVersion.SOAP11)
            return httpx.Response(200, content=body, headers={"content-type": content_type})
        else:
            payload = write_registry_response(RegistryResponse())
        body = etree.tostring(response_envelope(envelope, payload), xml_declaration=True, encoding="UTF-8")
        return httpx.Response(200, content=body, headers={"content-type": "text/xml; charset=utf-8"})


def client_for(fake: FakeDds, kind: str = USER, **options: Any) -> XdsClient:
    return XdsClient(BASE, card=card(kind), client=httpx.Client(transport=httpx.MockTransport(fake)),
                     now=lambda: NOW, **options)


def _envelope(request: httpx.Request) -> etree._Element:
    return etree.fromstring(parse_message(request.headers["content-type"], request.content).envelope_bytes)


def test_provide_sends_mtom_with_addressing_and_dgws_and_no_hsuid() -> None:
    fake = FakeDds()
    entry = from_mhd.document_entry(document_reference())
    info = from_mhd.SubmissionSetInfo("urn:oid:1.2.208.176.43210.8.10.99", CPR, NOW)
    with client_for(fake, SYSTEM) as client:
        answer = client.provide(from_mhd.submission([entry], info), [Document(entry.id, b"{\"x\": 1}\x00")])
    assert answer.status == v.RESPONSE_SUCCESS
    request = fake.requests[0]
    assert request.url.path == "/dds/drs/proxy"
    assert request.headers["content-type"].startswith('multipart/related; type="application/xop+xml"')
    message = parse_message(request.headers["content-type"], request.content)
    assert message.mtom and list(message.attachments.values()) == [b"{\"x\": 1}\x00"]
    envelope = parse_envelope(message.envelope_bytes)
    assert envelope.version is SoapVersion.SOAP11
    assert envelope.addressing.action == v.ACTION_ITI41 and envelope.addressing.to == f"{BASE}/drs/proxy"
    assert envelope.addressing.message_id and envelope.addressing.message_id.startswith("urn:uuid:")
    assert find_hsuid(envelope.root) is None
    provided = parse_provide_and_register(envelope.payload, message.attachments)
    sent = provided.submission.document_entries[0]
    assert identifier(sent, v.DE_UNIQUE_ID) == "1.2.208.184.1.99"
    assert identifier(sent, v.DE_PATIENT_ID) == f"{CPR}^^^&1.2.208.176.1.2&ISO"
    assert sent.slot_values("creationTime") == ["20260228083000"]
    assert "PID-5|Berggren^Nancy^Ann" in sent.slot_values("sourcePatientInfo")
    assert [c.node_representation for c in sent.classified(v.DE_CLASS_CODE)] == ["001"]
    assert sent.classified(v.DE_CLASS_CODE)[0].coding_scheme == "1.2.208.184.100.9"
    author = sent.classified(v.DE_AUTHOR)[0]
    assert author.slot_values("authorInstitution") == ["Aarhus Kommune^^^^^&1.2.208.176.1.1&ISO^^^^937961000016000"]
    assert provided.submission.submission_set.external_id(v.SS_SOURCE_ID).value == "1.2.208.176.43210.8.10.99"


def test_find_documents_carries_hsuid_from_an_employee_card_and_asks_both_entry_types() -> None:
    fake = FakeDds()
    with client_for(fake) as client:
        answer = client.find_documents(CPR, consent_override=True)
    assert answer.status == v.RESPONSE_SUCCESS and answer.total_result_count == 0
    envelope = _envelope(fake.requests[0])
    hsuid_element = find_hsuid(envelope)
    assert hsuid_element is not None
    hsuid = parse_hsuid(hsuid_element)
    assert (hsuid.user_type, hsuid.acting_cpr, hsuid.citizen_cpr) == (PROFESSIONAL, "1203701235", CPR)
    assert hsuid.consent_override and hsuid.org_using and hsuid.org_using.id == "52581000016005"
    request = parse_adhoc_query_request(parse_envelope(etree.tostring(envelope)).payload)
    assert request.problems() == []
    assert request.patient_id() and request.patient_id().id == CPR  # type: ignore[union-attr]
    assert set(request.values("$XDSDocumentEntryType")) == {v.DOCUMENT_ENTRY_STABLE, v.DOCUMENT_ENTRY_ON_DEMAND}
    assert fake.requests[0].headers["content-type"].startswith("text/xml")


def test_a_system_card_needs_an_explicit_hsuid_for_a_look_up() -> None:
    with client_for(FakeDds(), SYSTEM) as client, pytest.raises(ValueError, match="HSUID"):
        client.find_documents(CPR)


def test_retrieve_reads_the_mtom_answer_byte_exact_and_traces_the_exchange() -> None:
    seen: list[Any] = []
    with client_for(FakeDds(), trace=seen.append) as client:
        answer = client.retrieve([DocumentRequest("1.2.208.176.43210.8.10.11", "1.2.3")], cpr=CPR)
    assert [d.content for d in answer.documents] == [b"<doc>\x00bytes</doc>"]
    assert seen[0].transaction == "ITI-43" and seen[0].status == 200
    assert b"HsuidHeader" in seen[0].request_body


def test_deprecate_sends_an_update_availability_status() -> None:
    fake = FakeDds()
    info = from_mhd.SubmissionSetInfo("1.2.208.176.43210.8.10.99", CPR, NOW)
    with client_for(fake, SYSTEM) as client:
        client.deprecate(from_mhd.status_update("urn:uuid:3f1c9a5e-5d4b-4c1a-9d7e-2b8f6a1c0d11", info))
    envelope = parse_envelope(parse_message(fake.requests[0].headers["content-type"],
                                            fake.requests[0].content).envelope_bytes)
    assert envelope.addressing.action == v.ACTION_ITI57 and fake.requests[0].url.path.endswith("/metadataupdate")
    update = parse_submit_objects_request(envelope.payload, "/Body").status_updates[0]
    assert (update.original, update.new) == (v.STATUS_APPROVED, v.STATUS_DEPRECATED)


def test_a_dgws_fault_is_raised_typed() -> None:
    fake = FakeDds(DgwsFault("security_level_failed", "level 4 needed"))
    with client_for(fake, SYSTEM) as client, pytest.raises(XdsFault) as raised:
        client.register_on_demand(from_mhd.submission([], from_mhd.SubmissionSetInfo("1.2", CPR, NOW)))
    assert raised.value.dgws_code == "security_level_failed" and raised.value.status == 500


def test_the_card_is_fetched_once_from_nsp_sts() -> None:
    fake = FakeDds()
    calls: list[str] = []

    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/nsp/sts/idcard":
            calls.append(request.content.decode())
            return httpx.Response(200, content=etree.tostring(card()), headers={"content-type": "application/xml"})
        return fake(request)

    client = XdsClient(BASE, nsp_url="http://dds.test/nsp", persona="gp-skodstrup", now=lambda: NOW,
                       client=httpx.Client(transport=httpx.MockTransport(route)))
    client.find_documents(CPR)
    client.find_documents(CPR)
    assert [json.loads(c) for c in calls] == [{"persona": "gp-skodstrup"}]
