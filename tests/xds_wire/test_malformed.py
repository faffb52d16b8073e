"""Malformed MIME packages and ebRIM metadata give the typed error, saying what and where."""

from __future__ import annotations

import base64

import pytest
from lxml import etree

from nsp_sandbox.xds import namespaces as ns
from nsp_sandbox.xds import vocabulary as v
from nsp_sandbox.xds.ebrim import identifier, parse_provide_and_register, parse_submit_objects_request
from nsp_sandbox.xds.errors import XdsWireError
from nsp_sandbox.xds.mtom import content_id, document_bytes, parse_content_type, parse_message, split_multipart
from nsp_sandbox.xds.query import parse_adhoc_query_request
from nsp_sandbox.xds.retrieve import parse_retrieve_request, parse_retrieve_response
from nsp_sandbox.xds.rim import ExtrinsicObject
from nsp_sandbox.xds.xml import parse_xml

ENVELOPE = f"<s:Envelope xmlns:s='{ns.SOAP11}'><s:Body><a/></s:Body></s:Envelope>".encode()
CT = 'multipart/related; type="application/xop+xml"; boundary="b1"; start="<root>"'


def _mime(*parts: bytes, close: bool = True, newline: bytes = b"\r\n") -> bytes:
    body = b"".join(b"--b1" + newline + part + newline for part in parts)
    return body + (b"--b1--" + newline if close else b"")


def _root(newline: bytes = b"\r\n") -> bytes:
    return newline.join([b"Content-Type: application/xop+xml; type=\"text/xml\"", b"Content-ID: <root>", b"",
                         ENVELOPE])  # fmt: skip


def test_lf_only_packages_and_missing_close_delimiters_are_read() -> None:
    attachment = b"Content-ID: <doc1@x>\n\n\x00\x01binary\r\n\n"
    message = parse_message(CT, _mime(_root(b"\n"), attachment, close=False, newline=b"\n"))
    assert message.envelope_bytes == ENVELOPE
    assert message.attachments == {"doc1@x": b"\x00\x01binary\r\n\n\n"}


def test_transfer_encodings_are_decoded() -> None:
    encoded = b"Content-ID: <d@x>\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(b"hello" * 40)
    assert parse_message(CT, _mime(_root(), encoded)).attachments["d@x"] == b"hello" * 40


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        ("application/json", ENVELOPE, "unsupported Content-Type 'application/json'"),
        ("nonsense", ENVELOPE, "not a media type"),
        ('multipart/related; type="application/xop+xml"', _mime(_root()), "has no boundary parameter"),
        ('multipart/related; boundary="zz"', _mime(_root()), "the boundary 'zz' does not occur"),
        ('multipart/related; boundary="b1"; start="<other>"', _mime(_root()), "no part has the start Content-ID"),
        (CT, _mime(_root(), b"Content-Type: text/plain\r\n\r\nx"), "an attachment part has no Content-ID"),
        (CT, _mime(_root(), b"Content-ID: <d>\r\n\r\nx", b"Content-ID: <d>\r\n\r\ny"), "used by two parts"),
        (CT, _mime(b"Content-ID: <root>\r\nContent-Type: image/png\r\n\r\nx"), "the root part is 'image/png'"),
        (CT, _mime(_root(), b"Content-ID: <d>\r\nContent-Transfer-Encoding: x-zip\r\n\r\nx"), "unsupported Content-Tr"),
        (CT, _mime(_root(), b"Content-ID: <d>\r\nContent-Transfer-Encoding: base64\r\n\r\n!!"), "not valid base64"),
        (CT, _mime(_root(), b"no header line here\r\n\r\nx"), "malformed MIME header line"),
        (CT, _mime(_root(), b"Content-ID: <d>"), "no blank line after its headers"),
        (CT, b"--b1--\r\n", "holds no parts"),
    ],
)  # fmt: skip
def test_bad_packages(content_type: str, body: bytes, message: str) -> None:
    with pytest.raises(XdsWireError, match=message) as caught:
        parse_message(content_type, body)
    assert caught.value.location


def test_content_ids_and_types() -> None:
    assert content_id("cid:a-1@urn%3Aihe%3Aiti%3Axds-b%3A2007") == content_id("<a-1@urn:ihe:iti:xds-b:2007>")
    media, params = parse_content_type('Multipart/Related; boundary="a;b"; START="<x>"')
    assert media == "multipart/related" and params == {"boundary": "a;b", "start": "<x>"}


def test_split_is_linear_on_many_parts() -> None:
    parts = [f"Content-ID: <p{i}>\r\n\r\n{'x' * 100}".encode() for i in range(5000)]
    assert len(split_multipart(_mime(*parts), "b1")) == 5000


def _document(xml: str) -> etree._Element:
    return parse_xml(f"<Document xmlns='{ns.XDSB}' xmlns:xop='{ns.XOP}'>{xml}</Document>".encode())


def test_document_content_errors() -> None:
    assert document_bytes(_document("aGVq"), {}, "/Document") == b"hej"
    for xml, message in (("<xop:Include href='http://x'/>", "is not a cid: URL"),
                         ("<xop:Include href='cid:a'/><xop:Include href='cid:b'/>", "must hold nothing else"),
                         ("not base64!", "not valid base64")):  # fmt: skip
        with pytest.raises(XdsWireError, match=message) as caught:
            document_bytes(_document(xml), {"a": b""}, "/Body/Document[2]")
        assert caught.value.location == "/Body/Document[2]"


def _submit(objects: str) -> etree._Element:
    head = f"<lcm:SubmitObjectsRequest xmlns:lcm='{ns.LCM}' xmlns:rim='{ns.RIM}'><rim:RegistryObjectList>"
    return parse_xml(f"{head}{objects}</rim:RegistryObjectList></lcm:SubmitObjectsRequest>".encode())


@pytest.mark.parametrize(
    ("objects", "message", "location"),
    [
        ("<rim:ExtrinsicObject/>", "attribute id is missing", "/S/RegistryObjectList/ExtrinsicObject[1]"),
        ("<rim:ExtrinsicObject id='a'/><rim:Association id='x' sourceObject='a' targetObject='b'/>",
         "attribute associationType is missing", "/S/RegistryObjectList/Association[1]"),
        ("<rim:ExtrinsicObject id='a'><rim:Classification id='c' classificationScheme='s'/></rim:ExtrinsicObject>",
         "attribute classifiedObject is missing", "/S/RegistryObjectList/ExtrinsicObject[1]/Classification[1]"),
        ("<rim:ExtrinsicObject id='a'><rim:Slot name='x'/><rim:Slot name='x'/></rim:ExtrinsicObject>",
         "slot 'x' appears twice", "/S/RegistryObjectList/ExtrinsicObject[1]/Slot[2]"),
        ("<rim:ExtrinsicObject id='a'><rim:Name/><rim:Name/></rim:ExtrinsicObject>",
         "Name appears 2 times", "/S/RegistryObjectList/ExtrinsicObject[1]"),
        ("<rim:ExtrinsicObject id='a'><rim:Name><rim:LocalizedString/></rim:Name></rim:ExtrinsicObject>",
         "attribute value is missing", "/S/RegistryObjectList/ExtrinsicObject[1]/Name/LocalizedString[1]"),
        ("<rim:Federation id='f'/>", "unsupported registry object Federation", "/S/RegistryObjectList/Federation[1]"),
        ("<x:ExtrinsicObject xmlns:x='urn:other' id='a'/>", "not in the ebRIM 3.0 namespace",
         "/S/RegistryObjectList/ExtrinsicObject[1]"),
    ],
)  # fmt: skip
def test_bad_metadata(objects: str, message: str, location: str) -> None:
    with pytest.raises(XdsWireError, match=message) as caught:
        parse_submit_objects_request(_submit(objects), "/S")
    assert caught.value.location == location


def test_metadata_questions_answered_with_errors() -> None:
    two_sets = "".join(
        f"<rim:RegistryPackage id='{i}'/><rim:Classification id='c{i}' classifiedObject='{i}' "
        f"classificationNode='{v.SUBMISSION_SET_NODE}'/>" for i in ("s1", "s2")
    )
    with pytest.raises(XdsWireError, match="exactly one SubmissionSet, this one holds 2"):
        _ = parse_submit_objects_request(_submit(two_sets), "/S").submission_set
    with pytest.raises(XdsWireError, match=r"XDSDocumentEntry\.uniqueId is missing on a") as caught:
        identifier(ExtrinsicObject(id="a", path="/E[1]"), v.DE_UNIQUE_ID)
    assert caught.value.location == "/E[1]" and caught.value.xds_code == "XDSRegistryMetadataError"


def test_on_demand_entries_are_told_apart() -> None:
    submit = parse_submit_objects_request(_submit(
        f"<rim:ExtrinsicObject id='a' objectType='{v.DOCUMENT_ENTRY_ON_DEMAND}'/>"
        f"<rim:ExtrinsicObject id='b' objectType='{v.DOCUMENT_ENTRY_STABLE}'/>"), "/S")  # fmt: skip
    assert [e.is_on_demand for e in submit.document_entries] == [True, False]


def test_wrong_payloads_are_named() -> None:
    other = parse_xml(b"<Other xmlns='urn:x'/>")
    for parse in (parse_adhoc_query_request, parse_retrieve_request):
        with pytest.raises(XdsWireError, match="found Other"):
            parse(other)
    with pytest.raises(XdsWireError, match="found Other"):
        parse_retrieve_response(other, {})
    with pytest.raises(XdsWireError, match="found Other in urn:x"):
        parse_provide_and_register(other, {})
    ids = "<RepositoryUniqueId>1</RepositoryUniqueId><DocumentUniqueId/>"
    empty = parse_xml(f"<RetrieveDocumentSetRequest xmlns='{ns.XDSB}'><DocumentRequest>{ids}</DocumentRequest>"
                      "</RetrieveDocumentSetRequest>".encode())  # fmt: skip
    with pytest.raises(XdsWireError, match="DocumentUniqueId is empty") as caught:
        parse_retrieve_request(empty)
    assert caught.value.location.endswith("DocumentRequest[1]/DocumentUniqueId")


def test_the_stored_query_table() -> None:
    assert len(v.STORED_QUERIES) == 14
    assert len({q.uuid for q in v.STORED_QUERIES}) == 14
    find = v.STORED_QUERIES_BY_NAME["FindDocuments"]
    assert find.uuid == "urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d"
    assert {"$XDSDocumentEntryPatientId", "$XDSDocumentEntryType", "$XDSDocumentEntryEventCodeList"} <= find.parameters
    by_ref = v.STORED_QUERIES_BY_NAME["FindDocumentsByReferenceId"]
    assert by_ref.parameters == find.parameters | {"$XDSDocumentEntryReferenceIdList"}
    assert v.RESPONSE_ACTIONS[v.ACTION_ITI57] == "urn:ihe:iti:2010:UpdateDocumentSetResponse"
