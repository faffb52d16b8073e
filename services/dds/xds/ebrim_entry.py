"""ebRIM submission metadata → the ITI-65 transaction the MHD face would have received.

The XDS.b door of DDS stores nothing of its own: an ITI-41 ``ProvideAndRegisterDocumentSetRequest``
or an ITI-61 ``RegisterOnDemandDocumentEntryRequest`` is converted here to the FHIR
DocumentReference(s) and SubmissionSet ``List`` of an ITI-65 transaction Bundle, following the IHE
MHD mapping (``documentReference.fsh``, dds-nsp.md §4.3), and that Bundle then runs the ITI-65
pipeline unchanged: profile validation, the Danish metadata rules, ``map_entry``, the lifecycle
rules and ``Registry.register`` (one store, two doors).

DocumentEntry (``rim:ExtrinsicObject``) → DocumentReference:

==========================================  =====================================================
uniqueId (ExternalIdentifier)               ``masterIdentifier.value`` (kept as sent)
entryUUID (``@id``)                         ``identifier`` (official, ``urn:ietf:rfc:3986``); a
                                            symbolic id gets a new ``urn:uuid:`` (ITI TF-3
                                            4.2.3.1.3: the registry assigns UUIDs)
patientId (CX)                              ``subject.identifier`` (``urn:oid:`` + CX.4)
typeCode / classCode / confidentialityCode  ``type`` / ``category`` / ``securityLabel``
author (XCN, XON)                           contained Practitioner / Organization, ``author``
legalAuthenticator (XCN)                    contained Practitioner, ``authenticator``
Description                                 ``description``
mimeType / languageCode / creationTime      ``content[0].attachment.contentType / language /
/ Name / size / hash                        creation / title / size / hash`` (XDS hex → FHIR base64)
formatCode                                  ``content[0].format``
eventCodeList / serviceStart/StopTime       ``context.event`` / ``context.period``
healthcareFacilityTypeCode /                ``context.facilityType`` / ``context.practiceSetting``
practiceSettingCode
sourcePatientId + sourcePatientInfo         ``context.sourcePatientInfo`` → contained Patient
                                            (only when sourcePatientInfo is sent)
homeCommunityId (``@home``)                 MedCom homeCommunityId extension
RPLC / APND / XFRM / XFRM_RPLC / signs      ``relatesTo`` replaces / appends / transforms /
Association (source = this entry)           replaces / signs; target by entryUUID or uniqueId
                                            (``target.identifier``), or by the registry's id
                                            (``target.reference``)
the ``xdsb:Document`` (ITI-41)              ``attachment.data``
the source's retrieve URL (ITI-61)          ``attachment.url`` (absolute http(s), no hash/size:
                                            ``services.dds.on_demand`` generates it from there)
==========================================  =====================================================

SubmissionSet (``rim:RegistryPackage``) → ``List`` (code ``submissionset``): uniqueId ``usual`` and
entryUUID ``official`` identifiers, patientId ``subject``, submissionTime ``date``, sourceId
``ihe-sourceId``, contentTypeCode ``ihe-designationType``, Name ``title``.

Every FHIR element carries its ebRIM origin in :class:`Conversion`, so a finding of the ITI-65
pipeline (a FHIRPath under ``Bundle.entry[n].resource``) is reported at the ebRIM object (its id)
and the slot, classification or external identifier it came from (:meth:`Conversion.location`).
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from nsp_sandbox.digits import whole_number
from nsp_sandbox.outcome import Issue
from nsp_sandbox.xds import vocabulary as v
from nsp_sandbox.xds.ebrim import Code, SubmitObjectsRequest, authors, codes, identifier, patient_id
from nsp_sandbox.xds.errors import XdsWireError
from nsp_sandbox.xds.hl7v2 import XCN, XON, parse_dtm
from nsp_sandbox.xds.rim import Association, ExtrinsicObject, RegistryObject, RegistryPackage
from services.dds.xds.folders import folder_issues

RFC3986 = "urn:ietf:rfc:3986"
LIST_TYPES = "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes"
SOURCE_ID_EXTENSION = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-sourceId"
DESIGNATION_EXTENSION = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-designationType"
HOME_COMMUNITY_ID_EXTENSION = (
    "http://medcomfhir.dk/ig/document/StructureDefinition/medcom-document-homecommunityid-extension")
SOURCE = "IHE ITI TF-3 4.2.3 / IHE MHD documentReference.fsh (ebRIM ↔ FHIR)"
#: Association type → ``relatesTo.code`` (MHD ConceptMap AssociationTypeVsRelatesTo).
RELATES_TO = {v.ASSOC_RPLC: "replaces", v.ASSOC_APND: "appends", v.ASSOC_XFRM: "transforms",
              v.ASSOC_XFRM_RPLC: "replaces", v.ASSOC_SIGNS: "signs"}
_UUID_URN = re.compile(r"^urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_BARE_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_OID = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+\Z")
_ENTRY = re.compile(r"^Bundle\.entry\[(\d+)\](?:\.resource)?\.?(.*)$")

#: The ebRIM element each FHIR element of a DocumentReference comes from (longest prefix wins).
ENTRY_ELEMENTS: dict[str, str] = {
    "masterIdentifier": "ExternalIdentifier XDSDocumentEntry.uniqueId",
    "identifier": "@id (entryUUID)",
    "status": "@status",
    "type": "Classification typeCode",
    "category": "Classification classCode",
    "securityLabel": "Classification confidentialityCode",
    "subject": "ExternalIdentifier XDSDocumentEntry.patientId",
    "author": "Classification author",
    "contained": "Classification author",
    "authenticator": "Slot legalAuthenticator",
    "description": "Description (comments)",
    "content": "@mimeType / formatCode",
    "content[0].attachment": "xdsb:Document",
    "content[0].attachment.contentType": "@mimeType",
    "content[0].attachment.language": "Slot languageCode",
    "content[0].attachment.creation": "Slot creationTime",
    "content[0].attachment.title": "Name (title)",
    "content[0].attachment.size": "Slot size",
    "content[0].attachment.hash": "Slot hash",
    "content[0].attachment.data": "xdsb:Document",
    "content[0].attachment.url": "Slot documentAvailability / source URL",
    "content[0].format": "Classification formatCode",
    "context.event": "Classification eventCodeList",
    "context.period": "Slot serviceStartTime / serviceStopTime",
    "context.period.start": "Slot serviceStartTime",
    "context.period.end": "Slot serviceStopTime",
    "context.facilityType": "Classification healthcareFacilityTypeCode",
    "context.practiceSetting": "Classification practiceSettingCode",
    "context.sourcePatientInfo": "Slot sourcePatientId / sourcePatientInfo",
    "extension": "@home (homeCommunityId)",
    "relatesTo": "Association",
}
#: The same for the SubmissionSet List.
SET_ELEMENTS: dict[str, str] = {
    "identifier": "ExternalIdentifier XDSSubmissionSet.uniqueId",
    "subject": "ExternalIdentifier XDSSubmissionSet.patientId",
    "date": "Slot submissionTime",
    "extension": "ExternalIdentifier XDSSubmissionSet.sourceId",
    "title": "Name (title)",
    "entry": "Association HasMember",
    "status": "@status",
    "code": "Classification SubmissionSet",
}


@dataclass
class Conversion:
    """The ITI-65 Bundle converted from an ebRIM submission, and where each of its entries came from."""

    bundle: dict[str, Any]
    origins: dict[int, tuple[str, str, dict[str, str]]] = field(default_factory=dict)  # index -> kind, id, elements
    issues: list[Issue] = field(default_factory=list)  # findings of the conversion itself (ebRIM locations)
    entry_ids: dict[str, str] = field(default_factory=dict)  # ebRIM id -> entryUUID given to it

    def location(self, expression: str | None) -> str:
        """The ebRIM location of a FHIRPath into :attr:`bundle` (the object's id and its element)."""
        match = _ENTRY.match(expression or "")
        if match is None or int(match.group(1)) not in self.origins:
            return expression or "SubmitObjectsRequest"
        kind, object_id, elements = self.origins[int(match.group(1))]
        rest = match.group(2)
        key = next((k for k in sorted(elements, key=len, reverse=True)
                    if rest == k or rest.startswith((f"{k}.", f"{k}["))), None)
        element = elements[key] if key else None
        where = f"{kind}[@id='{object_id}']"
        if element is None:
            return where if not rest else f"{where} ({rest})"
        return f"{where} {element}" + (f" ({rest})" if rest and rest != key else "")


def _system(scheme: str | None) -> str | None:
    """A coding scheme as FHIR system: an OID becomes ``urn:oid:``; a URI stays as it is."""
    if not scheme:
        return None
    return f"urn:oid:{scheme}" if _OID.match(scheme) else scheme


def _coding(code: Code) -> dict[str, Any]:
    out: dict[str, Any] = {"code": code.code}
    system = _system(code.scheme)
    if system:
        out = {"system": system, **out}
    if code.display:
        out["display"] = code.display
    return out


def _concept(code: Code) -> dict[str, Any]:
    return {"coding": [_coding(code)]}


def _instant(text: str | None, where: str) -> str | None:
    """An XDS DTM as FHIR dateTime (UTC); None when absent. Raises ``XdsWireError`` when unreadable."""
    if not text:
        return None
    moment = parse_dtm(text, where)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _new_uuid_for(object_id: str) -> str:
    """The entryUUID of an object: its id when that is a ``urn:uuid:``, else a new one."""
    return object_id.lower() if _UUID_URN.match(object_id) else f"urn:uuid:{uuid.uuid4()}"


def _practitioner(person: XCN, local_id: str) -> dict[str, Any]:
    practitioner: dict[str, Any] = {"resourceType": "Practitioner", "id": local_id}
    if person.id:
        ident: dict[str, Any] = {"value": person.id}
        if person.authority_oid:
            ident["system"] = f"urn:oid:{person.authority_oid}"
        practitioner["identifier"] = [ident]
    name: dict[str, Any] = {}
    if person.family:
        name["family"] = person.family
    given = [g for g in (person.given, person.further_given) if g]
    if given:
        name["given"] = given
    if name:
        practitioner["name"] = [name]
    return practitioner


def _organization(institution: XON, local_id: str) -> dict[str, Any]:
    organization: dict[str, Any] = {"resourceType": "Organization", "id": local_id, "name": institution.name}
    if institution.id:
        ident: dict[str, Any] = {"value": institution.id}
        if institution.authority_oid:
            ident["system"] = f"urn:oid:{institution.authority_oid}"
        organization["identifier"] = [ident]
    return organization


def _authors(entry: ExtrinsicObject, dr: dict[str, Any]) -> None:
    """Each author as contained Organization(s) and Practitioner, referenced from ``author``."""
    contained: list[dict[str, Any]] = dr.setdefault("contained", [])
    references: list[dict[str, Any]] = []
    for n, author in enumerate(authors(entry)):
        for m, institution in enumerate(author.institutions):
            contained.append(_organization(institution, f"author{n}-org{m}"))
            references.append({"reference": f"#author{n}-org{m}"})
        if author.person is not None:
            contained.append(_practitioner(author.person, f"author{n}-person"))
            references.append({"reference": f"#author{n}-person"})
    if references:
        dr["author"] = references
    legal = entry.slot_value("legalAuthenticator")
    if legal:
        contained.append(_practitioner(XCN.parse(legal, f"{entry.path}/Slot[@name='legalAuthenticator']"),
                                       "legal-authenticator"))
        dr["authenticator"] = {"reference": "#legal-authenticator"}


def _pid(values: list[str], field_no: str) -> str | None:
    prefix = f"PID-{field_no}|"
    return next((value[len(prefix):] for value in values if value.startswith(prefix)), None)


def _source_patient(entry: ExtrinsicObject, dr: dict[str, Any]) -> None:
    """``context.sourcePatientInfo``: a contained Patient, when the entry sends sourcePatientInfo."""
    info = entry.slot_values("sourcePatientInfo")
    if not info:
        return
    patient: dict[str, Any] = {"resourceType": "Patient", "id": "source-patient"}
    source_id = entry.slot_value("sourcePatientId")
    if source_id:
        cx_id, _, rest = source_id.partition("^^^")
        authority = rest.strip("&").split("&")[0] if rest else ""
        patient["identifier"] = [{"system": f"urn:oid:{authority}", "value": cx_id} if authority
                                 else {"value": cx_id}]
    name = _pid(info, "5")
    if name:
        family, _, given = name.partition("^")
        patient["name"] = [{k: val for k, val in (("family", family), ("given", [g for g in given.split("^")[:1] if g]))
                            if val}]
    birth = _pid(info, "7")
    if birth and len(birth) >= 8:
        patient["birthDate"] = f"{birth[:4]}-{birth[4:6]}-{birth[6:8]}"
    gender = {"F": "female", "M": "male", "O": "other", "U": "unknown"}.get(_pid(info, "8") or "")
    if gender:
        patient["gender"] = gender
    dr.setdefault("contained", []).append(patient)
    dr.setdefault("context", {})["sourcePatientInfo"] = {"reference": "#source-patient"}


def _attachment(entry: ExtrinsicObject, content: bytes | None, source_url: str | None) -> dict[str, Any]:
    attachment: dict[str, Any] = {}
    if entry.mime_type:
        attachment["contentType"] = entry.mime_type
    language = entry.slot_value("languageCode")
    if language:
        attachment["language"] = language
    creation = _instant(entry.slot_value("creationTime"), f"{entry.path}/Slot[@name='creationTime']")
    if creation:
        attachment["creation"] = creation
    if entry.name:
        attachment["title"] = entry.name[0].value
    size = entry.slot_value("size")
    if size is not None:
        number = whole_number(size)  # else kept as written: the DocumentReference's check names it
        attachment["size"] = size if number is None else number
    declared_hash = entry.slot_value("hash")
    if declared_hash is not None:
        try:
            attachment["hash"] = base64.b64encode(bytes.fromhex(declared_hash)).decode("ascii")
        except ValueError:
            attachment["hash"] = declared_hash  # not hex: the pipeline names it as not the document's SHA-1
    if content is not None:
        attachment["data"] = base64.b64encode(content).decode("ascii")
    elif source_url is not None:
        attachment["url"] = source_url
    return attachment


def _context(entry: ExtrinsicObject, dr: dict[str, Any]) -> None:
    context: dict[str, Any] = dr.setdefault("context", {})
    events = codes(entry, v.DE_EVENT_CODE_LIST)
    if events:
        context["event"] = [_concept(c) for c in events]
    period = {}
    for slot, key in (("serviceStartTime", "start"), ("serviceStopTime", "end")):
        moment = _instant(entry.slot_value(slot), f"{entry.path}/Slot[@name='{slot}']")
        if moment:
            period[key] = moment
    if period:
        context["period"] = period
    for scheme, key in ((v.DE_HEALTHCARE_FACILITY_TYPE_CODE, "facilityType"),
                        (v.DE_PRACTICE_SETTING_CODE, "practiceSetting")):
        found = codes(entry, scheme)
        if found:
            context[key] = _concept(found[0])
    _source_patient(entry, dr)
    if not context:
        del dr["context"]


def _relationships(request: SubmitObjectsRequest, entry: ExtrinsicObject) -> list[Association]:
    """The document-relationship associations (RPLC, APND, XFRM, XFRM_RPLC, signs) from ``entry``."""
    return [a for a in request.associations if a.association_type in RELATES_TO and a.source_object == entry.id]


def _relates_to(request: SubmitObjectsRequest, entry: ExtrinsicObject) -> list[dict[str, Any]]:
    """The entry's document relationships: target by entryUUID/uniqueId, or by the registry's id."""
    out: list[dict[str, Any]] = []
    for association in _relationships(request, entry):
        code = RELATES_TO[association.association_type]
        target = association.target_object
        reference = ({"reference": f"DocumentReference/{target.lower()}"} if _BARE_UUID.match(target)
                     else {"identifier": {"value": target}})
        out.append({"code": code, "target": reference})
    return out


def document_reference(request: SubmitObjectsRequest, entry: ExtrinsicObject, entry_uuid: str,
                       content: bytes | None, source_url: str | None) -> dict[str, Any]:
    """The DocumentReference of one DocumentEntry (``content``: its document; ``source_url``: an
    on-demand entry's). Raises ``XdsWireError`` for a value that cannot be read (a bad CX, DTM…)."""
    patient = patient_id(entry)
    dr: dict[str, Any] = {"resourceType": "DocumentReference"}
    if entry.home:
        dr["extension"] = [{"url": HOME_COMMUNITY_ID_EXTENSION, "valueCoding": {"code": entry.home.removeprefix(
            "urn:oid:"), "system": "urn:ietf:rfc:3986"}}]
    dr["masterIdentifier"] = {"value": identifier(entry, v.DE_UNIQUE_ID)}
    dr["identifier"] = [{"use": "official", "system": RFC3986, "value": entry_uuid}]
    dr["status"] = "current"
    for scheme, key, many in ((v.DE_TYPE_CODE, "type", False), (v.DE_CLASS_CODE, "category", True),
                              (v.DE_CONFIDENTIALITY_CODE, "securityLabel", True)):
        found = codes(entry, scheme)
        if found:
            dr[key] = [_concept(c) for c in found] if many else _concept(found[0])
    dr["subject"] = {"identifier": {"system": f"urn:oid:{patient.authority_oid}", "value": patient.id}}
    _authors(entry, dr)
    if entry.description:
        dr["description"] = entry.description[0].value
    content_item: dict[str, Any] = {"attachment": _attachment(entry, content, source_url)}
    formats = codes(entry, v.DE_FORMAT_CODE)
    if formats:
        content_item["format"] = _coding(formats[0])
    dr["content"] = [content_item]
    _context(entry, dr)
    relates = _relates_to(request, entry)
    if relates:
        dr["relatesTo"] = relates
    return dr


def submission_set_list(package: RegistryPackage, set_uuid: str, member_urls: list[str]) -> dict[str, Any]:
    """The SubmissionSet ``List`` of a RegistryPackage; ``member_urls``: its entries' fullUrls."""
    patient = patient_id(package)
    resource: dict[str, Any] = {"resourceType": "List", "extension": []}
    source_id = package.external_id(v.SS_SOURCE_ID)
    if source_id is not None:
        resource["extension"].append({"url": SOURCE_ID_EXTENSION, "valueIdentifier": {"value": source_id.value}})
    designation = codes(package, v.SS_CONTENT_TYPE_CODE)
    if designation:
        resource["extension"].append({"url": DESIGNATION_EXTENSION, "valueCodeableConcept": _concept(designation[0])})
    if not resource["extension"]:
        del resource["extension"]
    resource["identifier"] = [{"use": "usual", "system": RFC3986, "value": identifier(package, v.SS_UNIQUE_ID)},
                              {"use": "official", "system": RFC3986, "value": set_uuid}]
    resource.update({"status": "current", "mode": "working",
                     "code": {"coding": [{"system": LIST_TYPES, "code": "submissionset"}]},
                     "subject": {"identifier": {"system": f"urn:oid:{patient.authority_oid}", "value": patient.id}}})
    if package.name:
        resource["title"] = package.name[0].value
    date = _instant(package.slot_value("submissionTime"), f"{package.path}/Slot[@name='submissionTime']")
    if date:
        resource["date"] = date
    resource["entry"] = [{"item": {"reference": url}} for url in member_urls]
    return resource


def _issue(message: str, location: str, rule: str, ihe_code: str) -> Issue:
    return Issue("error", "invalid", message, expression=location, source=SOURCE, rule=rule, ihe_code=ihe_code)


def _object_kind(obj: RegistryObject) -> str:
    return "ExtrinsicObject" if isinstance(obj, ExtrinsicObject) else "RegistryPackage"


def to_transaction(request: SubmitObjectsRequest, documents: Mapping[str, bytes], *,
                   source_urls: Mapping[str, str] | None = None, on_demand: bool = False) -> Conversion:
    """The ITI-65 transaction Bundle of an ebRIM submission.

    ``documents``: each DocumentEntry's bytes by its id (ITI-41's ``xdsb:Document``); ``on_demand``
    (ITI-61): the entries are On-Demand ones, generated at ``source_urls[id]``. Findings of the
    conversion itself (a Document no entry describes, an entry of the wrong objectType, a Folder) are in
    :attr:`Conversion.issues`. Raises ``XdsWireError`` for metadata that cannot be read at all.
    """
    sset = request.submission_set
    entries = request.document_entries
    conversion = Conversion({"resourceType": "Bundle", "type": "transaction", "entry": []})
    if not entries:
        raise XdsWireError("the submission holds no DocumentEntry (ExtrinsicObject)", request.path,
                           xds_code=v.XDS_REGISTRY_METADATA_ERROR)
    wanted = v.DOCUMENT_ENTRY_ON_DEMAND if on_demand else v.DOCUMENT_ENTRY_STABLE
    member_urls: list[str] = []
    drs: list[tuple[str, dict[str, Any], ExtrinsicObject]] = []
    for entry in entries:
        if (entry.object_type or v.DOCUMENT_ENTRY_STABLE) != wanted:
            conversion.issues.append(_issue(
                f"DocumentEntry {entry.id} has objectType {entry.object_type}; this transaction takes "
                f"{'On-Demand' if on_demand else 'Stable'} entries ({wanted})",
                f"ExtrinsicObject[@id='{entry.id}'] @objectType", "xds-object-type", v.XDS_REGISTRY_METADATA_ERROR))
            continue
        entry_uuid = _new_uuid_for(entry.id)
        conversion.entry_ids[entry.id] = entry_uuid
        full_url = f"urn:uuid:{uuid.uuid4()}"
        source_url = (source_urls or {}).get(entry.id) if on_demand else None
        drs.append((full_url, document_reference(request, entry, entry_uuid, documents.get(entry.id), source_url),
                    entry))
        member_urls.append(full_url)
    conversion.issues += folder_issues(request)
    for document_id in documents:
        if document_id not in {e.id for e in entries}:
            conversion.issues.append(_issue(
                f"Document {document_id} is described by no DocumentEntry of the submission",
                f"Document[@id='{document_id}']", "xds-document-has-entry", v.XDS_MISSING_DOCUMENT_METADATA))
    set_uuid = _new_uuid_for(sset.id)
    conversion.entry_ids[sset.id] = set_uuid
    bundle_entries = conversion.bundle["entry"]
    bundle_entries.append({"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": submission_set_list(
        sset, set_uuid, member_urls), "request": {"method": "POST", "url": "List"}})
    conversion.origins[0] = ("RegistryPackage", sset.id, SET_ELEMENTS)
    for full_url, dr, entry in drs:
        elements = dict(ENTRY_ELEMENTS)
        for index, association in enumerate(_relationships(request, entry)):
            elements[f"relatesTo[{index}]"] = f"Association[@id='{association.id}'] ({association.association_type})"
        conversion.origins[len(bundle_entries)] = (_object_kind(entry), entry.id, elements)
        bundle_entries.append({"fullUrl": full_url, "resource": dr,
                               "request": {"method": "POST", "url": "DocumentReference"}})
    return conversion
