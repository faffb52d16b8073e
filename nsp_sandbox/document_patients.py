"""Which patients a FHIR document or message Bundle is about, as CPR numbers and where it says so.

One reading for every actor that needs it: DDS refuses a provided document about someone other
than its entry's patient (``dk-xds-document-patient``), and the Sundhed.dk viewer refuses to show a
retrieved document on another citizen's page (on-demand documents exist only once retrieved).

* a ``document`` Bundle (ConditionList, Notes, …): the Patient the Composition's ``subject``
  refers to (or ``subject.identifier``); when that cannot be resolved inside the Bundle, every
  Patient resource;
* a ``message`` Bundle (HomeCareObservation, …): every Patient resource of the message and the
  Patient the ``subject`` of each ``MessageHeader.focus`` refers to.

References are resolved inside the Bundle by ``fullUrl`` or by ``Type/id`` (also as the tail of an
absolute URL). Another Bundle type or resource is not read (None). A CPR number is a
``Patient.identifier`` with system ``urn:oid:1.2.208.176.1.2``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nsp_sandbox.cpr import CPR_SYSTEM


def text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def objects(value: object) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


@dataclass(frozen=True)
class DocumentPatient:
    """A CPR number a document names and where (a FHIRPath inside the document)."""

    cpr: str
    path: str
    role: str  # what the identified Patient is to the document, for the diagnostics


class _Bundle:
    """The entries of a Bundle, addressable by ``fullUrl`` and by ``Type/id``."""

    def __init__(self, bundle: dict[str, Any]) -> None:
        self.entries: list[tuple[int, dict[str, Any]]] = []
        self._by_reference: dict[str, int] = {}
        for index, entry in enumerate(bundle.get("entry") if isinstance(bundle.get("entry"), list) else []):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict):
                continue
            self.entries.append((index, resource))
            full_url = text(entry.get("fullUrl"))
            if full_url is not None:
                self._by_reference.setdefault(full_url, index)
            kind, rid = text(resource.get("resourceType")), text(resource.get("id"))
            if kind and rid:
                self._by_reference.setdefault(f"{kind}/{rid}", index)
        self._resources = dict(self.entries)

    def of_type(self, kind: str) -> list[tuple[int, dict[str, Any]]]:
        return [(i, r) for i, r in self.entries if r.get("resourceType") == kind]

    def resolve(self, reference: object) -> tuple[int, dict[str, Any]] | None:
        ref = text(reference.get("reference")) if isinstance(reference, dict) else None
        if ref is None:
            return None
        index = self._by_reference.get(ref)
        if index is None and "/" in ref:  # an absolute URL whose tail is Type/id
            index = self._by_reference.get("/".join(ref.rstrip("/").split("/")[-2:]))
        return (index, self._resources[index]) if index is not None else None


def _patient_cprs(index: int, patient: dict[str, Any], role: str) -> list[DocumentPatient]:
    return [DocumentPatient(ident["value"], f"Bundle.entry[{index}].resource.identifier[{position}]", role)
            for position, ident in enumerate(objects(patient.get("identifier")))
            if ident.get("system") == CPR_SYSTEM and isinstance(ident.get("value"), str)]


def _subject_cprs(bundle: _Bundle, owner: tuple[int, dict[str, Any]], role: str) -> list[DocumentPatient] | None:
    """The CPR numbers ``owner.subject`` names; None when the subject cannot be resolved here."""
    index, resource = owner
    subject = resource.get("subject")
    if not isinstance(subject, dict):
        return None
    ident = subject.get("identifier")
    if isinstance(ident, dict) and ident.get("system") == CPR_SYSTEM and isinstance(ident.get("value"), str):
        return [DocumentPatient(ident["value"], f"Bundle.entry[{index}].resource.subject.identifier", role)]
    target = bundle.resolve(subject)
    if target is None or target[1].get("resourceType") != "Patient":
        return None
    return _patient_cprs(target[0], target[1], role)


def document_patients(document: dict[str, Any]) -> list[DocumentPatient] | None:
    """The CPR numbers ``document`` is about; None when it is not a Bundle this rule reads."""
    if document.get("resourceType") != "Bundle" or document.get("type") not in ("document", "message"):
        return None
    bundle = _Bundle(document)
    found: list[DocumentPatient] = []
    if document["type"] == "document":
        compositions = bundle.of_type("Composition")[:1]
        subject = _subject_cprs(bundle, compositions[0], "the patient the Composition's subject refers to") \
            if compositions else None
        if subject is not None:
            found = subject
        else:  # no resolvable subject: whichever Patient the document holds
            for index, patient in bundle.of_type("Patient"):
                found += _patient_cprs(index, patient, "a Patient of the document")
    else:
        for index, patient in bundle.of_type("Patient"):
            found += _patient_cprs(index, patient, "a Patient of the message")
        for _, header in bundle.of_type("MessageHeader")[:1]:
            for focus in objects(header.get("focus")):
                target = bundle.resolve(focus)
                if target is not None:
                    found += _subject_cprs(bundle, target, "the patient the subject of MessageHeader.focus "
                                                           "refers to") or []
    unique: dict[tuple[str, str], DocumentPatient] = {}
    for patient in found:
        unique.setdefault((patient.cpr, patient.path), patient)
    return list(unique.values())
