"""Every captured DDS message parses into an envelope and its payload (signatures are not checked here)."""

from __future__ import annotations

import pytest
from xds_captures import SOAP_CAPTURES, capture, message_of

from nsp_sandbox.xds import namespaces as ns
from nsp_sandbox.xds.errors import XdsWireError
from nsp_sandbox.xds.soap import SoapVersion, parse_envelope

PAYLOADS = {
    "AdhocQueryRequest": ns.QUERY,
    "AdhocQueryResponse": ns.QUERY,
    "ProvideAndRegisterDocumentSetRequest": ns.XDSB,
    "RetrieveDocumentSetRequest": ns.XDSB,
    "RetrieveDocumentSetResponse": ns.XDSB,
    "RegistryResponse": ns.RS,
}


@pytest.mark.parametrize("name", SOAP_CAPTURES)
def test_every_capture_parses(name: str) -> None:
    envelope = message_of(name).envelope()
    assert envelope.version is SoapVersion.SOAP11
    local = envelope.payload.tag.rsplit("}", 1)[1]
    assert envelope.payload.tag == f"{{{PAYLOADS[local]}}}{local}"
    assert envelope.header("http://www.medcom.dk/dgws/2006/04/dgws-1.0.xsd", "Header") is not None


def test_the_hand_edited_capture_that_is_not_xml_gives_a_located_error() -> None:
    with pytest.raises(XdsWireError) as caught:
        parse_envelope(capture("ITI-41-Request-first.xml"))
    assert "not well-formed XML" in caught.value.message
    assert caught.value.location == "Envelope line 90"


def test_ws_addressing_of_the_captured_query() -> None:
    addressing = message_of("ITI-18-Request-Nancy.xml").envelope().addressing
    assert addressing.action == "urn:ihe:iti:2007:RegistryStoredQuery"
    assert addressing.message_id == "urn:uuid:3b290da7-5da1-4a41-838f-87f303d43f5f"
    assert addressing.to == "https://test1-cnsp.ekstern-test.nspop.dk:8443/ddsregistry"
    assert addressing.reply_to == "http://www.w3.org/2005/08/addressing/anonymous"


def test_ws_addressing_of_the_captured_response_relates_to_the_request() -> None:
    addressing = message_of("ITI-18-Response-Nancy.xml").envelope().addressing
    assert addressing.action == "urn:ihe:iti:2007:RegistryStoredQueryResponse"
    assert addressing.relates_to == "urn:uuid:3b290da7-5da1-4a41-838f-87f303d43f5f"


def test_drs_reply_to_given_as_bare_text_is_read() -> None:
    addressing = message_of("iti41/request-mime.txt").envelope().addressing
    assert addressing.action == "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b"
    assert addressing.message_id == "31a47e8f-a4c5-4f19-98e7-7541664e2f5f"
    assert addressing.reply_to == "http://www.w3.org/2005/08/addressing/anonymous"


def test_must_understand_headers_are_listed() -> None:
    envelope = message_of("ITI-18-Request-Nancy.xml").envelope()
    action, to = (f"{{{ns.WSA}}}{name}" for name in ("Action", "To"))
    assert set(envelope.not_understood([])) == {action, to}
    assert envelope.not_understood([action, to]) == []
