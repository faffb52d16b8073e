"""The DGWS 1.0.1 header check of a SOAP 1.1 request (dds-nsp.md §1.3): ``wsse:Security`` with a
``wsu:Timestamp`` and the SOSI ID card, the card's enveloped signature by a trusted STS, its
``Conditions`` at ``now`` (with the configured clock skew), the STS certificate's validity at
``now``, ``medcom:Header``, the optional HSUID header and the security level required (3 a system
card, 4 an employee card; 4 for a health professional's look-up, DDS data retrieval IFS v1.5).
The answer is the verified request or a :class:`DgwsFault` naming the ``medcom:FaultCode``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from lxml import etree

from nsp_sandbox.dgws.certificates import TrustList
from nsp_sandbox.dgws.faults import DgwsFault
from nsp_sandbox.dgws.hsuid import PROFESSIONAL, Hsuid, find_hsuid, parse_hsuid
from nsp_sandbox.dgws.idcard import USER, VERSION, IdCard, parse_idcard
from nsp_sandbox.dgws.medcom_header import MedcomHeader, find_header, parse_medcom_header
from nsp_sandbox.dgws.namespaces import SAML, SOAP, WSSE, WSU, q, soap_header_path
from nsp_sandbox.dgws.signing import verify_enveloped
from nsp_sandbox.dgws.xmltime import parse_instant

SYSTEM_LEVEL, EMPLOYEE_LEVEL = 3, 4
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)


@dataclass(frozen=True)
class VerifiedRequest:
    """What a request proved: the card as signed, the STS certificate that signed it, its headers."""

    card: IdCard
    sts_certificate: x509.Certificate
    header: MedcomHeader
    hsuid: Hsuid | None
    created: datetime


def parse_envelope(body: bytes) -> etree._Element:
    """The SOAP 1.1 envelope in ``body`` (``syntax_error`` when it is not one); entities are not resolved."""
    try:
        root = etree.fromstring(body, parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        raise DgwsFault("syntax_error", f"The request is not well-formed XML: {exc}") from exc
    if root.tag != q(SOAP, "Envelope"):
        raise DgwsFault("syntax_error", f"Expected a SOAP 1.1 Envelope, found {root.tag}", "/")
    return root


def required_level(hsuid: Hsuid | None) -> int:
    """The level a request needs: 4 when HSUID names a health professional, else 3 (dds-nsp.md §1.3)."""
    return EMPLOYEE_LEVEL if hsuid is not None and hsuid.user_type == PROFESSIONAL else SYSTEM_LEVEL


def _security(envelope: etree._Element) -> tuple[etree._Element, datetime]:
    security = envelope.find(f"{soap_header_path(envelope)}/{q(WSSE, 'Security')}")
    if security is None:
        raise DgwsFault("missing_required_header", "The request has no wsse:Security header", "soap:Header")
    created_text = security.findtext(f"{q(WSU, 'Timestamp')}/{q(WSU, 'Created')}")
    if created_text is None:
        raise DgwsFault("missing_required_header", "wsse:Security has no wsu:Timestamp/wsu:Created",
                        "wsse:Security/wsu:Timestamp")
    created = parse_instant(created_text)
    if created is None:
        raise DgwsFault("syntax_error", f"wsu:Created '{created_text}' is no xsd:dateTime",
                        "wsse:Security/wsu:Timestamp/wsu:Created")
    return security, created


def check_conditions(card: IdCard, now: datetime, skew: timedelta) -> None:
    """``expired_idcard`` past ``NotOnOrAfter``; ``invalid_idcard`` before ``NotBefore`` (both ± ``skew``)."""
    if now >= card.not_on_or_after + skew:
        raise DgwsFault("expired_idcard", f"The ID card expired at {card.not_on_or_after.isoformat()} "
                        f"(now {now.isoformat()})", "saml:Conditions/@NotOnOrAfter")
    if now < card.not_before - skew:
        raise DgwsFault("invalid_idcard", f"The ID card is not valid before {card.not_before.isoformat()} "
                        f"(now {now.isoformat()})", "saml:Conditions/@NotBefore")


def check_level(card: IdCard, header: MedcomHeader, hsuid: Hsuid | None, level: int | None) -> None:
    """``security_level_failed`` when the card's level is below what is needed or below what
    ``medcom:Header/SecurityLevel`` claims, or an employee card is not level 4."""
    needed = level if level is not None else required_level(hsuid)
    if card.card_type == USER and card.authentication_level < EMPLOYEE_LEVEL:
        raise DgwsFault("security_level_failed", f"An employee card has level 4, not {card.authentication_level}",
                        "sosi:AuthenticationLevel")
    if card.authentication_level < needed:
        why = " for a health professional's look-up" if needed == EMPLOYEE_LEVEL and level is None else ""
        raise DgwsFault("security_level_failed", f"Security level {needed} is required{why}; the ID card has "
                        f"level {card.authentication_level}", "sosi:AuthenticationLevel")
    if header.security_level is not None and header.security_level > card.authentication_level:
        raise DgwsFault("security_level_failed", f"medcom:SecurityLevel {header.security_level} exceeds the ID "
                        f"card's level {card.authentication_level}", "medcom:Header/medcom:SecurityLevel")


def check_security(envelope: etree._Element, trusted: TrustList, now: datetime, *, skew_seconds: int = 300,
                   level: int | None = None) -> VerifiedRequest:
    """Check a DGWS request's headers at ``now`` against the STS certificates in ``trusted``.
    ``level`` is the security level the operation needs (``None``: as :func:`required_level`)."""
    security, created = _security(envelope)
    assertions = security.findall(q(SAML, "Assertion"))
    if len(assertions) != 1:
        raise DgwsFault("missing_required_header" if not assertions else "invalid_idcard",
                        f"wsse:Security must hold one ID card (saml:Assertion), found {len(assertions)}",
                        "wsse:Security/saml:Assertion")
    if assertions[0].get("id") != "IDCard":
        raise DgwsFault("invalid_idcard", "The ID card is a saml:Assertion with id=\"IDCard\"", "saml:Assertion/@id")
    signed, certificate = verify_enveloped(assertions[0], trusted, now)
    card = parse_idcard(signed)
    if card.version != VERSION:
        raise DgwsFault("invalid_idcard", f"IDCardVersion {card.version} is not {VERSION}", "sosi:IDCardVersion")
    check_conditions(card, now, timedelta(seconds=skew_seconds))
    medcom = find_header(envelope)
    if medcom is None:
        raise DgwsFault("missing_required_header", "The request has no medcom:Header", "soap:Header")
    header = parse_medcom_header(medcom)
    hsuid_element = find_hsuid(envelope)
    hsuid = parse_hsuid(hsuid_element) if hsuid_element is not None else None
    check_level(card, header, hsuid, level)
    return VerifiedRequest(card, certificate, header, hsuid, created)
