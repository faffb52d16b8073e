"""parse → write → parse gives equal values, for every message type of the model."""

from __future__ import annotations

import pytest
from lxml import etree
from xds_captures import message_of

from nsp_sandbox.xds import vocabulary as v
from nsp_sandbox.xds.ebrim import (
    ProvideAndRegisterDocumentSetRequest,
    StatusUpdate,
    SubmitObjectsRequest,
    parse_provide_and_register,
    parse_submit_objects_request,
    write_provide_and_register,
    write_submit_objects_request,
)
from nsp_sandbox.xds.errors import XdsWireError
from nsp_sandbox.xds.mtom import package, parse_message
from nsp_sandbox.xds.query import (
    parse_adhoc_query_request,
    parse_adhoc_query_response,
    write_adhoc_query_request,
    write_adhoc_query_response,
)
from nsp_sandbox.xds.registry_response import (
    RegistryError,
    RegistryResponse,
    parse_registry_response,
    write_registry_response,
)
from nsp_sandbox.xds.retrieve import parse_retrieve_request, write_retrieve_request
from nsp_sandbox.xds.rim import Association, Classification, ObjectRef, RegistryPackage, Slot
from nsp_sandbox.xds.soap import SoapVersion, build_envelope, parse_envelope, serialize


def _reparse(element: etree._Element) -> etree._Element:
    """Serialise and parse again, so nothing is shared with the written tree."""
    return parse_envelope(serialize(build_envelope(SoapVersion.SOAP12, element))).payload


def test_provide_and_register_round_trips_through_mtom() -> None:
    message = message_of("iti41/request-mime.txt")
    original = parse_provide_and_register(message.envelope().payload, message.attachments)
    envelope = build_envelope(SoapVersion.SOAP12, write_provide_and_register(original))
    content_type, body = package(envelope, SoapVersion.SOAP12, action=v.ACTION_ITI41)
    again_message = parse_message(content_type, body)
    again = parse_provide_and_register(again_message.envelope().payload, again_message.attachments)
    assert again == original
    assert isinstance(again, ProvideAndRegisterDocumentSetRequest)


@pytest.mark.parametrize("name", ["ITI-18-Request-Nancy.xml", "iti18/20190613103042-iti18-request.xml"])
def test_query_requests_round_trip(name: str) -> None:
    original = parse_adhoc_query_request(message_of(name).envelope().payload)
    assert parse_adhoc_query_request(_reparse(write_adhoc_query_request(original))) == original


@pytest.mark.parametrize("name", ["ITI-18-Response-Nancy.xml", "iti18/20190613103042-iti18-response.xml"])
def test_query_responses_round_trip(name: str) -> None:
    original = parse_adhoc_query_response(message_of(name).envelope().payload)
    assert parse_adhoc_query_response(_reparse(write_adhoc_query_response(original))) == original


def test_object_ref_responses_round_trip() -> None:
    original = parse_adhoc_query_response(message_of("ITI-18-Response-Nancy.xml").envelope().payload)
    original.objects = [ObjectRef(o.id, "urn:oid:1.2.208.176.43210.8.20") for o in original.objects]
    again = parse_adhoc_query_response(_reparse(write_adhoc_query_response(original)))
    assert again == original and all(isinstance(o, ObjectRef) for o in again.objects)


@pytest.mark.parametrize("name", ["ITI-43-Request-Nancy.xml", "iti43/20190613113513-iti43-request.xml"])
def test_retrieve_requests_round_trip(name: str) -> None:
    original = parse_retrieve_request(message_of(name).envelope().payload)
    assert parse_retrieve_request(_reparse(write_retrieve_request(original))) == original


def test_registry_responses_round_trip_with_errors_and_warnings() -> None:
    original = RegistryResponse.for_errors([
        RegistryError("XDSPatientIdDoesNotMatch", "patient ids differ", "urn:uuid:1"),
        RegistryError("XDSExtraMetadataNotSaved", "slot foo ignored", None, v.SEVERITY_WARNING),
    ], partial=True)  # fmt: skip
    assert original.status_word == "PartialSuccess"
    written = write_registry_response(original)
    assert written.find("{*}RegistryErrorList").get("highestSeverity") == v.SEVERITY_ERROR
    assert parse_registry_response(_reparse(written)) == original
    warning_only = RegistryResponse.for_errors([RegistryError("DocumentQueued", severity=v.SEVERITY_WARNING)])
    assert warning_only.status_word == "Success"
    assert parse_registry_response(_reparse(write_registry_response(warning_only))) == warning_only


def _update_document_set() -> SubmitObjectsRequest:
    """An ITI-57 deprecation ("slettemarkering"): a SubmissionSet and one UpdateAvailabilityStatus."""
    package_ = RegistryPackage(id="SubmissionSet01", slots=[Slot("submissionTime", ["20260101120000"])],
                               classifications=[Classification(id="c1", classified_object="SubmissionSet01",
                                                               classification_node=v.SUBMISSION_SET_NODE)])  # fmt: skip
    update = StatusUpdate("Assoc01", "SubmissionSet01", "urn:uuid:4016a1b2-0000-4000-8000-000000000000",
                          v.STATUS_APPROVED, v.STATUS_DEPRECATED)  # fmt: skip
    replace = Association(id="Assoc02", association_type=v.ASSOC_RPLC, source_object="urn:uuid:new",
                          target_object="urn:uuid:old")  # fmt: skip
    return SubmitObjectsRequest([package_, update.association(), replace])


def test_update_document_set_round_trips_and_reads_its_status_updates() -> None:
    original = _update_document_set()
    again = parse_submit_objects_request(_reparse(write_submit_objects_request(original)), "/SubmitObjectsRequest")
    assert again == original
    assert again.submission_set.id == "SubmissionSet01"
    (update,) = again.status_updates
    assert (update.target, update.original, update.new) == (
        "urn:uuid:4016a1b2-0000-4000-8000-000000000000", v.STATUS_APPROVED, v.STATUS_DEPRECATED,
    )  # fmt: skip
    assert [a.id for a in again.associations_of_type(v.ASSOC_RPLC)] == ["Assoc02"]


def test_a_status_update_without_new_status_is_an_update_error() -> None:
    original = _update_document_set()
    broken = original.associations[0]
    broken.slots = [s for s in broken.slots if s.name != v.SLOT_NEW_STATUS]
    again = parse_submit_objects_request(_reparse(write_submit_objects_request(original)), "/SOR")
    with pytest.raises(XdsWireError) as caught:
        _ = again.status_updates
    assert caught.value.xds_code == "XDSMetadataUpdateError"
    assert caught.value.location == "/SOR/RegistryObjectList/Association[1]"
