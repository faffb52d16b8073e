"""An MHD DocumentReference as XDS.b metadata — the one FHIR → ebRIM mapping of the sandbox.

Used both ways a DocumentReference becomes a DocumentEntry: by a Document Source that submits over
ITI-41/61/57 (the XDS.b client, the EOJ's and the PLSP hub's XDS doors, the ``xds`` CLI) and by DDS's
XDS.b face showing its stored entries in ITI-18 answers (``services.dds.xds.ebrim_view``, which
adds what only the registry knows: availabilityStatus, hash, size, repositoryUniqueId).

The mapping is IHE MHD's (``documentReference.fsh``; dds-nsp.md §4.3), with Mobile Access Gateway's
conventions where MHD is silent (one author classification per author group, ``urn:oid:`` dropped
from OIDs):

* ``masterIdentifier`` → uniqueId (``urn:oid:X`` → ``X``; a ``urn:oid:`` root in ``system`` with the
  extension as value → ``root^extension``; a ``urn:uuid:`` value kept whole, as DDS stores it); the
  ``urn:uuid:`` identifier → entryUUID;
* ``type``, ``category``, ``securityLabel``, ``content.format``, ``context.event``,
  ``context.facilityType``, ``context.practiceSetting`` → typeCode, classCode, confidentialityCode,
  formatCode, eventCodeList, healthcareFacilityTypeCode, practiceSettingCode — every coding, each
  with its ``codingScheme`` (the caller's ``scheme``: by default a ``urn:oid:`` system as the bare
  OID and any other URI as it is; DDS's view names OIDs from its terminology);
* ``subject`` → patientId (CX, CX.1 and CX.4 only); ``context.sourcePatientInfo`` (for a source,
  else the subject's contained Patient) → ``sourcePatientId`` and ``sourcePatientInfo`` (PID-3,
  PID-5, PID-7, PID-8: DK sends no address);
* contained ``Organization`` / ``Practitioner`` / ``PractitionerRole`` authors → author
  (``authorInstitution`` XON with the SOR code, ``authorPerson`` XCN, MD096); ``authenticator`` →
  ``legalAuthenticator``;
* ``content.attachment`` ``creation``, ``language``, ``title``, ``contentType`` → ``creationTime``
  (DTM, UTC), ``languageCode``, Name, ``mimeType``; ``context.period`` → ``serviceStartTime`` /
  ``serviceStopTime``; ``description`` → Description; for a source, an absolute ``attachment.url``
  → the ``URI`` slot (where an on-demand document is generated);
* ``relatesTo replaces`` → an RPLC association (ITI TF-3 §4.2.2).

Ids of nested objects (classifications, external identifiers) are name-based UUIDs of the entry and
their role, so the same entry maps the same every time.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nsp_sandbox.xds import vocabulary as v
from nsp_sandbox.xds.ebrim import StatusUpdate, SubmitObjectsRequest
from nsp_sandbox.xds.hl7v2 import CX, DTM, XCN, XON
from nsp_sandbox.xds.rim import (
    AnyObject,
    Association,
    Classification,
    ExternalIdentifier,
    ExtrinsicObject,
    LocalizedString,
    RegistryPackage,
    Slot,
)

CPR_OID = "1.2.208.176.1.2"
SOR_OID = "1.2.208.176.1.1"
_CPR_SYSTEMS = (f"urn:oid:{CPR_OID}",)
SS_MARKER_NODE = v.SUBMISSION_SET_NODE
# MedCom's contentTypeCode is not used in DK (dds-nsp.md §1.5), but ebRIM needs the SubmissionSet classified.
_UNIQUE_ID = re.compile(r"^(urn:(oid|uuid):.+|[0-2](\.\d+)+(\^.+)?)\Z", re.ASCII)  # already an XDS uniqueId (MD096)
_FHIR_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?\Z", re.ASCII)
GENDERS = {"female": "F", "male": "M", "other": "O", "unknown": "U"}
# (scheme, where in the DocumentReference) of the coded attributes, in ITI TF-3 Table 4.2.3.2-1 order.
CODED = ((v.DE_CLASS_CODE, "category"), (v.DE_CONFIDENTIALITY_CODE, "securityLabel"),
         (v.DE_EVENT_CODE_LIST, "event"), (v.DE_FORMAT_CODE, "format"),
         (v.DE_HEALTHCARE_FACILITY_TYPE_CODE, "facilityType"), (v.DE_PRACTICE_SETTING_CODE, "practiceSetting"),
         (v.DE_TYPE_CODE, "type"))
Scheme = Callable[[str | None], str]


class MappingError(ValueError):
    """The DocumentReference lacks what XDS metadata requires (names the FHIR element)."""


@dataclass(frozen=True)
class Registered:
    """What a registry adds to a DocumentEntry it shows (ITI-18): never sent by a source."""

    status: str                       # availabilityStatus (Approved / Deprecated)
    mime_type: str                    # as stored
    unique_id: str                    # as stored (masterIdentifier.value)
    repository_unique_id: str
    home_community_id: str
    hash: str | None = None           # hex SHA-1, stable entries only
    size: int | None = None           # stable entries only
    version_name: str = "1"


def bare_id(value: str) -> str:
    """A URI identifier as XDS writes it: ``urn:oid:1.2`` → ``1.2``, ``urn:uuid:x`` → ``x``."""
    for prefix in ("urn:oid:", "urn:uuid:"):
        if value.startswith(prefix):
            return value[len(prefix):]
    return value


def xds_oid(value: str) -> str:
    """An identifier value as XDS writes it: ``urn:oid:X`` → ``X``; anything else unchanged."""
    return value.removeprefix("urn:oid:")


def source_scheme(system: str | None) -> str:
    """A source's ``codingScheme`` of a FHIR system: a ``urn:oid:`` system's OID, any other URI as is."""
    return bare_id(system or "")


def object_id(*parts: str) -> str:
    """A stable ``urn:uuid:`` for a nested object, named by its owner and role."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, '/'.join(parts))}"


def unique_id_of(resource: dict[str, Any], stored: str | None = None) -> str:
    """``masterIdentifier`` (or the ``stored`` value of it) as XDS uniqueId (a root OID in ``system``
    and an extension as value → ``root^extension``; ``urn:oid:`` dropped)."""
    master = resource.get("masterIdentifier") if isinstance(resource.get("masterIdentifier"), dict) else {}
    value = stored if stored is not None else str(master.get("value") or "")
    system = master.get("system")
    if isinstance(system, str) and system.startswith("urn:oid:") and not _UNIQUE_ID.match(value):
        return f"{xds_oid(system)}^{value}"
    return xds_oid(value)


def entry_uuid_of(resource: dict[str, Any]) -> str:
    """The entryUUID (``urn:uuid:…``): the ``urn:uuid:`` identifier, else one derived from the resource id."""
    for item in resource.get("identifier", []):
        value = str(item.get("value", ""))
        if value.startswith("urn:uuid:"):
            return value
    if resource.get("id"):
        try:
            return f"urn:uuid:{uuid.UUID(str(resource['id']))}"
        except ValueError:
            return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, str(resource['id']))}"
    return f"urn:uuid:{uuid.uuid4()}"


def _instant(value: object) -> datetime | None:
    """The first instant of a FHIR date / dateTime / instant (UTC), None if unreadable or zoneless."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        return None
    day = _FHIR_DATE.match(value.strip())
    try:
        if day:
            return datetime(int(day[1]), int(day[2] or 1), int(day[3] or 1), tzinfo=UTC)
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def dtm(value: object, strict: bool = False) -> str | None:
    """An HL7 DTM in UTC to the second (DK rule, dds-nsp.md §1.5) from a FHIR dateTime/instant;
    ``strict``: a value that is no FHIR time with a zone is a :class:`MappingError`, else None."""
    if value is None:
        return None
    moment = _instant(value)
    if moment is None:
        if strict:
            raise MappingError(f"the time {value} is no FHIR dateTime with a time zone; XDS times are UTC")
        return None
    return DTM.of(moment).format()


def contained(resource: dict[str, Any], reference: object) -> dict[str, Any] | None:
    """The contained resource a local reference (``#id``) points at."""
    if not isinstance(reference, str) or not reference.startswith("#"):
        return None
    return next((r for r in resource.get("contained") or [] if isinstance(r, dict) and r.get("id") == reference[1:]),
                None)


def codings(concept: object) -> list[dict[str, Any]]:
    """The codings of a CodeableConcept (or of a bare Coding)."""
    if not isinstance(concept, dict):
        return []
    if "coding" in concept:
        return [c for c in concept.get("coding") or [] if isinstance(c, dict)]
    return [concept] if "code" in concept else []


def _subject_patient(resource: dict[str, Any]) -> dict[str, Any] | None:
    subject = resource.get("subject") if isinstance(resource.get("subject"), dict) else {}
    found = contained(resource, subject.get("reference"))
    if found is None:
        found = next((r for r in resource.get("contained") or [] if isinstance(r, dict)
                      and r.get("resourceType") == "Patient"), None)
    return found


def patient_cpr(resource: dict[str, Any]) -> str:
    """The CPR number the entry is about (subject identifier or the contained Patient's)."""
    identifier = (resource.get("subject") or {}).get("identifier") or {}
    if identifier.get("system") in _CPR_SYSTEMS and identifier.get("value"):
        return str(identifier["value"])
    patient = _subject_patient(resource) or {}
    cpr = next((str(i["value"]) for i in patient.get("identifier") or [] if i.get("system") in _CPR_SYSTEMS
                and i.get("value")), None)
    if cpr is None:
        raise MappingError("DocumentReference.subject names no CPR number (urn:oid:1.2.208.176.1.2)")
    return cpr


def patient_cx(cpr: str, system: str | None = None) -> str:
    """A patient identifier as CX (CX.1 and CX.4 only, ITI TF-3 §4.2.3.1.7); the CPR OID by default."""
    return CX(cpr, xds_oid(system or "") or CPR_OID).format()


def _names(items: Iterable[str | None]) -> list[LocalizedString]:
    return [LocalizedString(text) for text in items if text]


def coded(scheme_of: Scheme, owner: str, scheme: str, concepts: list[Any]) -> list[Classification]:
    """One classification per coding of ``concepts`` (``scheme_of`` gives each its codingScheme)."""
    out: list[Classification] = []
    for concept in concepts:
        for coding in codings(concept):
            code = coding.get("code")
            if not isinstance(code, str) or not code:
                continue
            out.append(Classification(
                id=object_id(owner, scheme, str(len(out))), classification_scheme=scheme, classified_object=owner,
                node_representation=code, object_type=v.OBJECT_TYPE_CLASSIFICATION,
                slots=[Slot("codingScheme", [scheme_of(coding.get("system"))])],
                name=_names([coding.get("display") if isinstance(coding.get("display"), str) else None])))
    return out


def _concepts(resource: dict[str, Any], where: str) -> list[Any]:
    context = resource.get("context") if isinstance(resource.get("context"), dict) else {}
    if where == "type":
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


def source_patient(resource: dict[str, Any], *, from_subject: bool = False) -> list[Slot]:
    """``sourcePatientId`` and ``sourcePatientInfo`` of ``context.sourcePatientInfo`` (``from_subject``:
    without one, of the subject's contained Patient)."""
    context = resource.get("context") if isinstance(resource.get("context"), dict) else {}
    info = context.get("sourcePatientInfo") if isinstance(context.get("sourcePatientInfo"), dict) else {}
    identifier = info.get("identifier") if isinstance(info.get("identifier"), dict) else None
    patient = contained(resource, info.get("reference")) or {}
    if not info and from_subject:
        patient = _subject_patient(resource) or {}
        identifier = {"system": _CPR_SYSTEMS[0], "value": patient_cpr(resource)}
    if identifier is None:
        identifier = next((i for i in patient.get("identifier") or [] if isinstance(i, dict)), None)
    slots: list[Slot] = []
    pid: list[str] = []
    if identifier is not None and isinstance(identifier.get("value"), str):
        cx = patient_cx(identifier["value"], identifier.get("system"))
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


def _attachment(resource: dict[str, Any]) -> dict[str, Any]:
    return next((c.get("attachment") for c in resource.get("content") or [] if isinstance(c, dict)), {}) or {}


def _slots(resource: dict[str, Any], registered: Registered | None, stable: bool, strict: bool) -> list[Slot]:
    attachment = _attachment(resource)
    context = resource.get("context") if isinstance(resource.get("context"), dict) else {}
    period = context.get("period") if isinstance(context.get("period"), dict) else {}
    kept = registered is not None and stable
    values: list[tuple[str, str | None]] = [
        ("creationTime", dtm(attachment.get("creation"), strict)),
        ("hash", registered.hash if kept and registered else None),
        ("languageCode", attachment.get("language") if isinstance(attachment.get("language"), str) else None),
        ("repositoryUniqueId", registered.repository_unique_id if registered else None),
        ("serviceStartTime", dtm(period.get("start"), strict)),
        ("serviceStopTime", dtm(period.get("end"), strict)),
        ("size", str(registered.size) if kept and registered and registered.size is not None else None),
    ]
    slots = [Slot(name, [value]) for name, value in values if value]
    authenticator = contained(resource, (resource.get("authenticator") or {}).get("reference")) \
        if isinstance(resource.get("authenticator"), dict) else None
    person = _person(authenticator) if authenticator else None
    if person is not None:
        slots.append(Slot("legalAuthenticator", [person.format()]))
    url = str(attachment.get("url", ""))
    if registered is None and url.startswith(("http://", "https://")):  # a source says where it generates it
        slots.append(Slot("URI", [url]))
    return slots + source_patient(resource, from_subject=registered is None)


def document_entry(resource: dict[str, Any], *, on_demand: bool = False, home: str | None = None,
                   entry_uuid: str | None = None, patient: tuple[str | None, str] | None = None,
                   scheme: Scheme = source_scheme, registered: Registered | None = None) -> ExtrinsicObject:
    """The DocumentEntry for ``resource`` (a DocumentReference as JSON), per MHD's mapping (module doc).

    A source leaves ``registered`` out (its times must be readable: :class:`MappingError`); a registry
    showing a stored entry gives its ``entry_uuid``, ``patient`` (system, value) and ``registered``."""
    if resource.get("resourceType") != "DocumentReference":
        raise MappingError("the description is not a DocumentReference")
    master = (resource.get("masterIdentifier") or {}).get("value")
    if not master and registered is None:
        raise MappingError("DocumentReference.masterIdentifier (the XDS uniqueId) is required")
    owner = entry_uuid or entry_uuid_of(resource)
    system, value = patient or (_CPR_SYSTEMS[0], patient_cpr(resource))
    classifications = [c for c in [author_classification(resource, owner, v.DE_AUTHOR)] if c is not None]
    for coded_scheme, where in CODED:
        classifications += coded(scheme, owner, coded_scheme, _concepts(resource, where))
    unique_id = unique_id_of(resource, registered.unique_id if registered else None)
    identifiers = [
        ExternalIdentifier(id=object_id(owner, id_name), identification_scheme=id_scheme, registry_object=owner,
                           value=id_value, object_type=v.OBJECT_TYPE_EXTERNAL_IDENTIFIER,
                           name=_names([v.EXTERNAL_IDENTIFIER_NAMES[id_scheme]]))
        for id_name, id_scheme, id_value in (("patientId", v.DE_PATIENT_ID, patient_cx(value, system)),
                                             ("uniqueId", v.DE_UNIQUE_ID, unique_id))]
    attachment = _attachment(resource)
    title = attachment.get("title") if isinstance(attachment.get("title"), str) else None
    description = resource.get("description") if isinstance(resource.get("description"), str) else None
    return ExtrinsicObject(
        id=owner, lid=owner if registered else None,
        object_type=v.DOCUMENT_ENTRY_ON_DEMAND if on_demand else v.DOCUMENT_ENTRY_STABLE,
        status=registered.status if registered else None,
        home=registered.home_community_id if registered else home,
        mime_type=registered.mime_type if registered else str(attachment.get("contentType")
                                                               or "application/octet-stream"),
        slots=_slots(resource, registered, not on_demand, strict=registered is None),
        name=_names([title]), description=_names([description]),
        version_name=registered.version_name if registered else None,
        classifications=classifications, external_identifiers=identifiers)


def replaced_entry(resource: dict[str, Any]) -> str | None:
    """The id of the entry ``resource`` replaces (``relatesTo`` ``replaces``), as a reference tail."""
    for relation in resource.get("relatesTo", []):
        if relation.get("code") == "replaces":
            reference = str(relation.get("target", {}).get("reference", ""))
            return reference.rsplit("/", 1)[-1] or None
    return None


@dataclass(frozen=True)
class SubmissionSetInfo:
    """What the SubmissionSet says: the source's id (an OID), the patient, when, and by whom."""

    source_id: str
    cpr: str
    submitted: datetime
    author_institution: str | None = None  # XON, e.g. from the first entry's author
    title: str | None = None


def submission_set(info: SubmissionSetInfo, set_id: str | None = None) -> RegistryPackage:
    """The SubmissionSet RegistryPackage with its required metadata (ITI TF-3 §4.2.3.3)."""
    set_id = set_id or f"urn:uuid:{uuid.uuid4()}"
    classifications = [Classification(id=f"urn:uuid:{uuid.uuid4()}", classified_object=set_id,
                                      classification_node=SS_MARKER_NODE)]
    if info.author_institution:
        classifications.append(Classification(
            id=f"urn:uuid:{uuid.uuid4()}", classification_scheme=v.SS_AUTHOR, classified_object=set_id,
            node_representation="", slots=[Slot("authorInstitution", [info.author_institution])]))
    identifiers = [
        ExternalIdentifier(id=f"urn:uuid:{uuid.uuid4()}", identification_scheme=v.SS_UNIQUE_ID,
                           registry_object=set_id, value=f"2.25.{uuid.uuid4().int}",
                           name=[LocalizedString("XDSSubmissionSet.uniqueId")]),
        ExternalIdentifier(id=f"urn:uuid:{uuid.uuid4()}", identification_scheme=v.SS_SOURCE_ID,
                           registry_object=set_id, value=bare_id(info.source_id),
                           name=[LocalizedString("XDSSubmissionSet.sourceId")]),
        ExternalIdentifier(id=f"urn:uuid:{uuid.uuid4()}", identification_scheme=v.SS_PATIENT_ID,
                           registry_object=set_id, value=patient_cx(info.cpr),
                           name=[LocalizedString("XDSSubmissionSet.patientId")]),
    ]  # fmt: skip
    return RegistryPackage(id=set_id, slots=[Slot("submissionTime", [dtm(info.submitted)])],
                           name=[LocalizedString(info.title)] if info.title else [],
                           classifications=classifications, external_identifiers=identifiers)


def _member(set_id: str, target: str) -> Association:
    return Association(id=f"urn:uuid:{uuid.uuid4()}", association_type=v.ASSOC_HAS_MEMBER, source_object=set_id,
                       target_object=target, slots=[Slot(v.SLOT_SUBMISSION_SET_STATUS, ["Original"])])


def submission(entries: Sequence[ExtrinsicObject], info: SubmissionSetInfo,
               replaces: dict[str, str] | None = None) -> SubmitObjectsRequest:
    """A SubmitObjectsRequest: the SubmissionSet, ``entries``, a HasMember per entry and an RPLC per
    ``replaces`` item (new entryUUID → entryUUID of the entry it replaces, ITI TF-3 §4.2.2.2)."""
    package = submission_set(info)
    objects: list[AnyObject] = [package, *entries]
    objects += [_member(package.id, entry.id) for entry in entries]
    for new, old in (replaces or {}).items():
        objects.append(Association(id=f"urn:uuid:{uuid.uuid4()}", association_type=v.ASSOC_RPLC,
                                   source_object=new, target_object=old))
    return SubmitObjectsRequest(objects)


def status_update(entry_uuid: str, info: SubmissionSetInfo, *, original: str = v.STATUS_APPROVED,
                  new: str = v.STATUS_DEPRECATED) -> SubmitObjectsRequest:
    """The ITI-57 deprecation ("slettemarkering", dds-nsp.md §3.2): a SubmissionSet and an
    UpdateAvailabilityStatus association from it to ``entry_uuid`` (ITI TF-3 §4.1.6)."""
    package = submission_set(info)
    update = StatusUpdate(f"urn:uuid:{uuid.uuid4()}", package.id, entry_uuid, original, new)
    return SubmitObjectsRequest([package, update.association()])
