"""The SOSI ID card (DGWS 1.0.1 §"ID card"; dds-nsp.md §1.3) as a typed value, read from and
written to a ``saml:Assertion id="IDCard"`` with the element and attribute names of the real cards:
``IDCardData`` (``sosi:IDCardID``, ``IDCardVersion``, ``IDCardType``, ``AuthenticationLevel``,
``OCESCertHash``), ``UserLog`` (user cards) and ``SystemLog``. Signing is :mod:`.signing`'s job."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from nsp_sandbox.dgws.faults import DgwsFault
from nsp_sandbox.dgws.namespaces import DS, SAML, q
from nsp_sandbox.dgws.xmltime import format_instant, parse_instant
from nsp_sandbox.digits import whole_number

VERSION = "1.0.1"
HOLDER_OF_KEY = "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key"
SIGNATURE_ID = "OCESSignature"
# medcom:CareProviderID NameFormat values (DGWS 1.0.1 NameFormat enumeration)
CVR, SOR, Y_NUMBER, P_NUMBER, SKS = "medcom:cvrnumber", "medcom:sor", "medcom:ynumber", "medcom:pnumber", \
    "medcom:skscode"
SYSTEM, USER = "system", "user"


@dataclass(frozen=True)
class CareProvider:
    """The organisation the card is issued for: ``id`` in ``id_format`` (CVR, SOR, …) and its name."""

    id: str
    id_format: str
    name: str


@dataclass(frozen=True)
class CardUser:
    """``UserLog`` of an employee (user) card."""

    cpr: str
    given_name: str
    surname: str
    role: str
    occupation: str | None = None
    authorisation_code: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class IdCard:
    """A DGWS ID card. ``authentication_level`` 3 is a system card (VOCES/FOCES), 4 an employee card (MOCES)."""

    card_id: str
    card_type: str  # system | user
    authentication_level: int
    issuer: str
    name_id: str
    name_id_format: str
    issue_instant: datetime
    not_before: datetime
    not_on_or_after: datetime
    it_system_name: str
    care_provider: CareProvider
    user: CardUser | None = None
    cert_hash: str | None = None
    version: str = VERSION


def _attributes(assertion: etree._Element, statement_id: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for statement in assertion.findall(q(SAML, "AttributeStatement")):
        if statement.get("id") != statement_id:
            continue
        for attribute in statement.findall(q(SAML, "Attribute")):
            found[attribute.get("Name", "")] = (attribute.findtext(q(SAML, "AttributeValue")) or "").strip()
            if attribute.get("NameFormat"):
                found[attribute.get("Name", "") + "@NameFormat"] = attribute.get("NameFormat", "")
    return found


def _required(values: dict[str, str], name: str, where: str) -> str:
    value = values.get(name)
    if not value:
        raise DgwsFault("invalid_idcard", f"The ID card lacks {name}", f"saml:AttributeStatement[@id='{where}']")
    return value


def _instant(element: etree._Element | None, attribute: str, where: str) -> datetime:
    moment = parse_instant(element.get(attribute) if element is not None else None)
    if moment is None:
        raise DgwsFault("invalid_idcard", f"The ID card's {where}/@{attribute} is missing or no xsd:dateTime", where)
    return moment


def parse_idcard(assertion: etree._Element) -> IdCard:
    """The card in ``assertion``; a :class:`DgwsFault` ``invalid_idcard`` names what is missing."""
    if assertion.tag != q(SAML, "Assertion") or assertion.get("id") != "IDCard":
        raise DgwsFault("invalid_idcard", "The ID card is a saml:Assertion with id=\"IDCard\"", "saml:Assertion")
    data = _attributes(assertion, "IDCardData")
    system = _attributes(assertion, "SystemLog")
    card_type = _required(data, "sosi:IDCardType", "IDCardData")
    level = _required(data, "sosi:AuthenticationLevel", "IDCardData")
    number = whole_number(level)
    if card_type not in (SYSTEM, USER) or number is None:
        raise DgwsFault("invalid_idcard", f"IDCardType '{card_type}' / AuthenticationLevel '{level[:40]}' is not a "
                        "system or user card with a numeric level", "saml:AttributeStatement[@id='IDCardData']")
    name_id = assertion.find(f"{q(SAML, 'Subject')}/{q(SAML, 'NameID')}")
    conditions = assertion.find(q(SAML, "Conditions"))
    user = _parse_user(assertion) if card_type == USER else None
    return IdCard(
        card_id=_required(data, "sosi:IDCardID", "IDCardData"), card_type=card_type,
        authentication_level=number, issuer=(assertion.findtext(q(SAML, "Issuer")) or "").strip(),
        name_id=(name_id.text or "").strip() if name_id is not None else "",
        name_id_format=name_id.get("Format", "") if name_id is not None else "",
        issue_instant=_instant(assertion, "IssueInstant", "saml:Assertion"),
        not_before=_instant(conditions, "NotBefore", "saml:Conditions"),
        not_on_or_after=_instant(conditions, "NotOnOrAfter", "saml:Conditions"),
        it_system_name=_required(system, "medcom:ITSystemName", "SystemLog"),
        care_provider=CareProvider(_required(system, "medcom:CareProviderID", "SystemLog"),
                                   system.get("medcom:CareProviderID@NameFormat", ""),
                                   system.get("medcom:CareProviderName", "")),
        user=user, cert_hash=data.get("sosi:OCESCertHash") or None,
        version=_required(data, "sosi:IDCardVersion", "IDCardData"),
    )


def _parse_user(assertion: etree._Element) -> CardUser:
    log = _attributes(assertion, "UserLog")
    return CardUser(
        cpr=_required(log, "medcom:UserCivilRegistrationNumber", "UserLog"),
        given_name=log.get("medcom:UserGivenName", ""), surname=log.get("medcom:UserSurName", ""),
        role=log.get("medcom:UserRole", ""), occupation=log.get("medcom:UserOccupation") or None,
        authorisation_code=log.get("medcom:UserAuthorizationCode") or None,
        email=log.get("medcom:UserEmailAddress") or None,
    )


def _statement(assertion: etree._Element, statement_id: str,
               values: list[tuple[str, str | None, str | None]]) -> None:
    statement = etree.SubElement(assertion, q(SAML, "AttributeStatement"), id=statement_id)
    for name, value, name_format in values:
        if value is None:
            continue
        attribute = etree.SubElement(statement, q(SAML, "Attribute"), Name=name)
        if name_format:
            attribute.set("NameFormat", name_format)
        etree.SubElement(attribute, q(SAML, "AttributeValue")).text = value


def build_idcard(card: IdCard) -> etree._Element:
    """The unsigned ``saml:Assertion`` for ``card``, laid out as the national STS lays out its cards."""
    assertion = etree.Element(q(SAML, "Assertion"), nsmap={"saml": SAML, "ds": DS},
                              IssueInstant=format_instant(card.issue_instant), Version="2.0", id="IDCard")
    etree.SubElement(assertion, q(SAML, "Issuer")).text = card.issuer
    subject = etree.SubElement(assertion, q(SAML, "Subject"))
    etree.SubElement(subject, q(SAML, "NameID"), Format=card.name_id_format).text = card.name_id
    confirmation = etree.SubElement(subject, q(SAML, "SubjectConfirmation"))
    etree.SubElement(confirmation, q(SAML, "ConfirmationMethod")).text = HOLDER_OF_KEY
    data = etree.SubElement(confirmation, q(SAML, "SubjectConfirmationData"))
    etree.SubElement(etree.SubElement(data, q(DS, "KeyInfo")), q(DS, "KeyName")).text = SIGNATURE_ID
    etree.SubElement(assertion, q(SAML, "Conditions"), NotBefore=format_instant(card.not_before),
                     NotOnOrAfter=format_instant(card.not_on_or_after))
    _statement(assertion, "IDCardData", [
        ("sosi:IDCardID", card.card_id, None), ("sosi:IDCardVersion", card.version, None),
        ("sosi:IDCardType", card.card_type, None), ("sosi:AuthenticationLevel", str(card.authentication_level), None),
        ("sosi:OCESCertHash", card.cert_hash, None)])
    if card.user is not None:
        u = card.user
        _statement(assertion, "UserLog", [
            ("medcom:UserCivilRegistrationNumber", u.cpr, None), ("medcom:UserGivenName", u.given_name, None),
            ("medcom:UserSurName", u.surname, None), ("medcom:UserEmailAddress", u.email, None),
            ("medcom:UserRole", u.role, None), ("medcom:UserOccupation", u.occupation, None),
            ("medcom:UserAuthorizationCode", u.authorisation_code, None)])
    _statement(assertion, "SystemLog", [
        ("medcom:ITSystemName", card.it_system_name, None),
        ("medcom:CareProviderID", card.care_provider.id, card.care_provider.id_format),
        ("medcom:CareProviderName", card.care_provider.name, None)])
    return assertion
