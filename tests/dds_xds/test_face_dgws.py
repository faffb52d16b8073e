"""The DGWS side of the XDS.b face (DGWS 1.0.1; dds-nsp.md §1.3–1.4), through HTTP: the answer's
headers, and every DGWS fault the face answers — HTTP 500, SOAP 1.1 fault with
``medcom:FaultCode``, ``FlowStatus`` the same code, ``InResponseToMessageID`` the request's."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from lxml import etree
from read_support import GRETHE, LARS, SKODSTRUP, as_gp, provide_years
from xds_support import (
    GP,
    REGISTRY,
    REPOSITORY,
    SOURCE_SYSTEM,
    citizen_hsuid,
    dgws_fault,
    envelope,
    find_documents,
    idcard,
    post,
    professional_hsuid,
    retrieve,
)

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.dgws.medcom_header import FLOW_FINALIZED, find_header, parse_medcom_header
from nsp_sandbox.dgws.namespaces import SAML, q
from nsp_sandbox.xds import namespaces as ns
from nsp_sandbox.xds import vocabulary as v
from nsp_sandbox.xds.soap import SoapVersion, build_envelope, parse_envelope, serialize
from sandbox.lazy_actor import mounted_app


def gp_hsuid():  # type: ignore[no-untyped-def]
    return professional_hsuid(LARS[0], LARS[1], GRETHE, SKODSTRUP)


def medcom_of(raw: bytes):  # type: ignore[no-untyped-def]
    header = find_header(etree.fromstring(raw))
    assert header is not None
    return parse_medcom_header(header)


def test_an_answer_carries_the_dgws_header_and_ws_addressing(client: TestClient) -> None:
    request = envelope(idcard(client, GP), find_documents(GRETHE), v.ACTION_ITI18, hsuid=gp_hsuid(),
                       message_id="urn:uuid:11111111-2222-4333-8444-555555555555")
    response = post(client, REGISTRY, request)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/xml")
    answer = parse_envelope(response.content)
    assert answer.version is SoapVersion.SOAP11
    assert answer.addressing.action == v.RESPONSE_ACTIONS[v.ACTION_ITI18]
    assert answer.addressing.relates_to == "urn:uuid:11111111-2222-4333-8444-555555555555"
    sent = medcom_of(request)
    got = medcom_of(response.content)
    assert got.flow_status == FLOW_FINALIZED and got.in_response_to == sent.message_id
    assert got.flow_id == sent.flow_id and got.message_id != sent.message_id
    assert answer.payload.tag == f"{{{ns.QUERY}}}AdhocQueryResponse"


def test_retrieve_answers_mtom(client: TestClient) -> None:
    provide_years(client)
    response = as_gp(client, retrieve("urn:uuid:00000000-0000-4000-8000-060263123401"), path=REPOSITORY)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("multipart/related")
    assert 'type="application/xop+xml"' in response.headers["content-type"]


def test_missing_security_header(client: TestClient) -> None:
    request = envelope(None, find_documents(GRETHE), v.ACTION_ITI18, hsuid=gp_hsuid())
    response = post(client, REGISTRY, request)
    assert dgws_fault(response).code == "missing_required_header"
    assert medcom_of(response.content).in_response_to == medcom_of(request).message_id


def test_missing_medcom_header(client: TestClient) -> None:
    request = envelope(idcard(client, GP), find_documents(GRETHE), v.ACTION_ITI18, hsuid=gp_hsuid(), medcom=False)
    assert dgws_fault(post(client, REGISTRY, request)).code == "missing_required_header"


def test_a_tampered_card_has_a_bad_signature(client: TestClient) -> None:
    card = idcard(client, GP)
    name = card.find(f"{q(SAML, 'Subject')}/{q(SAML, 'NameID')}")
    assert name is not None
    name.text = "0101010101"
    fault = dgws_fault(post(client, REGISTRY, envelope(card, find_documents(GRETHE), v.ACTION_ITI18,
                                                       hsuid=gp_hsuid())))
    assert fault.code == "invalid_signature"


def test_an_expired_card_on_the_sandbox_clock(client: TestClient, context: SandboxContext) -> None:
    card = idcard(client, GP)
    context.clock.freeze(context.clock.now() + timedelta(hours=25))
    fault = dgws_fault(post(client, REGISTRY, envelope(card, find_documents(GRETHE), v.ACTION_ITI18,
                                                       hsuid=gp_hsuid())))
    assert fault.code == "expired_idcard"


def test_a_professional_look_up_needs_level_4(client: TestClient) -> None:
    # A system card (level 3) with a health professional's HSUID: DDS data retrieval IFS v1.5.
    fault = dgws_fault(post(client, REGISTRY, envelope(idcard(client, SOURCE_SYSTEM), find_documents(GRETHE),
                                                       v.ACTION_ITI18, hsuid=gp_hsuid())))
    assert fault.code == "security_level_failed" and "health professional" in fault.message


def test_an_unknown_user_is_not_authorized(client: TestClient) -> None:
    stranger = professional_hsuid("0101010101", "XX9X9", GRETHE, SKODSTRUP)
    fault = dgws_fault(post(client, REGISTRY, envelope(idcard(client, GP), find_documents(GRETHE), v.ACTION_ITI18,
                                                       hsuid=stranger)))
    assert fault.code == "not_authorized" and "XX9X9" in fault.message
    nobody = citizen_hsuid("0101011234")
    fault = dgws_fault(post(client, REGISTRY, envelope(idcard(client, SOURCE_SYSTEM), find_documents("0101011234"),
                                                       v.ACTION_ITI18, hsuid=nobody)))
    assert fault.code == "not_authorized" and "0101011234" in fault.message


def test_a_source_system_reads_nothing(client: TestClient) -> None:
    fault = dgws_fault(post(client, REGISTRY, envelope(idcard(client, SOURCE_SYSTEM), find_documents(GRETHE),
                                                       v.ACTION_ITI18)))
    assert fault.code == "not_authorized" and "system ID card" in fault.message


def test_soap_12_without_dgws_headers_is_refused(client: TestClient) -> None:
    request = serialize(build_envelope(SoapVersion.SOAP12, find_documents(GRETHE)))
    assert dgws_fault(post(client, REGISTRY, request, "application/soap+xml")).code == "missing_required_header"


def test_an_unreadable_body_is_a_soap_fault(client: TestClient) -> None:
    response = post(client, REGISTRY, b"<not-xml")
    assert response.status_code == 500
    assert b"faultcode" in response.content and b"Client" in response.content


def test_a_body_this_endpoint_does_not_take_is_a_soap_fault(client: TestClient) -> None:
    response = post(client, REGISTRY, envelope(idcard(client, GP), retrieve("1.2.3"), v.ACTION_ITI43,
                                               hsuid=gp_hsuid()))
    assert response.status_code == 500 and b"RetrieveDocumentSetRequest" in response.content
    assert b"soap:Client" in response.content


def test_an_unreadable_trust_setting_is_a_processing_problem(client: TestClient,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    for route in client.app.routes:  # every actor built, as at a start, before the setting went bad
        mounted_app(getattr(route, "app", None))
    monkeypatch.setenv("NSP_SANDBOX_DGWS_TRUSTED_STS_CERTS", "/nonexistent/sts.pem")
    fault = dgws_fault(as_gp(client, find_documents(GRETHE)))
    assert fault.code == "processing_problem" and "/nonexistent/sts.pem" in fault.message
