"""An MHD DocumentReference as XDS.b metadata, for a Document Source that submits over ITI-41/61/57.

The mapping is the IHE MHD one (dds-nsp.md §4.3; MHD ``documentReference.fsh``), with Mobile Access
Gateway's conventions where MHD is silent: ``masterIdentifier`` → uniqueId (an ``urn:oid:`` prefix
dropped; a ``urn:uuid:`` value kept whole, as DDS's MHD face stores it), ``identifier`` → entryUUID,
``type``/``category``/``securityLabel``/``content.format``/
``context.facilityType``/``context.practiceSetting``/``context.event`` → typeCode/classCode/
confidentialityCode/formatCode/healthcareFacilityTypeCode/practiceSettingCode/eventCodeList, ``subject``
(the contained Patient's CPR) → patientId and sourcePatientId (CX with the CPR OID), the contained
Patient → sourcePatientInfo (PID-5, PID-7, PID-8 only, DK rule), the contained Organization → author
institution (XON with the SOR OID), ``attachment.{contentType, language, creation, title}`` →
mimeType, languageCode, creationTime (UTC DTM), title; ``context.period`` → serviceStart/StopTime;
an absolute ``attachment.url`` → the URI slot;
``relatesTo replaces`` → an RPLC association (ITI TF-3 §4.2.2). Coding systems given as ``urn:oid:``
become the bare OID in ``codingScheme``; other URIs are kept as they are.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nsp_sandbox.xds import vocabulary as v
from nsp_sandbox.xds.ebrim import StatusUpdate, SubmitObjectsRequest
from nsp_sandbox.xds.hl7v2 import CX, XON
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
_CPR_SYSTEMS = ("urn:oid:1.2.208.176.1.2",)
_SOR_SYSTEMS = ("urn:oid:1.2.208.176.1.1",)
SS_MARKER_NODE = v.SUBMISSION_SET_NODE
# MedCom's contentTypeCode is not used in DK (dds-nsp.md §1.5), but ebRIM needs the SubmissionSet classified.


class MappingError(ValueError):
    """The DocumentReference lacks what XDS metadata requires (names the FHIR element)."""


def bare_id(value: str) -> str:
    """A URI identifier as XDS writes it: ``urn:oid:1.2`` → ``1.2``, ``urn:uuid:x`` → ``x``."""
    for prefix in ("urn:oid:", "urn:uuid:"):
        if value.startswith(prefix):
            return value[len(prefix):]
    return value


def unique_id_of(master_identifier: str) -> str:
    """The XDS uniqueId of a masterIdentifier value: ``urn:oid:1.2`` → ``1.2``; anything else unchanged."""
    return master_identifier.removeprefix("urn:oid:")


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


def dtm(text: str | datetime) -> str:
    """An HL7 DTM in UTC to the second (DK rule, dds-nsp.md §1.5) from a FHIR dateTime/instant."""
    moment = text if isinstance(text, datetime) else datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise MappingError(f"the time {text} has no time zone; XDS times are UTC")
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S")


def _contained(resource: dict[str, Any], reference: str | None, kind: str) -> dict[str, Any] | None:
    if reference and reference.startswith("#"):
        found = next((r for r in resource.get("contained", []) if r.get("id") == reference[1:]), None)
        if found is not None and found.get("resourceType") == kind:
            return found
    return next((r for r in resource.get("contained", []) if r.get("resourceType") == kind), None)


def _identifier(resource: dict[str, Any] | None, systems: Sequence[str]) -> str | None:
    for item in (resource or {}).get("identifier", []):
        if item.get("system") in systems and item.get("value"):
            return str(item["value"])
    return None


def patient_cpr(resource: dict[str, Any]) -> str:
    """The CPR number the entry is about (subject identifier or the contained Patient's)."""
    subject = resource.get("subject", {})
    identifier = subject.get("identifier", {})
    if identifier.get("system") in _CPR_SYSTEMS and identifier.get("value"):
        return str(identifier["value"])
    cpr = _identifier(_contained(resource, subject.get("reference"), "Patient"), _CPR_SYSTEMS)
    if cpr is None:
        raise MappingError("DocumentReference.subject names no CPR number (urn:oid:1.2.208.176.1.2)")
    return cpr


def patient_cx(cpr: str) -> str:
    return CX(cpr, CPR_OID).format()


def _coded(classified: str, scheme: str, codeable: dict[str, Any] | None, where: str) -> Classification | None:
    coding = next(iter((codeable or {}).get("coding", [])), None)
    if coding is None:
        return None
    if not coding.get("code"):
        raise MappingError(f"{where} has a coding without a code")
    system = bare_id(str(coding.get("system", "")))
    return Classification(
        id=f"urn:uuid:{uuid.uuid4()}", classification_scheme=scheme, classified_object=classified,
        node_representation=str(coding["code"]), slots=[Slot("codingScheme", [system])],
        name=[LocalizedString(str(coding.get("display") or coding["code"]))],
    )


def _source_patient_info(patient: dict[str, Any] | None, cpr: str) -> list[str]:
    """PID-3, PID-5, PID-7 and PID-8 (DK: name, birth date and gender only besides the id)."""
    values = [f"PID-3|{patient_cx(cpr)}"]
    if not patient:
        return values
    name = next(iter(patient.get("name", [])), {})
    if name:
        given = list(name.get("given", []))  # XPN: family ^ given ^ second and further given names
        xpn = f"{name.get('family', '')}^{given[0] if given else ''}^{' '.join(given[1:])}"
        values.append(f"PID-5|{xpn.rstrip('^')}")
    if patient.get("birthDate"):
        values.append(f"PID-7|{str(patient['birthDate']).replace('-', '')}")
    gender = {"male": "M", "female": "F", "other": "A", "unknown": "U"}.get(str(patient.get("gender", "")))
    if gender:
        values.append(f"PID-8|{gender}")
    return values


def _author(resource: dict[str, Any], classified: str, scheme: str) -> Classification | None:
    refs = [a.get("reference") for a in resource.get("author", [])]
    organisation = next((o for o in (_contained(resource, r, "Organization") for r in refs) if o), None)
    if organisation is None:
        return None
    sor = _identifier(organisation, _SOR_SYSTEMS)
    slots = []
    if sor:
        slots.append(Slot("authorInstitution", [XON(str(organisation.get("name", sor)), SOR_OID, sor).format()]))
    practitioner = next((p for p in (_contained(resource, r, "Practitioner") for r in refs) if p), None)
    if practitioner is not None:
        name = next(iter(practitioner.get("name", [])), {})
        person = f"^{name.get('family', '')}^{'&'.join(name.get('given', []))}".rstrip("^")
        slots.insert(0, Slot("authorPerson", [person]))
    return Classification(id=f"urn:uuid:{uuid.uuid4()}", classification_scheme=scheme,
                          classified_object=classified, node_representation="", slots=slots)


def _slots(resource: dict[str, Any], cpr: str) -> list[Slot]:
    attachment = next(iter(resource.get("content", [])), {}).get("attachment", {})
    context = resource.get("context", {})
    patient = _contained(resource, resource.get("subject", {}).get("reference"), "Patient")
    slots = []
    if attachment.get("creation"):
        slots.append(Slot("creationTime", [dtm(attachment["creation"])]))
    if attachment.get("language"):
        slots.append(Slot("languageCode", [str(attachment["language"])]))
    period = context.get("period", {})
    if period.get("start"):
        slots.append(Slot("serviceStartTime", [dtm(period["start"])]))
    if period.get("end"):
        slots.append(Slot("serviceStopTime", [dtm(period["end"])]))
    slots.append(Slot("sourcePatientId", [patient_cx(cpr)]))
    url = str(attachment.get("url", ""))
    if url.startswith(("http://", "https://")):  # where the document is fetched (on-demand: its source)
        slots.append(Slot("URI", [url]))
    slots.append(Slot("sourcePatientInfo", _source_patient_info(patient, cpr)))
    return slots


def document_entry(resource: dict[str, Any], *, on_demand: bool = False, home: str | None = None) -> ExtrinsicObject:
    """The DocumentEntry for ``resource`` (a DocumentReference as JSON), per MHD's mapping (module doc)."""
    if resource.get("resourceType") != "DocumentReference":
        raise MappingError("the description is not a DocumentReference")
    master = resource.get("masterIdentifier", {}).get("value")
    if not master:
        raise MappingError("DocumentReference.masterIdentifier (the XDS uniqueId) is required")
    entry_id, cpr = entry_uuid_of(resource), patient_cpr(resource)
    content = next(iter(resource.get("content", [])), {})
    attachment = content.get("attachment", {})
    codes = [
        (v.DE_CLASS_CODE, next(iter(resource.get("category", [])), None), "category"),
        (v.DE_CONFIDENTIALITY_CODE, next(iter(resource.get("securityLabel", [])), None), "securityLabel"),
        (v.DE_FORMAT_CODE, {"coding": [content["format"]]} if content.get("format") else None, "content.format"),
        (v.DE_HEALTHCARE_FACILITY_TYPE_CODE, resource.get("context", {}).get("facilityType"), "context.facilityType"),
        (v.DE_PRACTICE_SETTING_CODE, resource.get("context", {}).get("practiceSetting"), "context.practiceSetting"),
        (v.DE_TYPE_CODE, resource.get("type"), "type"),
        *((v.DE_EVENT_CODE_LIST, event, "context.event") for event in resource.get("context", {}).get("event", [])),
    ]
    classifications = [c for c in [_author(resource, entry_id, v.DE_AUTHOR),
                                   *(_coded(entry_id, s, value, w) for s, value, w in codes)] if c is not None]
    identifiers = [
        ExternalIdentifier(id=f"urn:uuid:{uuid.uuid4()}", identification_scheme=v.DE_PATIENT_ID,
                           registry_object=entry_id, value=patient_cx(cpr),
                           name=[LocalizedString("XDSDocumentEntry.patientId")]),
        ExternalIdentifier(id=f"urn:uuid:{uuid.uuid4()}", identification_scheme=v.DE_UNIQUE_ID,
                           registry_object=entry_id, value=unique_id_of(str(master)),
                           name=[LocalizedString("XDSDocumentEntry.uniqueId")]),
    ]  # fmt: skip
    title = attachment.get("title")
    return ExtrinsicObject(
        id=entry_id, object_type=v.DOCUMENT_ENTRY_ON_DEMAND if on_demand else v.DOCUMENT_ENTRY_STABLE,
        mime_type=str(attachment.get("contentType") or "application/octet-stream"), home=home,
        slots=_slots(resource, cpr), name=[LocalizedString(str(title))] if title else [],
        description=[LocalizedString(str(resource["description"]))] if resource.get("description") else [],
        classifications=classifications, external_identifiers=identifiers,
    )  # fmt: skip


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
