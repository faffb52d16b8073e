"""Cards the sandbox signs: round trip through the DGWS check, security levels 3 and 4, headers
built and read back, faults as SOAP 1.1 with HTTP 500, and the settings."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from dgws_helpers import NOW, employee_card, pair, signed, system_card, trust
from lxml import etree

from nsp_sandbox.dgws.faults import DgwsFault, fault_response, read_fault
from nsp_sandbox.dgws.hsuid import PROFESSIONAL, Hsuid, OrgUsing, build_hsuid, parse_hsuid
from nsp_sandbox.dgws.idcard import build_idcard, parse_idcard
from nsp_sandbox.dgws.medcom_header import MedcomHeader, build_medcom_header, parse_medcom_header
from nsp_sandbox.dgws.namespaces import DS, SAML, q
from nsp_sandbox.dgws.request_envelope import request_envelope
from nsp_sandbox.dgws.responses import answer, fault_answer
from nsp_sandbox.dgws.security import check_security, parse_envelope
from nsp_sandbox.dgws.settings import dgws_settings
from nsp_sandbox.dgws.signing import verify_enveloped

HEADER_NS = "http://www.medcom.dk/dgws/2006/04/dgws-1.0.xsd"
HEADER = MedcomHeader(security_level=3, message_id="m-1", flow_id="f-1", timeout="1440")
BODY = etree.fromstring(b"<Ping xmlns='urn:test'/>")


def envelope(card_element: etree._Element, hsuid: Hsuid | None = None,
             header: MedcomHeader = HEADER) -> etree._Element:
    return parse_envelope(request_envelope(card_element, header, BODY, NOW, hsuid))


def professional_hsuid(**kwargs) -> Hsuid:  # type: ignore[no-untyped-def]
    return Hsuid(user_type=PROFESSIONAL, acting_cpr="1203701235", citizen_cpr="2512489996",
                 org_using=OrgUsing("52581000016005"), system_name="GP system", system_version="2.1",
                 issuer="GP system", **kwargs)


def test_signed_system_card_round_trip() -> None:
    sts = pair("sts")
    element = signed(system_card(), sts)
    signature = element.find(q(DS, "Signature"))
    assert signature is not None and signature.get("id") == "OCESSignature"
    assert "xml-exc-c14n" in etree.tostring(signature).decode()
    verified = check_security(envelope(element), trust(sts), NOW + timedelta(hours=1))
    assert verified.card == parse_idcard(element) == system_card()
    assert verified.sts_certificate == sts.certificate


def test_employee_card_is_level_four_and_carries_the_professional() -> None:
    sts = pair("sts")
    verified = check_security(envelope(signed(employee_card(), sts), professional_hsuid()), trust(sts), NOW)
    assert verified.card.authentication_level == 4 and verified.card.user == employee_card().user
    assert verified.hsuid == professional_hsuid()


def test_system_card_cannot_look_up_for_a_professional() -> None:
    sts = pair("sts")
    with pytest.raises(DgwsFault) as caught:
        check_security(envelope(signed(system_card(), sts), professional_hsuid()), trust(sts), NOW)
    assert caught.value.code == "security_level_failed"


def test_employee_card_below_level_four_is_refused() -> None:
    sts = pair("sts")
    weak = employee_card().__class__(**{**employee_card().__dict__, "authentication_level": 3})
    with pytest.raises(DgwsFault) as caught:
        check_security(envelope(signed(weak, sts)), trust(sts), NOW)
    assert caught.value.code == "security_level_failed"


def test_header_claiming_more_than_the_card_is_refused() -> None:
    sts = pair("sts")
    with pytest.raises(DgwsFault) as caught:
        check_security(envelope(signed(system_card(), sts), header=MedcomHeader(security_level=4, message_id="m")),
                       trust(sts), NOW)
    assert caught.value.code == "security_level_failed"


def test_card_signed_by_a_client_certificate_is_not_an_sts_card() -> None:
    sts, client = pair("sts"), pair("client")
    with pytest.raises(DgwsFault) as caught:
        check_security(envelope(signed(system_card(), client)), trust(sts), NOW)
    assert caught.value.code == "invalid_certificate"


def test_swapped_key_info_does_not_verify() -> None:
    """KeyInfo naming a trusted certificate does not make another key's signature valid."""
    sts, forger = pair("sts"), pair("forger")
    element = signed(system_card(), forger)
    forged = signed(system_card(), sts).find(f".//{q(DS, 'X509Certificate')}")
    target = element.find(f".//{q(DS, 'X509Certificate')}")
    assert forged is not None and target is not None
    target.text = forged.text
    with pytest.raises(DgwsFault) as caught:
        check_security(envelope(element), trust(sts), NOW)
    assert caught.value.code == "invalid_signature"


@pytest.mark.parametrize("drop,code", [("Security", "missing_required_header"),
                                       ("Header", "missing_required_header"),
                                       ("Timestamp", "missing_required_header")])
def test_missing_headers(drop: str, code: str) -> None:
    sts = pair("sts")
    root = envelope(signed(system_card(), sts))
    victim = next(e for e in root.iter() if isinstance(e.tag, str) and etree.QName(e).localname == drop
                  and e.getparent() is not None and etree.QName(e.getparent()).localname in ("Header", "Security"))
    victim.getparent().remove(victim)
    with pytest.raises(DgwsFault) as caught:
        check_security(root, trust(sts), NOW)
    assert caught.value.code == code


def test_not_xml_and_not_soap() -> None:
    with pytest.raises(DgwsFault) as caught:
        parse_envelope(b"<a>")
    assert caught.value.code == "syntax_error"
    with pytest.raises(DgwsFault) as caught:
        parse_envelope(b"<Envelope/>")
    assert caught.value.code == "syntax_error"


def test_hsuid_round_trip_with_an_assistant_and_consent_override() -> None:
    value = professional_hsuid(responsible_cpr="0408781238", responsible_authorisation="SK7T2",
                               consent_override=True)
    back = parse_hsuid(build_hsuid(value))
    assert back == value and back.is_assistant and back.consent_override


def test_hsuid_requires_user_type_and_acting_user() -> None:
    element = build_hsuid(professional_hsuid())
    for attribute in element.iter():
        if attribute.get("Name") == "nsi:UserType":
            attribute[0].text = "nsi:Robot"
    with pytest.raises(DgwsFault) as caught:
        parse_hsuid(element)
    assert caught.value.code == "syntax_error" and "UserType" in caught.value.where


def test_medcom_header_round_trip() -> None:
    assert parse_medcom_header(build_medcom_header(HEADER)) == HEADER


# '²' is a digit to str.isdigit() and none to int(); '٣' is one int() reads as 3; 5,000 digits are more than int() reads
NOT_ASCII_NUMBERS = ["\u00b2", "\u0663", "3" * 5000]


@pytest.mark.parametrize("level", [*NOT_ASCII_NUMBERS, "+3", "6"])
def test_a_security_level_that_is_no_dgws_level_is_a_syntax_fault(level: str) -> None:
    header = build_medcom_header(HEADER)
    header.find(f"{{{HEADER_NS}}}SecurityLevel").text = level
    with pytest.raises(DgwsFault) as caught:
        parse_medcom_header(header)
    assert caught.value.code == "syntax_error" and "SecurityLevel" in caught.value.where


@pytest.mark.parametrize("level", NOT_ASCII_NUMBERS)
def test_an_authentication_level_that_is_no_number_is_an_invalid_card(level: str) -> None:
    card = build_idcard(system_card())
    values = [a.find(q(SAML, "AttributeValue")) for a in card.iter()
              if a.get("Name") == "sosi:AuthenticationLevel"]
    assert len(values) == 1
    values[0].text = level
    with pytest.raises(DgwsFault) as caught:
        parse_idcard(card)
    assert caught.value.code == "invalid_idcard" and "AuthenticationLevel" in str(caught.value)


def test_fault_is_soap_1_1_with_http_500_and_flow_status() -> None:
    response = fault_answer(DgwsFault("invalid_signature", "digest mismatch", "ds:Signature"), HEADER)
    assert response.status_code == 500 and response.media_type.startswith("text/xml")
    fault = read_fault(bytes(response.body))
    assert fault is not None and fault.code == "invalid_signature"
    header = parse_medcom_header(parse_envelope(bytes(response.body)).find(f".//{{{HEADER_NS}}}Header"))
    assert header.flow_status == "invalid_signature" and header.in_response_to == "m-1"
    assert fault_response(DgwsFault("processing_problem", "x")).status_code == 500
    assert b"soap:Server" in bytes(fault_response(DgwsFault("processing_problem", "x")).body)


def test_answer_links_to_the_request() -> None:
    response = answer(BODY, HEADER)
    header = parse_medcom_header(parse_envelope(bytes(response.body)).find(f".//{{{HEADER_NS}}}Header"))
    assert (header.flow_status, header.in_response_to, header.flow_id) == ("flow_finalized_succesfully", "m-1", "f-1")


def test_unknown_fault_code_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        DgwsFault("no_such_code", "x")


def test_settings_from_the_environment(tmp_path: Path) -> None:
    (tmp_path / "a.pem").write_text(pair("sts").certificate_pem())
    folder = tmp_path / "clients"
    folder.mkdir()
    (folder / "c.crt").write_text(pair("client").certificate_pem())
    settings = dgws_settings({"NSP_SANDBOX_DGWS_TRUSTED_STS_CERTS": str(tmp_path / "a.pem"),
                              "NSP_SANDBOX_STS_CLIENT_CERTS": f"{folder}:",
                              "NSP_SANDBOX_DGWS_CLOCK_SKEW_SECONDS": "60"})
    assert pair("sts").certificate in settings.trusted_sts_certs
    assert settings.sts_client_certs is not None and pair("client").certificate in settings.sts_client_certs
    assert pair("client").certificate not in settings.trusted_sts_certs and settings.clock_skew_seconds == 60
    empty = dgws_settings({})
    assert empty.sts_client_certs is None and empty.trusted_sts_certs.certificates == ()
    with pytest.raises(ValueError):
        dgws_settings({"NSP_SANDBOX_DGWS_TRUSTED_STS_CERTS": str(tmp_path / "missing.pem")})



def test_a_card_verified_before_is_judged_again_on_every_use() -> None:
    """A verified card is not verified again byte for byte, but its certificate's trust and
    validity are checked each time, and a card changed in any byte is verified anew."""
    sts = pair("sts")
    element = signed(system_card(), sts)
    content, _ = verify_enveloped(element, trust(sts), NOW)
    again, _ = verify_enveloped(element, trust(sts), NOW)
    assert etree.tostring(again) == etree.tostring(content) and parse_idcard(again).card_id == "c1"
    with pytest.raises(DgwsFault) as caught:
        verify_enveloped(element, trust(pair("other-sts")), NOW)
    assert caught.value.code == "invalid_certificate"
    with pytest.raises(DgwsFault) as caught:
        verify_enveloped(element, trust(sts), sts.certificate.not_valid_after_utc + timedelta(days=1))
    assert caught.value.code == "invalid_certificate"
    changed = etree.fromstring(etree.tostring(element).replace(b"Cura (EOJ)", b"Cura (EPJ)"))
    with pytest.raises(DgwsFault) as caught:
        verify_enveloped(changed, trust(sts), NOW)
    assert caught.value.code == "invalid_signature"
