"""ITI-41 as DRS received it: the MTOM package, its metadata read completely, the document byte-exact."""

from __future__ import annotations

import pytest
from xds_captures import XDSB_SUFFIX, capture, message_of

from nsp_sandbox.xds import vocabulary as v
from nsp_sandbox.xds.ebrim import (
    Code,
    authors,
    codes,
    identifier,
    parse_provide_and_register,
    parse_submit_objects_request,
    patient_id,
)
from nsp_sandbox.xds.errors import XdsWireError
from nsp_sandbox.xds.hl7v2 import CX, DTM, XON
from nsp_sandbox.xds.registry_response import parse_registry_response
from nsp_sandbox.xds.soap import SoapVersion

ENTRY = "10614913492668759151.7526722965054630547.1561027587628"
SUBMISSION_SET = "7874116232104445829.6778506344390820751.1561027587628"
CPR = CX("2512489996", "1.2.208.176.1.2")
OUH = XON("OUH Radiologisk Afdeling (Svendborg)", "1.2.208.176.1.1", "242621000016001")


@pytest.fixture(scope="module")
def request_():  # type: ignore[no-untyped-def]
    message = message_of("iti41/request-mime.txt")
    assert message.mtom
    return parse_provide_and_register(message.envelope().payload, message.attachments)


def test_the_document_bytes_are_recovered_exactly(request_) -> None:  # type: ignore[no-untyped-def]
    (document,) = request_.documents
    assert document.id == ENTRY
    assert document.content == capture("ITI-41-CDA-APPT.xml")


def test_the_mime_package_has_the_root_and_one_attachment() -> None:
    message = message_of("iti41/request-mime.txt")
    assert list(message.attachments) == ["d028af6e-dc46-4049-b3bd-a4496767e42d" + XDSB_SUFFIX]
    assert message.envelope_bytes == capture("iti41/request-soap.xml")


def test_the_submission_set(request_) -> None:  # type: ignore[no-untyped-def]
    submission = request_.submission
    package = submission.submission_set
    assert package.id == SUBMISSION_SET
    assert package.status == v.STATUS_APPROVED
    assert DTM.parse(package.slot_value("submissionTime") or "").format() == "20170531120000"
    assert patient_id(package) == CPR
    assert identifier(package, v.SS_UNIQUE_ID) == SUBMISSION_SET
    assert identifier(package, v.SS_SOURCE_ID) == SUBMISSION_SET
    assert codes(package, v.SS_CONTENT_TYPE_CODE) == [
        Code("39289-4", "2.16.840.1.113883.6.1", "Dato og tidspunkt for møde mellem patient og sundhedsperson")
    ]
    (author,) = authors(package)
    assert author.institutions == (OUH,) and author.person is None
    assert submission.folders == []


def test_the_document_entry(request_) -> None:  # type: ignore[no-untyped-def]
    (entry,) = request_.submission.document_entries
    assert entry.id == ENTRY
    assert entry.lid == "17744819518467516435.5289508129896542596.1561027587628"
    assert entry.object_type == v.DOCUMENT_ENTRY_STABLE and not entry.is_on_demand
    assert entry.mime_type == "text/xml"
    assert entry.title == "Aftale for 2512489996"
    assert entry.name[0].lang == "en-US" and entry.name[0].charset == "UTF-8"
    assert [entry.slot_value(s) for s in ("creationTime", "serviceStartTime", "serviceStopTime")] == [
        "20170531120000", "20190101010101", "20200101010101",
    ]  # fmt: skip
    assert CX.parse(entry.slot_value("sourcePatientId") or "") == CPR
    assert patient_id(entry) == CPR
    assert identifier(entry, v.DE_UNIQUE_ID) == "10613314401450021042.16485562384221947016.1561027587628"


def test_the_document_entry_classifications(request_) -> None:  # type: ignore[no-untyped-def]
    (entry,) = request_.submission.document_entries
    expected = {
        v.DE_CLASS_CODE: Code("001", "1.2.208.184.100.9", "Klinisk rapport"),
        v.DE_FORMAT_CODE: Code("urn:ad:dk:medcom:appointmentsummary:full", "1.2.208.184.100.10", "DK PHMR schema"),
        v.DE_HEALTHCARE_FACILITY_TYPE_CODE: Code("550621000005101", "2.16.840.1.113883.6.96", "hjemmesygepleje"),
        v.DE_PRACTICE_SETTING_CODE: Code("408443003", "2.16.840.1.113883.6.96", "almen medicin"),
        v.DE_TYPE_CODE: Code("39289-4", "2.16.840.1.113883.6.1",
                             "Dato og tidspunkt for møde mellem patient og sundhedsperson"),
    }  # fmt: skip
    for scheme, code in expected.items():
        assert codes(entry, scheme) == [code], scheme
    assert codes(entry, v.DE_CONFIDENTIALITY_CODE) == []  # the capture lacks it (DDS accepted it anyway)
    assert [a.institutions for a in authors(entry)] == [(OUH,)]
    assert all(c.classified_object == ENTRY for c in entry.classifications)
    assert entry.classifications[1].path.endswith("/RegistryObjectList/ExtrinsicObject[1]/Classification[2]")


def test_the_has_member_association(request_) -> None:  # type: ignore[no-untyped-def]
    (association,) = request_.submission.associations
    assert association.association_type == v.ASSOC_HAS_MEMBER
    assert (association.source_object, association.target_object) == (SUBMISSION_SET, ENTRY)
    assert association.slot_values(v.SLOT_SUBMISSION_SET_STATUS) == ["Original"]


def test_the_drs_response_is_success() -> None:
    envelope = message_of("iti41/response-mime.txt").envelope()
    response = parse_registry_response(envelope.payload)
    assert response.status_word == "Success" and response.errors == []
    assert envelope.version is SoapVersion.SOAP11


def test_an_include_without_its_attachment_is_a_missing_document() -> None:
    envelope = message_of("ITI-41-Request.xml").envelope()
    with pytest.raises(XdsWireError) as caught:
        parse_provide_and_register(envelope.payload, {})
    assert caught.value.xds_code == "XDSMissingDocument"
    assert caught.value.location.endswith("/ProvideAndRegisterDocumentSetRequest/Document[1]")
    submit = envelope.payload.find("{urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0}SubmitObjectsRequest")
    metadata = parse_submit_objects_request(submit, "/SubmitObjectsRequest")
    assert len(metadata.document_entries) == 1 and metadata.submission_set.id
