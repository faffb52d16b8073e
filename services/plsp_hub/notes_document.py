"""One journal note as a MedCom Notes 1.0.0 document Bundle (on Document 2.0.2).

One note per document. What the Notes IG and Document 2.0.2 ask, and how it is met here:

- ``Composition.identifier`` (XDS uniqueId) is a ``urn:uuid`` that is new for every version of a
  note and the same for the same version (a v5 UUID of clinic, note key and version), so every
  retrieval of one version names the same document; ``Bundle.id`` and ``Bundle.identifier`` are
  fresh v4 UUIDs on every call ("Bundle.identifier … can never be reused");
- ``Composition.date`` is the last update, ``event.period.start`` = ``Observation.effectiveDateTime``
  the creation of the note (unchanged by updates); every time carries the Europe/Copenhagen offset;
- the Observation carries the note body base64-encoded as ``text/html`` in
  ``medcom-observation-value-attachment-extension``; its performers are the organization and,
  when the author has them, the practitioner and a PractitionerRole (role code from MedCom's
  PractitionerRolesSKSadministrativ code system, or free text);
- the narratives hold every element the Document 2.0.2 obligations ("SHALL:in-narrative") name.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from services.plsp_hub.document_resources import (
    CPR_SYSTEM,
    URI_SYSTEM,
    document_bundle,
    fhir_datetime,
    name_text,
    narrative,
    organization_resource,
    patient_resource,
    practitioner_resource,
    reference,
    stable_uuid,
)
from services.plsp_hub.state import Author, Clinic, Note

NOTES = "http://medcomfhir.dk/ig/notes/StructureDefinition/"
DOC = "http://medcomfhir.dk/ig/document/StructureDefinition/"
BUNDLE_PROFILE = NOTES + "medcom-notes-bundle"
COMPOSITION_PROFILE = NOTES + "medcom-notes-composition|1.0"
OBSERVATION_PROFILE = NOTES + "medcom-notes-observation"
PATIENT_PROFILE = DOC + "medcom-document-patient"
ORGANIZATION_PROFILE = DOC + "medcom-document-organization"
PRACTITIONER_PROFILE = DOC + "medcom-document-practitioner"
PRACTITIONER_ROLE_PROFILE = DOC + "medcom-document-practitionerrole"

SNOMED = "http://snomed.info/sct"
ENCOUNTER_NOTE = {"system": SNOMED, "code": "866144008", "display": "Encounter note"}
CLASS_CODE = {"system": "http://medcomfhir.dk/ig/xdsmetadata/CodeSystem/MedCom-ihe-classcode-CS",
              "code": "001", "display": "Klinisk rapport"}
ROLE_SYSTEM = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-core-PractitionerRolesSKSadministrativ"
VALUE_ATTACHMENT_EXTENSION = "http://medcomfhir.dk/ig/core/StructureDefinition/medcom-observation-value-attachment-extension"


def notes_title(cpr: str) -> str:
    return f"Journalnotat for {cpr}"


def composition_uuid(note: Note) -> str:
    """The document's uniqueId: one per version of the note, the same at every retrieval of it."""
    return stable_uuid("note-composition", note.clinic.sor, note.key, str(note.version))


def observation_uuid(note: Note) -> str:
    """The note itself keeps its id and identifier across versions (Document 2.0.2)."""
    return stable_uuid("note-observation", note.clinic.sor, note.key)


def practitioner_role_uuid(clinic: Clinic, author: Author) -> str:
    practitioner = author.practitioner
    who = f"{practitioner.identifier_system}|{practitioner.identifier_value}" if practitioner else ""
    return stable_uuid("practitioner-role", clinic.sor, who, author.role_code or "", author.role_text or "")


def build_note_document(note: Note, *, assembled: datetime) -> dict[str, Any]:
    """The Notes document of ``note`` (its newest version), assembled at ``assembled``."""
    if note.updated < note.created:
        raise ValueError("a note cannot be updated before it was created")
    patient = patient_resource(note.patient, PATIENT_PROFILE)
    organization = organization_resource(note.clinic, ORGANIZATION_PROFILE)
    author = note.author or Author()
    practitioner = (practitioner_resource(author.practitioner, PRACTITIONER_PROFILE)
                    if author.practitioner else None)
    role = _practitioner_role(note.clinic, author, organization, practitioner)
    observation = _observation(note, patient, organization, practitioner, role)
    composition = _composition(note, patient, organization, practitioner, observation)
    resources = [composition, observation, patient, organization,
                 *([practitioner] if practitioner else []), *([role] if role else [])]
    return document_bundle(resources, profile=BUNDLE_PROFILE, assembled=assembled)


def _composition(note: Note, patient: dict[str, Any], organization: dict[str, Any],
                 practitioner: dict[str, Any] | None, observation: dict[str, Any]) -> dict[str, Any]:
    cid = composition_uuid(note)
    title = notes_title(note.patient.cpr)
    authors = [reference(organization["id"])]
    if practitioner:
        authors.append(reference(practitioner["id"]))
    period = {"start": fhir_datetime(note.created)}
    if note.ended is not None:
        period["end"] = fhir_datetime(note.ended)
    author_names = [f"{note.clinic.name} (SOR {note.clinic.sor})"]
    if note.author and note.author.practitioner:
        author_names.append(name_text(note.author.practitioner.given, note.author.practitioner.family))
    rows: list[tuple[str, str | None]] = [
        ("Id", cid),
        ("Profil", COMPOSITION_PROFILE),
        ("Sprog", "da"),
        ("Identifikator", f"urn:uuid:{cid}"),
        ("Status", "final"),
        ("Type", f"{SNOMED}#866144008 Encounter note"),
        ("Kategori", f"{CLASS_CODE['system']}#001 Klinisk rapport"),
        ("Patient", f"{CPR_SYSTEM}#{note.patient.cpr}"),
        ("Senest opdateret", fhir_datetime(note.updated)),
        ("Forfatter", "; ".join(author_names)),
        ("Titel", title),
        ("Fortrolighed", "N"),
        ("Oprettet (event.period.start)", period["start"]),
        ("Afsluttet (event.period.end)", period.get("end")),
        ("Notat", f"Observation {observation['id']}"),
    ]
    return {
        "resourceType": "Composition",
        "id": cid,
        "meta": {"profile": [COMPOSITION_PROFILE]},
        "language": "da",
        "text": narrative(rows, heading=title),
        "identifier": {"system": URI_SYSTEM, "value": f"urn:uuid:{cid}"},
        "status": "final",
        "type": {"coding": [dict(ENCOUNTER_NOTE)]},
        "category": [{"coding": [dict(CLASS_CODE)]}],
        "subject": reference(patient["id"]),
        "date": fhir_datetime(note.updated),
        "author": authors,
        "title": title,
        "confidentiality": "N",
        "event": [{"period": period}],
        "section": [{"entry": [reference(observation["id"])]}],
    }


def _observation(note: Note, patient: dict[str, Any], organization: dict[str, Any],
                 practitioner: dict[str, Any] | None, role: dict[str, Any] | None) -> dict[str, Any]:
    oid = observation_uuid(note)
    performers = [reference(organization["id"])]
    if role:
        performers.append(reference(role["id"]))
    if practitioner:
        performers.append(reference(practitioner["id"]))
    data = base64.b64encode(note.body_html.encode("utf-8")).decode("ascii")
    rows: list[tuple[str, str | None]] = [
        ("Kode", f"{SNOMED}#866144008 Encounter note"),
        ("Identifikator", f"urn:uuid:{oid}"),
        ("Status", "final"),
        ("Patient", f"{CPR_SYSTEM}#{note.patient.cpr}"),
        ("Oprettet (effective)", fhir_datetime(note.created)),
        ("Notat (valueAttachment.contentType)", "text/html"),
        ("Udført af", note.clinic.name),
    ]
    return {
        "resourceType": "Observation",
        "id": oid,
        "meta": {"profile": [OBSERVATION_PROFILE]},
        "text": narrative(rows, heading="Journalnotat"),
        "extension": [{"url": VALUE_ATTACHMENT_EXTENSION,
                       "valueAttachment": {"contentType": "text/html", "data": data}}],
        "identifier": [{"system": URI_SYSTEM, "value": f"urn:uuid:{oid}"}],
        "status": "final",
        "code": {"coding": [dict(ENCOUNTER_NOTE)]},
        "subject": reference(patient["id"]),
        "effectiveDateTime": fhir_datetime(note.created),
        "performer": performers,
    }


def _practitioner_role(clinic: Clinic, author: Author, organization: dict[str, Any],
                       practitioner: dict[str, Any] | None) -> dict[str, Any] | None:
    """The author's role, when given: a code (preferred) or a text, never both (code-xor-text)."""
    if not author.role_code and not (author.role_text and author.role_text.strip()):
        return None
    rid = practitioner_role_uuid(clinic, author)
    code: dict[str, Any] = ({"coding": [{"system": ROLE_SYSTEM, "code": author.role_code}]} if author.role_code
                            else {"text": author.role_text})
    role: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "id": rid,
        "meta": {"profile": [PRACTITIONER_ROLE_PROFILE]},
        "text": narrative([
            ("Identifikator", f"urn:uuid:{rid}"),
            ("Rolle", f"{ROLE_SYSTEM}#{author.role_code}" if author.role_code else author.role_text),
            ("Sundhedsperson", name_text(author.practitioner.given, author.practitioner.family)
             if author.practitioner else None),
            ("Organisation", organization["name"]),
        ], heading="Rolle"),
        "identifier": [{"system": URI_SYSTEM, "value": f"urn:uuid:{rid}"}],
    }
    if practitioner:
        role["practitioner"] = reference(practitioner["id"])
    role["organization"] = reference(organization["id"])
    role["code"] = [code]
    return role
