"""The On-Demand DocumentEntries the hub registers in DDS, and the ITI-65 Bundle that registers them.

PLSP is an On-Demand Document Source: it registers one entry per patient for the ConditionList
and one per shared note, and generates the document only when DDS retrieves it (ITI-68 → the
hub's retrieve URL in ``attachment.url``). So the DocumentReference describes a document that
does not exist yet: ``attachment`` has ``url``, ``contentType`` ``application/fhir+json``,
``language`` ``da``, ``title`` and ``creation`` — and never ``data``, ``hash`` or ``size`` (DK XDS:
hash and size are prohibited for on-demand entries). The transaction Bundle holds the
SubmissionSet List and the DocumentReferences, no Binary.

Metadata (domain notes §4.2–4.3): classCode ``001`` Klinisk rapport, confidentiality ``N``,
healthcareFacilityType SCT ``394761003`` almen lægepraksis, practiceSetting SCT ``408443003``
almen medicin, homeCommunityId ``1.2.208.176.8.1``, author institution (contained Organization
with SOR and name) and author person when known, contained Patient with CPR, name, gender and
birth date (sourcePatientInfo), status ``current``.

- ConditionList: typeCode LOINC ``11450-4``, formatCode ``urn:ad:dk:medcom:plr-v1.0:full`` in
  the system the MedCom xdsmetadata value set gives it (``urn:oid:1.2.208.184.100.10``); the
  approving practitioner is author person and ``authenticator`` (legalAuthenticator).
- Notes: typeCode SNOMED CT ``866144008`` "Encounter note"; MedCom has published no Notes
  formatCode, so the sandbox uses the Notes composition profile canonical ``…|1.0`` (from which
  "formatCode SHALL be mapped") under ``urn:ietf:rfc:3986``; serviceStart is the note's creation.

The shared DocumentReference shape comes from :mod:`nsp_sandbox.mhd_source`; this module only
adds to and removes from its output.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from nsp_sandbox.mhd_source import (
    CPR_SYSTEM,
    LIST_TYPES,
    SOURCE_ID_EXTENSION,
    Coding,
    DocumentMetadata,
    Organisation,
    PatientInfo,
    document_reference,
)
from nsp_sandbox.protected_names import fhir_human_name, shared_name
from services.plsp_hub.conditionlist_document import conditionlist_title
from services.plsp_hub.document_resources import YDERNUMMER_SYSTEM, danish_time, narrative
from services.plsp_hub.notes_document import COMPOSITION_PROFILE as NOTES_COMPOSITION_PROFILE
from services.plsp_hub.notes_document import composition_uuid, notes_title
from services.plsp_hub.state import Clinic, ConditionCard, Note, Patient, Practitioner

CLASS_CODE = Coding("urn:oid:1.2.208.184.100.9", "001", "Klinisk rapport")
FACILITY_TYPE = Coding("http://snomed.info/sct", "394761003", "almen lægepraksis")
PRACTICE_SETTING = Coding("http://snomed.info/sct", "408443003", "almen medicin")
CONDITIONLIST_TYPE = Coding("http://loinc.org", "11450-4", "Problem list - Reported")
CONDITIONLIST_FORMAT = Coding("urn:oid:1.2.208.184.100.10", "urn:ad:dk:medcom:plr-v1.0:full", "DK PLR schema")
NOTES_TYPE = Coding("http://snomed.info/sct", "866144008", "Encounter note")
NOTES_FORMAT = Coding("urn:ietf:rfc:3986", NOTES_COMPOSITION_PROFILE)
HOME_COMMUNITY_ID = "1.2.208.176.8.1"  # the common Danish IHE XDS affinity domain
HOME_COMMUNITY_ID_EXTENSION = (
    "http://medcomfhir.dk/ig/document/StructureDefinition/medcom-document-homecommunityid-extension")
HOME_COMMUNITY_ID_SYSTEM = "urn:oid:1.2.208.176.8.1"  # as MedCom-ihe-core-homeCommunityId-VS writes it
# Never on an On-Demand entry: there is no stored document to hash, measure or embed.
FORBIDDEN_ATTACHMENT_ELEMENTS = ("hash", "size", "data")


def note_unique_id(note: Note) -> str:
    """The XDS uniqueId that matches the note's current version (its Composition.identifier)."""
    return f"urn:uuid:{composition_uuid(note)}"


def conditionlist_entry(card: ConditionCard, *, url: str, entry_uuid: str, unique_id: str,
                        created: datetime, home_community_id: str | None = HOME_COMMUNITY_ID) -> dict[str, Any]:
    """The On-Demand DocumentReference of ``card``'s ConditionList, retrieved from ``url``."""
    meta = DocumentMetadata(
        patient=_patient_info(card.patient),
        author=Organisation(sor=card.clinic.sor, name=card.clinic.name),
        unique_id=unique_id,
        title=conditionlist_title(card.patient.cpr),
        type=CONDITIONLIST_TYPE,
        category=CLASS_CODE,
        format=CONDITIONLIST_FORMAT,
        facility_type=FACILITY_TYPE,
        practice_setting=PRACTICE_SETTING,
        creation=danish_time(created),
        entry_uuid=_bare_uuid(entry_uuid),
    )
    approver = card.approval.by if card.approval else None
    return _on_demand(document_reference(meta, _absolute(url)), card.clinic, approver,
                      authenticator=approver is not None, home_community_id=home_community_id)


def note_entry(note: Note, *, url: str, entry_uuid: str, unique_id: str,
               home_community_id: str | None = HOME_COMMUNITY_ID) -> dict[str, Any]:
    """The On-Demand DocumentReference of ``note`` (its newest version), retrieved from ``url``.

    creationTime is the note's last update; serviceStart/Stop its creation (and end, when known).
    """
    meta = DocumentMetadata(
        patient=_patient_info(note.patient),
        author=Organisation(sor=note.clinic.sor, name=note.clinic.name),
        unique_id=unique_id,
        title=notes_title(note.patient.cpr),
        type=NOTES_TYPE,
        category=CLASS_CODE,
        format=NOTES_FORMAT,
        facility_type=FACILITY_TYPE,
        practice_setting=PRACTICE_SETTING,
        creation=danish_time(note.updated),
        service_start=danish_time(note.created),
        service_stop=danish_time(note.ended) if note.ended else None,
        entry_uuid=_bare_uuid(entry_uuid),
    )
    practitioner = note.author.practitioner if note.author else None
    return _on_demand(document_reference(meta, _absolute(url)), note.clinic, practitioner,
                      authenticator=False, home_community_id=home_community_id)


def registration_bundle(entries: list[dict[str, Any]], *, source_id: str, submitted: datetime,
                        patient_cpr: str) -> dict[str, Any]:
    """The ITI-65 transaction Bundle registering ``entries`` (On-Demand DocumentReferences, no Binary)."""
    if not entries:
        raise ValueError("a registration holds at least one entry")
    for i, dr in enumerate(entries):
        cprs = {ident.get("value") for c in dr.get("contained", []) if c.get("resourceType") == "Patient"
                for ident in c.get("identifier", []) if ident.get("system") == CPR_SYSTEM}
        if cprs != {patient_cpr}:
            raise ValueError(f"entries[{i}] is not about patient {patient_cpr}")
        attachment = dr["content"][0]["attachment"]
        present = [name for name in FORBIDDEN_ATTACHMENT_ELEMENTS if name in attachment]
        if present:
            raise ValueError(f"entries[{i}] is not an On-Demand entry: attachment has {', '.join(present)}")
        _absolute(attachment.get("url") or "")
    members, references = [], []
    for dr in entries:
        full_url = f"urn:uuid:{uuid.uuid4()}"
        references.append({"fullUrl": full_url, "request": {"method": "POST", "url": "DocumentReference"},
                           "resource": dr})
        members.append({"item": {"reference": full_url}})
    submission_set = {
        "resourceType": "List",
        "extension": [{"url": SOURCE_ID_EXTENSION, "valueIdentifier": {"value": source_id}}],
        "identifier": [{"use": "usual", "system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid4()}"},
                       {"use": "official", "system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid4()}"}],
        "status": "current",
        "mode": "working",
        "code": {"coding": [{"system": LIST_TYPES, "code": "submissionset"}]},
        "subject": {"identifier": {"system": CPR_SYSTEM, "value": patient_cpr}},
        "date": danish_time(submitted).isoformat(timespec="seconds"),
        "entry": members,
    }
    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": f"urn:uuid:{uuid.uuid4()}", "request": {"method": "POST", "url": "List"},
         "resource": submission_set},
        *references]}


# ---- parts --------------------------------------------------------------------------------------

def _coding_text(concept: dict[str, Any]) -> str:
    return ", ".join(f"{c.get('system', '')}#{c['code']} {c.get('display', '')}".strip()
                     for c in concept.get("coding", []))


def _narrative(dr: dict[str, Any], clinic: Clinic, person: Practitioner | None,
               authenticator: bool) -> dict[str, str]:
    """The entry's metadata in its narrative (the elements Document 2.0.2 puts "in-narrative")."""
    content = dr["content"][0]
    attachment, context = content["attachment"], dr["context"]
    person_text = f"{' '.join([*person.given, person.family])} ({person.identifier_value})" if person else None
    patient_cpr = context["sourcePatientInfo"]["identifier"]["value"]
    rows: list[tuple[str, str | None]] = [
        ("Id", dr["id"]),
        ("entryUUID", dr["identifier"][0]["value"]),
        ("uniqueId", dr["masterIdentifier"]["value"]),
        ("Status", dr["status"]),
        ("Type", _coding_text(dr["type"])),
        ("Klasse", _coding_text(dr["category"][0])),
        ("Patient", f"{CPR_SYSTEM}#{patient_cpr}"),
        ("Forfatter (institution)", f"{clinic.name} (SOR {clinic.sor})"),
        ("Forfatter (person)", person_text),
        ("Juridisk ansvarlig", person_text if authenticator else None),
        ("Fortrolighed", _coding_text(dr["securityLabel"][0])),
        ("Titel", attachment["title"]),
        ("MIME-type", attachment["contentType"]),
        ("Sprog", attachment["language"]),
        ("Oprettet", attachment["creation"]),
        ("Hentes fra (On-Demand)", attachment["url"]),
        ("Format", f"{content['format']['system']}#{content['format']['code']}"),
        ("Institutionstype", _coding_text(context["facilityType"])),
        ("Praksisområde", _coding_text(context["practiceSetting"])),
        ("Periode start", context.get("period", {}).get("start")),
        ("Periode slut", context.get("period", {}).get("end")),
        ("homeCommunityId", dr["extension"][0]["valueCoding"]["code"] if dr.get("extension") else None),
    ]
    return narrative(rows, heading="On-Demand dokument")


def _patient_info(patient: Patient) -> PatientInfo:
    given, family = shared_name(patient.given, patient.family)
    return PatientInfo(cpr=patient.cpr, family=family, given=given,
                       gender=patient.gender, birth_date=patient.birth_date.isoformat())


def _bare_uuid(entry_uuid: str) -> str:
    value = entry_uuid.removeprefix("urn:uuid:")
    return str(uuid.UUID(value))  # refuses anything that is not a UUID


def _absolute(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"an On-Demand entry needs the absolute retrieve URL, not {url!r}")
    return url


def _on_demand(dr: dict[str, Any], clinic: Clinic, person: Practitioner | None, *, authenticator: bool,
               home_community_id: str | None) -> dict[str, Any]:
    """``mhd_source``'s DocumentReference made an On-Demand entry of the hub's."""
    for content in dr["content"]:
        for name in FORBIDDEN_ATTACHMENT_ELEMENTS:
            content["attachment"].pop(name, None)
    for contained in dr["contained"]:
        if contained["resourceType"] == "Organization" and clinic.ydernummer:
            contained["identifier"].append({"system": YDERNUMMER_SYSTEM, "value": clinic.ydernummer})
    if person is not None:
        dr["contained"].append({
            "resourceType": "Practitioner", "id": "person",
            "identifier": [{"system": person.identifier_system, "value": person.identifier_value}],
            "name": [fhir_human_name(person.given, person.family)],
        })
        dr["author"].append({"reference": "#person"})
        if authenticator:
            dr["authenticator"] = {"reference": "#person"}
    if home_community_id:
        dr["extension"] = [{"url": HOME_COMMUNITY_ID_EXTENSION,
                            "valueCoding": {"system": HOME_COMMUNITY_ID_SYSTEM, "code": home_community_id}}]
    dr["text"] = _narrative(dr, clinic, person, authenticator)
    ordered = {k: dr[k] for k in ("resourceType", "id", "text", "contained", "extension") if k in dr}
    ordered.update({k: v for k, v in dr.items() if k not in ordered})
    return ordered
