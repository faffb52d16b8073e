"""Journalnotater: MedCom Notes documents (one note each) read for display.

One card per document, newest first by creation time (``Observation.effectiveDateTime``, else
``Composition.event.period.start``); "senest opdateret" when ``Composition.date`` differs from it;
the author organisation's and practitioner's names and the role exactly as the document gives them
(no SOR look-up; ``ADRESSEBESKYTTET`` verbatim); the note body through ``note_body``. A note with a
blank body, an update time before its creation time or literal ``\\t`` escapes in its markup is
invalid (the Notes consumer test examples ``tec-invalid*``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from services.sundhed_view import formatting, note_body
from services.sundhed_view.conditions import patient_name

ATTACHMENT_EXTENSION = "http://medcomfhir.dk/ig/core/StructureDefinition/medcom-observation-value-attachment-extension"
ROLE_LABELS = {"speciallaegeipraksis": "Speciallæge i almen praksis", "sygeplejerske": "Sygeplejerske",
               "laegesekretaer": "Lægesekretær", "laege": "Læge"}


@dataclass
class Note:
    created: str | None
    updated: str | None  # only when it differs from the creation time
    organisation: str
    author: str | None
    role: str | None
    patient: str
    body: Markup
    entry_id: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"entry": self.entry_id, "created": self.created, "updated": self.updated,
                "organisation": self.organisation, "author": self.author, "role": self.role,
                "patient": self.patient, "body_html": str(self.body)}


def _refs(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for entry in bundle.get("entry", []):
        resource = entry.get("resource") or {}
        out[f"{resource.get('resourceType')}/{resource.get('id')}"] = resource
        if entry.get("fullUrl"):
            out[entry["fullUrl"]] = resource
    return out


def _parts(bundle: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, dict[str, Any]]]:
    refs = _refs(bundle)
    composition = (bundle.get("entry") or [{}])[0].get("resource") or {}
    observation = next((refs[e["reference"]] for s in composition.get("section", []) for e in s.get("entry", [])
                        if e.get("reference") in refs), {})
    return composition, observation, refs


def _text(observation: dict[str, Any]) -> str:
    attachment = next((x.get("valueAttachment") or {} for x in observation.get("extension", [])
                       if x.get("url") == ATTACHMENT_EXTENSION), {})
    return note_body.decode(attachment.get("data"))


def _created(composition: dict[str, Any], observation: dict[str, Any]) -> str | None:
    return observation.get("effectiveDateTime") or (composition.get("event") or [{}])[0].get("period", {}).get("start")


def read(bundle: dict[str, Any]) -> Note:
    composition, observation, refs = _parts(bundle)
    organisation = practitioner = role = None
    for reference in [*composition.get("author", []), *observation.get("performer", [])]:
        found = refs.get(str(reference.get("reference", "")), {})
        kind = found.get("resourceType")
        if kind == "Organization" and organisation is None:
            organisation = found
        elif kind == "Practitioner" and practitioner is None:
            practitioner = found
        elif kind == "PractitionerRole" and role is None:
            role = found
            practitioner = practitioner or refs.get(str(found.get("practitioner", {}).get("reference", "")))
    role_text = None
    if role:
        code = (role.get("code") or [{}])[0]
        coded = next((c.get("code") for c in code.get("coding", []) if c.get("code")), None)
        role_text = code.get("text") or ROLE_LABELS.get(str(coded), coded)
    created = _created(composition, observation)
    updated = composition.get("date")
    if formatting.sort_key(updated) == formatting.sort_key(created):
        updated = None
    author = patient_name(practitioner) if practitioner else None
    patient = refs.get(str(composition.get("subject", {}).get("reference", "")), {})
    return Note(created, updated, str((organisation or {}).get("name") or ""), author if author != "-" else None,
                role_text, patient_name(patient), note_body.render(_text(observation)))


def check(bundle: dict[str, Any]) -> list[str]:
    """The Notes business rules a viewer must not show past (Notes consumer examples §3.9)."""
    composition, observation, _ = _parts(bundle)
    reasons = []
    text = _text(observation)
    if note_body.is_blank(text):
        reasons.append("Observation.extension:valueAttachment: notatet er tomt")
    if "\\t" in text:
        reasons.append("Observation.extension:valueAttachment: notatet indeholder '\\t' i stedet for formatering")
    created, updated = _created(composition, observation), composition.get("date")
    if created and updated and formatting.sort_key(updated) < formatting.sort_key(created):
        reasons.append("Composition.date: opdateringstidspunktet ligger før notatets oprettelse")
    return reasons


def sort_notes(notes: list[Note]) -> list[Note]:
    return sorted(notes, key=lambda n: formatting.sort_key(n.created), reverse=True)
