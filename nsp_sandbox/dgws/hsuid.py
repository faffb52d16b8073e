"""The HSUID header (HSUID 1.1, ``http://www.nsi.dk/hsuid/2016/08/hsuid-1.1.xsd``; dds-nsp.md §1.3):
who uses the data and for whom. ``nsi:UserType`` (``nsi:Citizen`` | ``nsi:HealthcareProfessional``)
and ``nsi:ActingUserCivilRegistrationNumber`` are required; a responsible user different from the
acting one is an assistant acting for an authorised professional; ``nsi:ConsentOverride`` is
værdispring, a boolean with no reason. Attributes are read by ``Name`` under any prefix the
``Assertion`` and ``Attribute`` elements use (the captures put them in the HSUID namespace)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from nsp_sandbox.dgws.faults import DgwsFault
from nsp_sandbox.dgws.namespaces import HSUID, q, soap_header_path
from nsp_sandbox.dgws.xmltime import format_instant, parse_instant

CITIZEN, PROFESSIONAL = "nsi:Citizen", "nsi:HealthcareProfessional"
USER_TYPES = frozenset({CITIZEN, PROFESSIONAL})
ORG_ID_FORMATS = frozenset({"nsi:sor", "nsi:skskode", "nsi:ydernummer", "nsi:pnummer", "nsi:cvr", "nsi:comcode"})


@dataclass(frozen=True)
class OrgUsing:
    id: str
    id_format: str = "nsi:sor"


@dataclass(frozen=True)
class Hsuid:
    user_type: str
    acting_cpr: str
    citizen_cpr: str | None = None
    org_using: OrgUsing | None = None
    responsible_cpr: str | None = None
    responsible_authorisation: str | None = None
    consent_override: bool = False
    system_owner: str | None = None
    system_name: str | None = None
    system_version: str | None = None
    org_responsible_name: str | None = None
    citizen_user_relation: str | None = None
    issuer: str | None = None
    issue_instant: datetime | None = None

    @property
    def is_assistant(self) -> bool:
        """Someone acting for another (responsible) user."""
        return self.responsible_cpr is not None and self.responsible_cpr != self.acting_cpr


def find_hsuid(envelope: etree._Element) -> etree._Element | None:
    return envelope.find(f"{soap_header_path(envelope)}/{q(HSUID, 'HsuidHeader')}")


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


def _values(header: etree._Element) -> tuple[dict[str, tuple[str, str | None]], etree._Element | None]:
    assertion = next((e for e in header if isinstance(e.tag, str) and _local(e) == "Assertion"), None)
    found: dict[str, tuple[str, str | None]] = {}
    if assertion is None:
        return found, None
    for attribute in assertion.iter():
        if isinstance(attribute.tag, str) and _local(attribute) == "Attribute":
            value = next((v.text or "" for v in attribute if isinstance(v.tag, str) and _local(v) == "AttributeValue"),
                         "")
            found[attribute.get("Name", "")] = (value.strip(), attribute.get("NameFormat"))
    return found, assertion


def parse_hsuid(header: etree._Element) -> Hsuid:
    """The HSUID values; ``syntax_error`` naming the attribute that is missing or malformed."""
    values, assertion = _values(header)
    if assertion is None:
        raise DgwsFault("syntax_error", "HsuidHeader holds no Assertion", "HsuidHeader")

    def get(name: str) -> str | None:
        return values.get(name, ("", None))[0] or None

    user_type, acting = get("nsi:UserType"), get("nsi:ActingUserCivilRegistrationNumber")
    if user_type not in USER_TYPES:
        raise DgwsFault("syntax_error", f"nsi:UserType '{user_type}' is not one of {', '.join(sorted(USER_TYPES))}",
                        "HsuidHeader/Attribute[@Name='nsi:UserType']")
    if not acting:
        raise DgwsFault("syntax_error", "nsi:ActingUserCivilRegistrationNumber is required",
                        "HsuidHeader/Attribute[@Name='nsi:ActingUserCivilRegistrationNumber']")
    override = get("nsi:ConsentOverride")
    if override not in (None, "true", "false"):
        raise DgwsFault("syntax_error", f"nsi:ConsentOverride is a boolean, not '{override}'",
                        "HsuidHeader/Attribute[@Name='nsi:ConsentOverride']")
    org = values.get("nsi:OrgUsingID")
    return Hsuid(
        user_type=user_type, acting_cpr=acting, citizen_cpr=get("nsi:CitizenCivilRegistrationNumber"),
        org_using=OrgUsing(org[0], org[1] or "nsi:sor") if org and org[0] else None,
        responsible_cpr=get("nsi:ResponsibleUserCivilRegistrationNumber"),
        responsible_authorisation=get("nsi:ResponsibleUserAuthorizationCode"),
        consent_override=override == "true", system_owner=get("nsi:SystemOwnerName"),
        system_name=get("nsi:SystemName"), system_version=get("nsi:SystemVersion"),
        org_responsible_name=get("nsi:OrgResponsibleName"), citizen_user_relation=get("nsi:CitizenUserRelation"),
        issuer=(next((e.text for e in assertion if isinstance(e.tag, str) and _local(e) == "Issuer"), None)),
        issue_instant=parse_instant(assertion.get("IssueInstant")),
    )


def build_hsuid(value: Hsuid) -> etree._Element:
    """``value`` as an ``HsuidHeader`` laid out as the captures lay it out (HSUID namespace throughout)."""
    header = etree.Element(q(HSUID, "HsuidHeader"), nsmap={None: HSUID})
    assertion = etree.SubElement(header, q(HSUID, "Assertion"), Version="2.0", id="HSUID")
    if value.issue_instant is not None:
        assertion.set("IssueInstant", format_instant(value.issue_instant))
    etree.SubElement(assertion, q(HSUID, "Issuer")).text = value.issuer or value.system_name or ""
    statement = etree.SubElement(assertion, q(HSUID, "AttributeStatement"), id="HSUIDdata")
    rows: list[tuple[str, str | None, str | None]] = [
        ("nsi:UserType", value.user_type, None), ("nsi:ActingUserCivilRegistrationNumber", value.acting_cpr, None),
        ("nsi:CitizenCivilRegistrationNumber", value.citizen_cpr, None),
        ("nsi:OrgUsingID", value.org_using.id if value.org_using else None,
         value.org_using.id_format if value.org_using else None),
        ("nsi:ResponsibleUserCivilRegistrationNumber", value.responsible_cpr, None),
        ("nsi:ResponsibleUserAuthorizationCode", value.responsible_authorisation, None),
        ("nsi:ConsentOverride", "true" if value.consent_override else "false", None),
        ("nsi:SystemOwnerName", value.system_owner, None), ("nsi:SystemName", value.system_name, None),
        ("nsi:SystemVersion", value.system_version, None), ("nsi:OrgResponsibleName", value.org_responsible_name, None),
        ("nsi:CitizenUserRelation", value.citizen_user_relation, None)]
    for name, text, name_format in rows:
        if text is None:
            continue
        attribute = etree.SubElement(statement, q(HSUID, "Attribute"), Name=name)
        if name_format:
            attribute.set("NameFormat", name_format)
        etree.SubElement(attribute, q(HSUID, "AttributeValue")).text = text
    return header
