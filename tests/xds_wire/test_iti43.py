"""ITI-43 as DDS answered it: the request ids and the MTOM response with the CDA byte-exact."""

from __future__ import annotations

from xds_captures import XDSB_SUFFIX, capture, message_of

from nsp_sandbox.xds import vocabulary as v
from nsp_sandbox.xds.mtom import package, parse_message
from nsp_sandbox.xds.retrieve import (
    RetrievedDocument,
    RetrieveDocumentSetResponse,
    parse_retrieve_request,
    parse_retrieve_response,
    write_retrieve_response,
)
from nsp_sandbox.xds.soap import SoapVersion, build_envelope, parse_envelope, serialize

REPOSITORY = "1.2.208.176.43210.8.20.11"


def test_the_request() -> None:
    request = parse_retrieve_request(message_of("ITI-43-Request-Nancy.xml").envelope().payload)
    (document,) = request.documents
    assert document.home_community_id == "urn:oid:1.2.208.176.43210.8.20.11"
    assert document.repository_unique_id == REPOSITORY
    assert document.document_unique_id == "6946778998876148702.7192223840203720416.1528441845022"
    assert document.path == "/Envelope/Body/RetrieveDocumentSetRequest/DocumentRequest[1]"


def test_the_multipart_response_gives_the_document_byte_exact() -> None:
    raw = capture("ITI-43-Response-Nancy-Multipart.txt")
    message = message_of("ITI-43-Response-Nancy-Multipart.txt")
    cid = "9815b9b6-9ff8-4dd5-9f09-90a282f2b771-83781" + XDSB_SUFFIX
    assert list(message.attachments) == [cid]
    response = parse_retrieve_response(message.envelope().payload, message.attachments)
    assert response.registry_response.status == v.RESPONSE_SUCCESS
    (document,) = response.documents
    assert document.mime_type == "application/octet-stream"
    assert document.repository_unique_id == REPOSITORY
    start = raw.index(b"<ClinicalDocument")
    end = raw.rindex(b"\r\n--uuid:a9c49990-5806-41ea-a360-484e807aef22--")
    assert document.content == raw[start:end]
    assert document.content.endswith(b"</ClinicalDocument>\r\n\r\n\n")


def test_the_http_captures_without_close_delimiter_or_header_breaks_parse() -> None:
    for name in ("ITI-43-Response-Nancy.xml", "iti43/20190613113513-iti43-response.xml"):
        message = message_of(name)
        response = parse_retrieve_response(message.envelope().payload, message.attachments)
        (document,) = response.documents
        assert document.content.startswith(b"<ClinicalDocument") or document.content.startswith(b"<?xml")
        assert document.content.rstrip().endswith(b"</ClinicalDocument>")


def test_an_mtom_response_we_build_reads_back_exactly() -> None:
    cda = capture("ITI-41-CDA-APPT.xml")
    response = RetrieveDocumentSetResponse(documents=[
        RetrievedDocument(REPOSITORY, "1.2.208.184^abc", "text/xml", cda, "urn:oid:1.2.208.176.43210.8.20"),
        RetrievedDocument(REPOSITORY, "1.2.208.184^def", "application/pdf", bytes(range(256)) * 4),
    ])  # fmt: skip
    for version in SoapVersion:
        envelope = build_envelope(version, write_retrieve_response(response))
        content_type, body = package(envelope, version, action=v.RESPONSE_ACTIONS[v.ACTION_ITI43])
        assert content_type.startswith('multipart/related; type="application/xop+xml"')
        message = parse_message(content_type, body)
        assert len(message.attachments) == 2
        assert sorted(message.attachment_types.values()) == ["application/pdf", "text/xml"]
        assert b"<xop:Include" in message.envelope_bytes
        again = parse_retrieve_response(message.envelope().payload, message.attachments)
        assert again == response


def test_an_inline_base64_response_reads_the_same() -> None:
    response = RetrieveDocumentSetResponse(documents=[RetrievedDocument(REPOSITORY, "1.2^x", "text/plain", b"hej\r\n")])
    xml = serialize(build_envelope(SoapVersion.SOAP12, write_retrieve_response(response)))
    envelope = parse_envelope(xml)
    assert parse_retrieve_response(envelope.payload, {}) == response
