"""Reading references inside MHD resources: contained resources, the patient, other entries."""

from __future__ import annotations

import re
from typing import Any

from services.dds.domain import CPR_SYSTEM, PatientId

_ENTRY_REFERENCE = re.compile(r"(?:^|/)DocumentReference/(?P<id>[A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?\Z")
_PATIENT_REFERENCE = re.compile(r"(?:^|/)Patient/(?P<id>[A-Za-z0-9\-.]{1,64})\Z")


def contained(resource: dict[str, Any], reference: object) -> dict[str, Any] | None:
    """The contained resource a local reference (``#id``) points at."""
    if not isinstance(reference, str) or not reference.startswith("#"):
        return None
    for item in resource.get("contained") or []:
        if isinstance(item, dict) and item.get("id") == reference[1:]:
            return item
    return None


def _identifier(value: object) -> PatientId | None:
    if isinstance(value, dict) and isinstance(value.get("value"), str) and value["value"].strip():
        system = value.get("system")
        return PatientId(system if isinstance(system, str) else None, value["value"].strip())
    return None


def _best_identifier(identifiers: object) -> PatientId | None:
    """A patient's CPR if it has one, else its first usable identifier."""
    found = [p for p in (_identifier(i) for i in identifiers or []) if p] if isinstance(identifiers, list) else []
    for patient in found:
        if patient.system == CPR_SYSTEM:
            return patient
    return found[0] if found else None


def patient_of(resource: dict[str, Any], element: str = "subject") -> PatientId | None:
    """The patient ``resource.<element>`` identifies.

    In order: ``<element>.identifier``; a contained Patient (``#id``) and its identifiers, CPR
    first; a ``Patient/{id}`` reference, whose id this registry reads as the CPR (the sandbox has
    no Patient server of its own); for DocumentReference, ``context.sourcePatientInfo``.
    """
    subject = resource.get(element)
    if isinstance(subject, dict):
        direct = _identifier(subject.get("identifier"))
        if direct:
            return direct
        target = contained(resource, subject.get("reference"))
        if target is not None and target.get("resourceType") == "Patient":
            found = _best_identifier(target.get("identifier"))
            if found:
                return found
        reference = subject.get("reference")
        if isinstance(reference, str):
            match = _PATIENT_REFERENCE.search(reference)
            if match:
                return PatientId(CPR_SYSTEM, match["id"])
    source_info = (resource.get("context") or {}).get("sourcePatientInfo") if resource.get(
        "resourceType") == "DocumentReference" else None
    if isinstance(source_info, dict):
        direct = _identifier(source_info.get("identifier"))
        if direct:
            return direct
        target = contained(resource, source_info.get("reference"))
        if target is not None:
            return _best_identifier(target.get("identifier"))
    return None


def entry_id_from_reference(reference: object) -> str | None:
    """The logical id in ``DocumentReference/{id}`` (relative or absolute, with or without history)."""
    if not isinstance(reference, str):
        return None
    match = _ENTRY_REFERENCE.search(reference)
    return match["id"] if match else None


def codings(concept: object) -> list[dict[str, Any]]:
    """The codings of a CodeableConcept (or of a bare Coding)."""
    if not isinstance(concept, dict):
        return []
    if "coding" in concept:
        return [c for c in concept.get("coding") or [] if isinstance(c, dict)]
    return [concept] if "code" in concept else []
