"""The stored metadata as XDS.b shows it: a DocumentReference → ebRIM ``ExtrinsicObject``, a
SubmissionSet ``List`` → ``RegistryPackage``, relations and memberships → ``Association``.

The mapping is IHE MHD's (``documentReference.fsh``, ``submissionSet.fsh``; dds-nsp.md §4.3),
read in the FHIR → XDS direction; where MHD is silent the Mobile Access Gateway's conventions are
followed (one author classification per author group, ``urn:oid:`` dropped from OIDs):

* ``masterIdentifier`` → ``XDSDocumentEntry.uniqueId`` (``urn:oid:X`` → ``X``; a ``urn:oid:``
  root in ``system`` with the extension as value → ``root^extension``); the ``urn:ietf:rfc:3986``
  identifier → entryUUID (the ``id`` and ``lid``);
* ``status`` → availabilityStatus (``current`` → Approved, ``superseded`` / ``entered-in-error`` →
  Deprecated, ITI TF-3 §4.2.3.2.2); the entry's kind → ``objectType`` (stable / on-demand);
* ``type``, ``category``, ``securityLabel``, ``content.format``, ``context.event``,
  ``context.facilityType``, ``context.practiceSetting`` → typeCode, classCode,
  confidentialityCode, formatCode, eventCodeList, healthcareFacilityTypeCode,
  practiceSettingCode, each with its ``codingScheme`` (an OID: ``urn:oid:`` systems directly, other
  systems by their loaded CodeSystem's ``identifier``, else the known OIDs of :data:`KNOWN_SCHEMES`);
* ``subject`` → patientId (CX, ``cpr^^^&1.2.208.176.1.2&ISO``), ``context.sourcePatientInfo`` →
  ``sourcePatientId`` and ``sourcePatientInfo`` (PID-3, PID-5, PID-7, PID-8: DK sends no address);
* contained ``Organization`` / ``Practitioner`` authors → author (``authorInstitution`` XON with the
  SOR code, ``authorPerson`` XCN names only, MD096); ``authenticator`` → ``legalAuthenticator``;
* ``content.attachment`` ``creation``, ``language``, ``title``, ``contentType`` → ``creationTime``
  (DTM, UTC), ``languageCode``, Name, ``mimeType``; ``context.period`` → ``serviceStartTime`` /
  ``serviceStopTime``; ``description`` → Description;
* hash (hex SHA-1, not FHIR's base64) and size for a stable entry only (prohibited for on-demand,
  ITI TF-3 Table 4.2.3.2-1); ``repositoryUniqueId`` and ``home`` from the sandbox settings.

Ids of nested objects (classifications, external identifiers, associations) are name-based UUIDs
of the entry and their role, so the same entry reads the same every time.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nsp_sandbox.xds import vocabulary as v
from nsp_sandbox.xds.hl7v2 import CX, DTM, XCN, XON
from nsp_sandbox.xds.rim import (
    Association,
    Classification,
    ExternalIdentifier,
    ExtrinsicObject,
    LocalizedString,
    RegistryPackage,
    Slot,
)
from services.dds.domain import AssociationKind, AvailabilityStatus, ObjectType, StoredEntry, StoredSubmissionSet
from services.dds.mhd.fhir_dates import parse_instant
from services.dds.mhd.references import codings, contained

_UNIQUE_ID = re.compile(r"^(urn:(oid|uuid):.+|[0-2](\.\d+)+(\^.+)?)$")  # already an XDS uniqueId (MD096)
CPR_OID, SOR_OID = "1.2.208.176.1.2", "1.2.208.176.1.1"
# Code systems whose loaded CodeSystem names no OID, with the OID XDS knows them by (dds-nsp.md §1.5).
KNOWN_SCHEMES = {
    "http://snomed.info/sct": "2.16.840.1.113883.6.96",
    "http://loinc.org": "2.16.840.1.113883.6.1",
    "http://terminology.hl7.org/CodeSystem/v3-Confidentiality": "2.16.840.1.113883.5.25",
    "http://medcomfhir.dk/ig/xdsdocuments/CodeSystem/MedComHCOFormatCodeCS": "1.2.208.184.100.10",
}
STATUS_OF = {AvailabilityStatus.CURRENT: v.STATUS_APPROVED, AvailabilityStatus.SUPERSEDED: v.STATUS_DEPRECATED,
             AvailabilityStatus.ENTERED_IN_ERROR: v.STATUS_DEPRECATED}
_KINDS = {AssociationKind.RPLC: v.ASSOC_RPLC, AssociationKind.APND: v.ASSOC_APND, AssociationKind.XFRM: v.ASSOC_XFRM,
          AssociationKind.SIGNS: v.ASSOC_SIGNS}
# The registry stores a relation's kind by name (RPLC); MHD names it by value (replaces): both map.
ASSOCIATION_OF = {**{k.name: t for k, t in _KINDS.items()}, **{k.value: t for k, t in _KINDS.items()}}
GENDERS = {"female": "F", "male": "M", "other": "O", "unknown": "U"}
# (scheme, where in the DocumentReference) of the coded attributes, in ITI TF-3 Table 4.2.3.2-1 order.
_CODED = ((v.DE_CLASS_CODE, "category"), (v.DE_CONFIDENTIALITY_CODE, "securityLabel"),
          (v.DE_EVENT_CODE_LIST, "event"), (v.DE_FORMAT_CODE, "format"),
          (v.DE_HEALTHCARE_FACILITY_TYPE_CODE, "facilityType"), (v.DE_PRACTICE_SETTING_CODE, "practiceSetting"),
          (v.DE_TYPE_CODE, "type"))


@dataclass
class ViewSettings:
    """What the view needs beyond the entry: the affinity domain's ids and the code-system names."""

    home_community_id: str
    repository_unique_id: str
    system_oids: dict[str, str | None] = field(default_factory=dict)  # FHIR system → OID (cache)
    names: Any = None  # services.dds.metadata.codes.SystemNames, when a terminology is loaded

    def scheme(self, system: str | None) -> str:
        """The XDS ``codingScheme`` of a FHIR code system (an OID when one is known, else the URI)."""
        if not system:
            return ""
        if system.startswith("urn:oid:"):
            return system.removeprefix("urn:oid:")
        if system not in self.system_oids:
            oids = sorted(n for n in (self.names.names(system) if self.names is not None else ()) if
                          n.startswith("urn:oid:"))
            self.system_oids[system] = oids[0].removeprefix("urn:oid:") if oids else KNOWN_SCHEMES.get(system)
        return self.system_oids[system] or system


def object_id(*parts: str) -> str:
    """A stable ``urn:uuid:`` for a nested object, named by its owner and role."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, '/'.join(parts))}"


def xds_oid(value: str) -> str:
    """An identifier value as XDS writes it: ``urn:oid:X`` → ``X``; anything else unchanged."""
    return value.removeprefix("urn:oid:")


def unique_id_of(resource: dict[str, Any], stored: str) -> str:
    """``masterIdentifier`` as XDS uniqueId (root OID in ``system`` + extension → ``root^extension``)."""
    master = resource.get("masterIdentifier") if isinstance(resource.get("masterIdentifier"), dict) else {}
    system = master.get("system")
    if isinstance(system, str) and system.startswith("urn:oid:") and not _UNIQUE_ID.match(stored):
        return f"{xds_oid(system)}^{stored}"
    return xds_oid(stored)


def dtm(value: Any) -> str | None:
    """A FHIR instant or dateTime as an XDS DTM in UTC (precision kept up to the second)."""
    moment = parse_instant(value) if isinstance(value, str) else value if isinstance(value, datetime) else None
    return DTM.of(moment).format() if moment is not None else None


def patient_cx(system: str | None, value: str) -> str:
    """A patient identifier as CX (CX.1 and CX.4 only, ITI TF-3 §4.2.3.1.7)."""
    return CX(value, xds_oid(system or "") or CPR_OID).format()


def _names(items: Iterable[str | None]) -> list[LocalizedString]:
    return [LocalizedString(text) for text in items if text]


def _coded(settings: ViewSettings, owner: str, scheme: str, concepts: list[Any]) -> list[Classification]:
    out: list[Classification] = []
    for concept in concepts:
        for coding in codings(concept):
            code = coding.get("code")
            if not isinstance(code, str) or not code:
                continue
            out.append(Classification(
                id=object_id(owner, scheme, str(len(out))), classification_scheme=scheme, classified_object=owner,
                node_representation=code, object_type=v.OBJECT_TYPE_CLASSIFICATION,
                slots=[Slot("codingScheme", [settings.scheme(coding.get("system"))])],
                name=_names([coding.get("display") if isinstance(coding.get("display"), str) else None])))
    return out


def _concepts(resource: dict[str, Any], where: str) -> list[Any]:
    context = resource.get("context") if isinstance(resource.get("context"), dict) else {}
    if where in ("type",):
        return [resource.get("type")]
    if where in ("category", "securityLabel"):
        return list(resource.get(where) or [])
    if where == "format":
        return [c.get("format") for c in resource.get("content") or [] if isinstance(c, dict)]
    if where == "event":
        return list(context.get("event") or [])
    return [context.get(where)]


def _person(resource: dict[str, Any]) -> XCN | None:
    names = resource.get("name") if isinstance(resource.get("name"), list) else []
    name = names[0] if names and isinstance(names[0], dict) else {}
    given = [g for g in name.get("given") or [] if isinstance(g, str)]
    family = name.get("family") if isinstance(name.get("family"), str) else ""
    if not family and not given:
        return None
    return XCN(family=family, given=given[0] if given else "", further_given="&".join(given[1:]))


def _institution(resource: dict[str, Any]) -> XON | None:
    name = resource.get("name") if isinstance(resource.get("name"), str) else None
    if not name:
        return None
    sor = next((i.get("value") for i in resource.get("identifier") or [] if isinstance(i, dict)
                and i.get("system") == f"urn:oid:{SOR_OID}"), None)
    return XON(name, SOR_OID, sor) if sor else XON(name)


def author_classification(resource: dict[str, Any], owner: str, scheme: str) -> Classification | None:
    """The author (one classification: the institutions and the first person among the authors)."""
    institutions: list[XON] = []
    person: XCN | None = None
    for author in resource.get("author") or []:
        target = contained(resource, author.get("reference")) if isinstance(author, dict) else None
        if target is None:
            continue
        kind = target.get("resourceType")
        if kind == "PractitionerRole":
            org = contained(resource, (target.get("organization") or {}).get("reference"))
            who = contained(resource, (target.get("practitioner") or {}).get("reference"))
            institutions += [x for x in (_institution(org) if org else None,) if x]
            person = person or (_person(who) if who else None)
        elif kind == "Organization" and (institution := _institution(target)) is not None:
            institutions.append(institution)
        elif kind in ("Practitioner", "Patient", "RelatedPerson"):
            person = person or _person(target)
    if not institutions and person is None:
        return None
    slots = ([Slot("authorPerson", [person.format()])] if person else []) + (
        [Slot("authorInstitution", [i.format() for i in institutions])] if institutions else [])
    return Classification(id=object_id(owner, scheme, "author"), classification_scheme=scheme,
                          classified_object=owner, node_representation="", slots=slots,
                          object_type=v.OBJECT_TYPE_CLASSIFICATION)


def _source_patient(resource: dict[str, Any]) -> list[Slot]:
    context = resource.get("context") if isinstance(resource.get("context"), dict) else {}
    info = context.get("sourcePatientInfo") if isinstance(context.get("sourcePatientInfo"), dict) else {}
    identifier = info.get("identifier") if isinstance(info.get("identifier"), dict) else None
    patient = contained(resource, info.get("reference")) or {}
    if identifier is None:
        identifier = next((i for i in patient.get("identifier") or [] if isinstance(i, dict)), None)
    slots: list[Slot] = []
    pid: list[str] = []
    if identifier is not None and isinstance(identifier.get("value"), str):
        cx = patient_cx(identifier.get("system"), identifier["value"])
        slots.append(Slot("sourcePatientId", [cx]))
        pid.append(f"PID-3|{cx}")
    person = _person(patient) if patient else None
    if person is not None:
        further = f"^{person.further_given}" if person.further_given else ""
        pid.append(f"PID-5|{person.family}^{person.given}{further}")
    if isinstance(patient.get("birthDate"), str):
        pid.append(f"PID-7|{patient['birthDate'].replace('-', '')}")
    if patient.get("gender") in GENDERS:
        pid.append(f"PID-8|{GENDERS[patient['gender']]}")
    if pid:
        slots.append(Slot("sourcePatientInfo", pid))
    return slots


def _entry_slots(entry: StoredEntry, settings: ViewSettings) -> list[Slot]:
    resource = entry.resource
    attachment = next((c.get("attachment") for c in resource.get("content") or [] if isinstance(c, dict)), {}) or {}
    context = resource.get("context") if isinstance(resource.get("context"), dict) else {}
    period = context.get("period") if isinstance(context.get("period"), dict) else {}
    values: list[tuple[str, str | None]] = [
        ("creationTime", dtm(attachment.get("creation"))),
        ("hash", entry.document_hash if entry.object_type is ObjectType.STABLE else None),
        ("languageCode", attachment.get("language") if isinstance(attachment.get("language"), str) else None),
        ("repositoryUniqueId", settings.repository_unique_id),
        ("serviceStartTime", dtm(period.get("start"))),
        ("serviceStopTime", dtm(period.get("end"))),
        ("size", str(entry.size) if entry.object_type is ObjectType.STABLE and entry.size is not None else None),
    ]
    slots = [Slot(name, [value]) for name, value in values if value]
    authenticator = contained(resource, (resource.get("authenticator") or {}).get("reference")) \
        if isinstance(resource.get("authenticator"), dict) else None
    person = _person(authenticator) if authenticator else None
    if person is not None:
        slots.append(Slot("legalAuthenticator", [person.format()]))
    return slots + _source_patient(resource)


def extrinsic_object(entry: StoredEntry, settings: ViewSettings) -> ExtrinsicObject:
    """The DocumentEntry of a stored entry (ITI TF-3 §4.2.3.2, as a registry returns it in ITI-18)."""
    resource, owner = entry.resource, entry.entry_uuid
    attachment = next((c.get("attachment") for c in resource.get("content") or [] if isinstance(c, dict)), {}) or {}
    classifications: list[Classification] = []
    author = author_classification(resource, owner, v.DE_AUTHOR)
    if author is not None:
        classifications.append(author)
    for scheme, where in _CODED:
        classifications += _coded(settings, owner, scheme, _concepts(resource, where))
    identifiers = [
        ExternalIdentifier(id=object_id(owner, "patientId"), identification_scheme=v.DE_PATIENT_ID,
                           registry_object=owner, value=patient_cx(entry.patient.system, entry.patient.value),
                           object_type=v.OBJECT_TYPE_EXTERNAL_IDENTIFIER,
                           name=_names([v.EXTERNAL_IDENTIFIER_NAMES[v.DE_PATIENT_ID]])),
        ExternalIdentifier(id=object_id(owner, "uniqueId"), identification_scheme=v.DE_UNIQUE_ID,
                           registry_object=owner, value=unique_id_of(resource, entry.unique_id),
                           object_type=v.OBJECT_TYPE_EXTERNAL_IDENTIFIER,
                           name=_names([v.EXTERNAL_IDENTIFIER_NAMES[v.DE_UNIQUE_ID]])),
    ]
    return ExtrinsicObject(
        id=owner, lid=owner, object_type=entry.object_type.value, status=STATUS_OF[entry.status],
        home=settings.home_community_id, mime_type=entry.mime_type, slots=_entry_slots(entry, settings),
        name=_names([attachment.get("title") if isinstance(attachment.get("title"), str) else None]),
        description=_names([resource.get("description") if isinstance(resource.get("description"), str) else None]),
        version_name="1", classifications=classifications, external_identifiers=identifiers)


def submission_set_ids(stored: StoredSubmissionSet) -> tuple[str, str]:
    """(entryUUID, uniqueId) of a stored SubmissionSet: its ``official`` and ``usual`` identifiers."""
    found = {i.get("use"): i.get("value") for i in stored.resource.get("identifier") or [] if isinstance(i, dict)}
    entry_uuid = found.get("official") or f"urn:uuid:{stored.id}"
    return str(entry_uuid), xds_oid(str(found.get("usual") or entry_uuid))


def _extension(resource: dict[str, Any], suffix: str) -> dict[str, Any]:
    return next((e for e in resource.get("extension") or [] if isinstance(e, dict)
                 and str(e.get("url", "")).endswith(suffix)), {})


def registry_package(stored: StoredSubmissionSet, settings: ViewSettings) -> RegistryPackage:
    """The SubmissionSet of a stored SubmissionSet ``List`` (ITI TF-3 §4.2.3.3; MHD ``submissionSet.fsh``)."""
    resource = stored.resource
    owner, unique_id = submission_set_ids(stored)
    classifications = [Classification(id=object_id(owner, "node"), classified_object=owner,
                                      classification_node=v.SUBMISSION_SET_NODE,
                                      object_type=v.OBJECT_TYPE_CLASSIFICATION)]
    source = contained(resource, (resource.get("source") or {}).get("reference")) \
        if isinstance(resource.get("source"), dict) else None
    if source is not None:
        author = author_classification({**resource, "author": [resource["source"]]}, owner, v.SS_AUTHOR)
        classifications += [author] if author is not None else []
    designation = _extension(resource, "ihe-designationType").get("valueCodeableConcept")
    classifications += _coded(settings, owner, v.SS_CONTENT_TYPE_CODE, [designation] if designation else [])
    source_id = _extension(resource, "ihe-sourceId").get("valueIdentifier") or {}
    identifiers = [(v.SS_UNIQUE_ID, unique_id), (v.SS_SOURCE_ID, xds_oid(str(source_id.get("value") or ""))),
                   (v.SS_PATIENT_ID, patient_cx(stored.patient.system, stored.patient.value))]
    return RegistryPackage(
        id=owner, lid=owner, object_type=v.OBJECT_TYPE_REGISTRY_PACKAGE, status=v.STATUS_APPROVED,
        home=settings.home_community_id,
        slots=[Slot("submissionTime", [t])] if (t := dtm(resource.get("date")) or dtm(stored.registered_at)) else [],
        name=_names([resource.get("title") if isinstance(resource.get("title"), str) else None]),
        classifications=classifications,
        external_identifiers=[ExternalIdentifier(
            id=object_id(owner, scheme), identification_scheme=scheme, registry_object=owner, value=value,
            object_type=v.OBJECT_TYPE_EXTERNAL_IDENTIFIER, name=_names([v.EXTERNAL_IDENTIFIER_NAMES[scheme]]))
            for scheme, value in identifiers if value])


def has_member(set_uuid: str, entry_uuid: str) -> Association:
    """SubmissionSet → DocumentEntry ``HasMember`` (``SubmissionSetStatus`` Original, ITI TF-3 §4.2.2.1)."""
    return Association(id=object_id(set_uuid, "HasMember", entry_uuid), association_type=v.ASSOC_HAS_MEMBER,
                       source_object=set_uuid, target_object=entry_uuid, status=v.STATUS_APPROVED,
                       object_type=v.OBJECT_TYPE_ASSOCIATION,
                       slots=[Slot(v.SLOT_SUBMISSION_SET_STATUS, ["Original"])])


def relation(source_uuid: str, kind: str, target_uuid: str) -> Association:
    """An entry's relation to an earlier entry (MHD ``relatesTo``) as its XDS association (RPLC, …)."""
    association_type = ASSOCIATION_OF.get(kind, kind)
    return Association(id=object_id(source_uuid, association_type, target_uuid), association_type=association_type,
                       source_object=source_uuid, target_object=target_uuid, status=v.STATUS_APPROVED,
                       object_type=v.OBJECT_TYPE_ASSOCIATION)
