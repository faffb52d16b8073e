"""SOAP 1.1 and 1.2 envelopes, WS-Addressing responses and faults as values; malformed envelopes."""

from __future__ import annotations

import pytest
from lxml import etree
from xds_captures import message_of

from nsp_sandbox.xds import namespaces as ns
from nsp_sandbox.xds import vocabulary as v
from nsp_sandbox.xds.errors import XdsWireError
from nsp_sandbox.xds.soap import (
    Addressing,
    SoapFault,
    SoapVersion,
    build_envelope,
    parse_envelope,
    parse_fault,
    response_envelope,
    serialize,
)

SOAP12_QUERY = f"""<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="{ns.SOAP12}" xmlns:wsa="{ns.WSA}">
  <env:Header>
    <wsa:Action env:mustUnderstand="true">urn:ihe:iti:2007:RegistryStoredQuery</wsa:Action>
    <wsa:MessageID>urn:uuid:0b8c2a2e-0000-4000-8000-000000000001</wsa:MessageID>
    <wsa:ReplyTo><wsa:Address>http://www.w3.org/2005/08/addressing/anonymous</wsa:Address></wsa:ReplyTo>
    <wsa:To>http://localhost/ddsregistry</wsa:To>
  </env:Header>
  <env:Body>
    <query:AdhocQueryRequest xmlns:query="{ns.QUERY}" xmlns:rim="{ns.RIM}">
      <query:ResponseOption returnType="ObjectRef" returnComposedObjects="true"/>
      <rim:AdhocQuery id="urn:uuid:5c4f972b-d56b-40ac-a5fc-c8ca9b40b9d4">
        <rim:Slot name="$XDSDocumentEntryUniqueId"><rim:ValueList><rim:Value>('1.2.3')</rim:Value></rim:ValueList>
        </rim:Slot>
      </rim:AdhocQuery>
    </query:AdhocQueryRequest>
  </env:Body>
</env:Envelope>""".encode()


def test_a_soap12_request_is_read() -> None:
    envelope = parse_envelope(SOAP12_QUERY)
    assert envelope.version is SoapVersion.SOAP12
    assert envelope.addressing == Addressing(
        "urn:ihe:iti:2007:RegistryStoredQuery", "urn:uuid:0b8c2a2e-0000-4000-8000-000000000001",
        "http://localhost/ddsregistry", "http://www.w3.org/2005/08/addressing/anonymous",
    )  # fmt: skip
    assert envelope.payload.tag == f"{{{ns.QUERY}}}AdhocQueryRequest"
    assert envelope.not_understood([f"{{{ns.WSA}}}Action"]) == []


@pytest.mark.parametrize("source", ["soap12", "soap11"])
def test_the_response_keeps_the_version_and_relates_to_the_request(source: str) -> None:
    request = parse_envelope(SOAP12_QUERY) if source == "soap12" else message_of("ITI-18-Request-Nancy.xml").envelope()
    answer = parse_envelope(serialize(response_envelope(request, etree.Element(f"{{{ns.QUERY}}}AdhocQueryResponse"))))
    assert answer.version is request.version
    assert answer.addressing.action == "urn:ihe:iti:2007:RegistryStoredQueryResponse"
    assert answer.addressing.relates_to == request.addressing.message_id
    assert answer.addressing.message_id and answer.addressing.message_id.startswith("urn:uuid:")
    assert answer.not_understood([]) == [f"{{{ns.WSA}}}Action"]


def test_content_types_of_the_two_versions() -> None:
    assert SoapVersion.SOAP11.content_type() == "text/xml; charset=utf-8"
    assert SoapVersion.SOAP12.content_type(v.ACTION_ITI18) == (
        'application/soap+xml; charset=utf-8; action="urn:ihe:iti:2007:RegistryStoredQuery"'
    )


def test_a_response_to_an_unknown_action_is_refused() -> None:
    request = parse_envelope(SOAP12_QUERY.replace(b"urn:ihe:iti:2007:RegistryStoredQuery", b"urn:x"))
    with pytest.raises(XdsWireError, match="unknown or missing action 'urn:x'"):
        response_envelope(request, etree.Element("x"))


@pytest.mark.parametrize("version", list(SoapVersion))
def test_faults_round_trip_in_both_forms(version: SoapVersion) -> None:
    detail = etree.Element("{http://www.medcom.dk/dgws/2006/04/dgws-1.0.xsd}FaultCode")
    detail.text = "invalid_idcard"
    fault = SoapFault("Sender", "the ID card has expired", detail=(detail,))
    envelope = parse_envelope(fault.envelope(version, relates_to="urn:uuid:1"))
    assert envelope.addressing.action == v.FAULT_ACTION and envelope.addressing.relates_to == "urn:uuid:1"
    read = parse_fault(envelope.payload, version)
    assert (read.side, read.reason, read.detail[0].text) == ("Sender", "the ID card has expired", "invalid_idcard")
    form = b"<faultcode>soap:Client</faultcode>" if version is SoapVersion.SOAP11 else b"<env:Value>env:Sender<"
    assert form in fault.envelope(version)


def test_a_soap12_fault_keeps_its_subcode() -> None:
    fault = SoapFault("Receiver", "busy", subcode="{urn:ihe:iti:xds:2007}XDSRegistryBusy")
    element = fault.element(SoapVersion.SOAP12)
    assert parse_fault(element, SoapVersion.SOAP12) == fault


def test_a_wire_error_becomes_a_fault() -> None:
    fault = SoapFault.from_error(XdsWireError("the SOAP Envelope has no Body", "/Envelope"))
    assert fault == SoapFault("Sender", "the SOAP Envelope has no Body (at /Envelope)")


@pytest.mark.parametrize(
    ("body", "message", "location"),
    [
        (b"", "the XML document is empty", "Envelope"),
        (b"<a><b></a>", "not well-formed XML", "Envelope line 1"),
        (b"<Envelope/>", "unknown SOAP envelope namespace ''", "/Envelope"),
        (b"<x:Envelope xmlns:x='urn:soap:3'/>", "unknown SOAP envelope namespace 'urn:soap:3'", "/Envelope"),
        (b"<html/>", "the root element is html, not a SOAP Envelope", "/html"),
        (f"<s:Envelope xmlns:s='{ns.SOAP11}'><s:Header/></s:Envelope>".encode(), "has no Body", "/Envelope"),
        (f"<s:Envelope xmlns:s='{ns.SOAP11}'><s:Body/></s:Envelope>".encode(), "exactly one element, it holds 0",
         "/Envelope/Body"),
        (f"<s:Envelope xmlns:s='{ns.SOAP12}'><s:Body><a/><b/></s:Body></s:Envelope>".encode(),
         "exactly one element, it holds 2", "/Envelope/Body"),
        (f"<s:Envelope xmlns:s='{ns.SOAP12}'><s:Body><a/></s:Body><s:Header/></s:Envelope>".encode(),
         "unexpected element Header", "/Envelope"),
        (f"<s:Envelope xmlns:s='{ns.SOAP11}' xmlns:a='{ns.WSA}'><s:Header><a:Action>x</a:Action><a:Action>y"
         "</a:Action></s:Header><s:Body><a/></s:Body></s:Envelope>".encode(), "Action appears 2 times",
         "/Envelope/Header/Action"),
    ],
)  # fmt: skip
def test_malformed_envelopes_give_a_located_error(body: bytes, message: str, location: str) -> None:
    with pytest.raises(XdsWireError) as caught:
        parse_envelope(body)
    assert message in caught.value.message
    assert caught.value.location == location


def test_an_unknown_envelope_namespace_is_a_version_mismatch() -> None:
    with pytest.raises(XdsWireError) as caught:
        parse_envelope(b"<x:Envelope xmlns:x='urn:soap:3'/>")
    assert caught.value.side == "VersionMismatch"


def test_external_entities_are_not_resolved() -> None:
    body = (b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b"<s:Envelope xmlns:s='" + ns.SOAP11.encode() + b"'><s:Body><a>&x;</a></s:Body></s:Envelope>")  # fmt: skip
    envelope = parse_envelope(body)
    assert b"root:" not in etree.tostring(envelope.payload)


def test_build_envelope_without_addressing_has_no_header() -> None:
    root = build_envelope(SoapVersion.SOAP11, etree.Element("p"))
    assert [etree.QName(c).localname for c in root] == ["Body"]
