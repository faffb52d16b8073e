"""The real DDS captures (2019, national test STS) replayed through the DGWS check: the compact
ones verify with that STS's certificate trusted and the clock inside the card; past the card they
are expired; altered, untrusted or edited after capture they are refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from dgws_helpers import COMPACT, EDITED, INSIDE_NANCY, capture, card_element, national_sts_certificate

from nsp_sandbox.dgws.certificates import TrustList
from nsp_sandbox.dgws.faults import DgwsFault
from nsp_sandbox.dgws.hsuid import CITIZEN, find_hsuid, parse_hsuid
from nsp_sandbox.dgws.idcard import CVR, parse_idcard
from nsp_sandbox.dgws.medcom_header import FLOW_FINALIZED, find_header, parse_medcom_header
from nsp_sandbox.dgws.security import check_security, parse_envelope


def inside(name: str) -> datetime:
    card = parse_idcard(card_element(capture(name)))
    return card.not_before + (card.not_on_or_after - card.not_before) / 2


def trusted() -> TrustList:
    return TrustList((national_sts_certificate(),))


def fault_of(raw: bytes, now: datetime, trust: TrustList | None = None, **kwargs) -> DgwsFault:  # type: ignore[no-untyped-def]
    with pytest.raises(DgwsFault) as caught:
        check_security(parse_envelope(raw), trust if trust is not None else trusted(), now, **kwargs)
    return caught.value


@pytest.mark.parametrize("name", COMPACT)
def test_compact_captures_verify(name: str) -> None:
    verified = check_security(parse_envelope(capture(name)), trusted(), inside(name))
    card = verified.card
    assert (card.issuer, card.card_type, card.authentication_level, card.version) == ("TEST2-NSP-STS", "system", 3,
                                                                                       "1.0.1")
    assert card.care_provider.id == "46837428" and card.care_provider.id_format == CVR
    assert card.care_provider.name == "Statens Serum Institut"
    assert "SOSI Test Federation" in verified.sts_certificate.subject.rfc4514_string()
    assert verified.header.security_level == 3 and verified.header.message_id


def test_nancy_card_and_headers() -> None:
    verified = check_security(parse_envelope(capture(COMPACT[0])), trusted(), INSIDE_NANCY)
    assert verified.card.it_system_name == "Kom Godt i Gang Guider"
    assert verified.card.not_on_or_after == datetime(2019, 5, 29, 8, 7, 31, tzinfo=UTC)
    assert verified.header.flow_id == "a2df3cfd-7e1c-47c3-9fd5-8824c4e899fb"
    assert verified.header.flow_status == "flow_running" and verified.header.timeout == "1440"
    hsuid = verified.hsuid
    assert hsuid is not None and hsuid.user_type == CITIZEN
    assert (hsuid.acting_cpr, hsuid.citizen_cpr) == ("2512489996", "2512489996")
    assert (hsuid.system_name, hsuid.system_version, hsuid.system_owner) == ("Sundhedsjournalen", "1.0", "Sundhed.dk")
    assert hsuid.citizen_user_relation == "nsi:Citizen" and not hsuid.consent_override and not hsuid.is_assistant


def test_iti41_has_no_hsuid() -> None:
    verified = check_security(parse_envelope(capture("iti41/request-soap.xml")), trusted(),
                              inside("iti41/request-soap.xml"))
    assert verified.hsuid is None and verified.header.message_id == "e6feeaa5-6e0a-43f3-9a14-a6dbdcd85671"


@pytest.mark.parametrize("name", COMPACT)
def test_clock_past_the_card_is_expired(name: str) -> None:
    card = parse_idcard(card_element(capture(name)))
    fault = fault_of(capture(name), card.not_on_or_after.replace(hour=23))
    assert fault.code == "expired_idcard" and "NotOnOrAfter" in fault.where


def test_clock_before_the_card_is_invalid() -> None:
    fault = fault_of(capture(COMPACT[0]), datetime(2019, 5, 27, tzinfo=UTC))
    assert fault.code == "invalid_idcard"


def test_skew_extends_the_validity() -> None:
    after = datetime(2019, 5, 29, 8, 9, 0, tzinfo=UTC)  # 89 s past NotOnOrAfter
    assert check_security(parse_envelope(capture(COMPACT[0])), trusted(), after, skew_seconds=120)
    assert fault_of(capture(COMPACT[0]), after, skew_seconds=0).code == "expired_idcard"


@pytest.mark.parametrize("old,new", [(b"Statens Serum Institut</saml:AttributeValue>",
                                      b"Statens Serum Instituu</saml:AttributeValue>"),
                                     (b"<saml:AttributeValue>3</saml:AttributeValue>",
                                      b"<saml:AttributeValue>4</saml:AttributeValue>")])
def test_altered_card_is_refused(old: bytes, new: bytes) -> None:
    raw = capture(COMPACT[0])
    assert raw.count(old) == 1
    assert fault_of(raw.replace(old, new), INSIDE_NANCY).code == "invalid_signature"


def test_untrusted_sts_is_refused() -> None:
    fault = fault_of(capture(COMPACT[0]), INSIDE_NANCY, TrustList(()))
    assert fault.code == "invalid_certificate" and "not a trusted STS" in fault.message


def test_sts_certificate_expired_at_the_clock() -> None:
    fault = fault_of(capture(COMPACT[0]), datetime(2023, 1, 1, tzinfo=UTC))
    assert fault.code == "invalid_certificate" and "expired" in fault.message


@pytest.mark.parametrize("name", EDITED)
def test_edited_captures_are_refused(name: str) -> None:
    raw = capture(name)
    card = parse_idcard(card_element(raw))
    now = card.not_before + (card.not_on_or_after - card.not_before) / 2
    fault = fault_of(raw, now, TrustList((national_sts_certificate(name),)))
    assert fault.code == "invalid_signature"


def test_professional_lookup_on_a_system_card_fails_the_level() -> None:
    raw = capture(COMPACT[0]).replace(b"<AttributeValue>nsi:Citizen</AttributeValue>\n",
                                      b"<AttributeValue>nsi:HealthcareProfessional</AttributeValue>\n", 1)
    fault = fault_of(raw, INSIDE_NANCY)
    assert fault.code == "security_level_failed" and "health professional" in fault.message


def test_operation_level_four_refuses_the_system_card() -> None:
    assert fault_of(capture(COMPACT[0]), INSIDE_NANCY, level=4).code == "security_level_failed"


def test_hsuid_of_the_iti43_capture() -> None:
    header = find_hsuid(parse_envelope(capture(COMPACT[1])))
    assert header is not None
    value = parse_hsuid(header)
    assert value.user_type == CITIZEN and value.issuer == "Sundhedsjournalen"
    assert value.org_responsible_name == "Sundhed.dk"


def test_medcom_header_of_a_captured_answer() -> None:
    raw = capture("ITI-18-Response-Nancy.xml")
    header = find_header(parse_envelope(raw))
    assert header is not None
    value = parse_medcom_header(header)
    assert value.flow_status == FLOW_FINALIZED and value.max_age == "24"
    assert value.in_response_to == "1acd805d-aa0b-40c5-ba6d-9746b750e406"
