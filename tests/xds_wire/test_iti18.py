"""ITI-18 as DDS saw it: the FindDocuments parameters and the LeafClass answer with its errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from xds_captures import message_of

from nsp_sandbox.xds import vocabulary as v
from nsp_sandbox.xds.ebrim import Code, codes, patient_id
from nsp_sandbox.xds.errors import XdsWireError
from nsp_sandbox.xds.hl7v2 import CX, DTM
from nsp_sandbox.xds.query import (
    AdhocQueryRequest,
    QuerySlot,
    parse_adhoc_query_request,
    parse_adhoc_query_response,
)
from nsp_sandbox.xds.rim import ExtrinsicObject

CPR = CX("2512489996", "1.2.208.176.1.2")


def test_the_find_documents_request() -> None:
    request = parse_adhoc_query_request(message_of("ITI-18-Request-Nancy.xml").envelope().payload)
    assert request.stored_query == v.STORED_QUERIES_BY_NAME["FindDocuments"]
    assert request.return_type == v.RETURN_LEAF_CLASS and request.return_composed_objects
    assert request.problems() == []
    assert request.patient_id() == CPR
    assert request.values("$XDSDocumentEntryStatus") == [v.STATUS_APPROVED]
    assert request.codes("$XDSDocumentEntryTypeCode") == [[Code("39289-4", "2.16.840.1.113883.6.1")]]
    assert request.time("$XDSDocumentEntryServiceStartTimeFrom") == datetime(2017, 12, 31, tzinfo=UTC)
    assert request.time("$XDSDocumentEntryServiceStopTimeTo") == datetime(2018, 12, 31, tzinfo=UTC)
    assert request.values("$XDSDocumentEntryType") == [v.DOCUMENT_ENTRY_STABLE]
    assert list(request.parameters) == [
        "$XDSDocumentEntryPatientId", "$XDSDocumentEntryStatus", "$XDSDocumentEntryTypeCode",
        "$XDSDocumentEntryServiceStartTimeFrom", "$XDSDocumentEntryServiceStopTimeTo", "$XDSDocumentEntryType",
    ]  # fmt: skip


def test_the_pretty_request_with_unquoted_values_reads_the_same() -> None:
    request = parse_adhoc_query_request(message_of("iti18/20190613103042-iti18-request.xml").envelope().payload)
    assert request.patient_id() == CPR
    assert request.values("$XDSDocumentEntryType") == [v.DOCUMENT_ENTRY_ON_DEMAND]
    assert request.problems() == []


def test_the_leaf_class_response_with_a_partial_success() -> None:
    response = parse_adhoc_query_response(message_of("ITI-18-Response-Nancy.xml").envelope().payload)
    assert response.status == v.RESPONSE_PARTIAL_SUCCESS
    assert response.total_result_count == 20 and len(response.objects) == 20
    (error,) = response.errors
    assert error.severity == v.SEVERITY_ERROR and "Bookplan server returned error: Forbidden" in error.error_code
    first = response.objects[0]
    assert isinstance(first, ExtrinsicObject)
    assert first.id == "urn:uuid:f39c1380-4d8f-4e27-9376-398b39791067"
    assert first.version_name == "1"
    assert first.slot_value("repositoryUniqueId") == "1.2.208.176.43210.8.20.11"
    assert DTM.parse(first.slot_value("creationTime") or "").precision == 8  # DDS's under-precise times
    assert patient_id(first) == CPR
    assert codes(first, v.DE_CONFIDENTIALITY_CODE) == [Code("N", "2.16.840.1.113883.5.25", "Normal")]
    assert all(isinstance(o, ExtrinsicObject) for o in response.objects)


@pytest.mark.parametrize("total", ["\u00b2", "\u0668", "8" * 5000, "-1", "8 8"])
def test_a_total_that_is_no_ascii_count_is_a_wire_error(total: str) -> None:
    """'²' is a digit to str.isdigit() and none to int(); '٨' is one int() reads as 8; 5,000 digits are more than
    int() reads."""
    element = message_of("iti18/20190613103042-iti18-response.xml").envelope().payload
    element.set("totalResultCount", total)
    with pytest.raises(XdsWireError) as caught:
        parse_adhoc_query_response(element)
    assert "totalResultCount" in str(caught.value)


def test_the_second_response_is_a_success() -> None:
    response = parse_adhoc_query_response(message_of("iti18/20190613103042-iti18-response.xml").envelope().payload)
    assert response.status == v.RESPONSE_SUCCESS and response.errors == []
    assert len(response.objects) == response.total_result_count == 8


def _request(*slots: tuple[str, list[str]], query: str = "FindDocuments") -> AdhocQueryRequest:
    uuid = v.STORED_QUERIES_BY_NAME[query].uuid
    return AdhocQueryRequest(uuid, [QuerySlot(name, values, f"/Slot[{i}]") for i, (name, values) in
                                    enumerate(slots, 1)])  # fmt: skip


def test_parameter_problems_are_named() -> None:
    request = _request(("$XDSDocumentEntryPatientId", ["'1^^^&1.2&ISO'"]), ("$Bogus", ["'x'"]))
    messages = [(p.xds_code, p.message) for p in request.problems()]
    assert ("XDSStoredQueryParamNumber", "FindDocuments takes no parameter $Bogus") in messages
    assert ("XDSStoredQueryMissingParam", "FindDocuments requires $XDSDocumentEntryStatus") in messages
    both = _request(("$XDSDocumentEntryEntryUUID", ["('urn:uuid:a')"]), ("$XDSDocumentEntryUniqueId", ["('1')"]),
                    query="GetDocuments")  # fmt: skip
    assert [p.message for p in both.problems()] == [
        "GetDocuments requires exactly one of $XDSDocumentEntryEntryUUID, $XDSDocumentEntryUniqueId, got 2"
    ]
    unknown = AdhocQueryRequest("urn:uuid:00000000-0000-0000-0000-000000000000")
    assert [p.xds_code for p in unknown.problems()] == ["XDSUnknownStoredQuery"]


def test_and_groups_of_event_codes() -> None:
    request = _request(("$XDSDocumentEntryEventCodeList", ["('a^^s1','b^^s1')"]),
                       ("$XDSDocumentEntryEventCodeList", ["('c^^s2')"]))  # fmt: skip
    assert request.groups("$XDSDocumentEntryEventCodeList") == [["a^^s1", "b^^s1"], ["c^^s2"]]
    assert request.codes("$XDSDocumentEntryEventCodeList")[1] == [Code("c", "s2")]
    repeated = _request(("$XDSDocumentEntryStatus", ["('x')"]), ("$XDSDocumentEntryStatus", ["('y')"]))
    assert any("is given in 2 slots" in p.message for p in repeated.problems())


def test_bad_values_name_their_slot() -> None:
    request = _request(("$XDSDocumentEntryPatientId", ["'1^^^&1.2&ISO'", "'2^^^&1.2&ISO'"]),
                       ("$XDSDocumentEntryCreationTimeFrom", ["2019-01-01"]),
                       ("$XDSDocumentEntryTypeCode", ["('unterminated)"]))  # fmt: skip
    with pytest.raises(XdsWireError, match="takes one value, got 2") as caught:
        request.patient_id()
    assert caught.value.location == "/Slot[1]"
    with pytest.raises(XdsWireError, match="DTM must be") as caught:
        request.time("$XDSDocumentEntryCreationTimeFrom")
    assert caught.value.location == "/Slot[2]"
    with pytest.raises(XdsWireError, match="unterminated quoted string"):
        request.values("$XDSDocumentEntryTypeCode")
