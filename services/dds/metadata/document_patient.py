"""The patient inside a provided document must be the patient of its entry (``dk-xds-document-patient``).

A DocumentReference names its patient in ``subject`` (XDS patientId) and
``context.sourcePatientInfo``; a FHIR document or message names its own. DDS registers the entry
under the first and serves the document to whoever may read that patient's documents, so a
document about someone else would be shown to the wrong citizen (IHE ITI TF-3 4.2.4.1:
``XDSPatientIdDoesNotMatch``, "the patient id of the document does not match the one of the
submission").

The patient of a document DDS can read, as CPR numbers (``Patient.identifier`` with system
``urn:oid:1.2.208.176.1.2``):

* a ``document`` Bundle (ConditionList, Notes, …): the Patient the Composition's ``subject``
  refers to (or ``subject.identifier``);
* a ``message`` Bundle (HomeCareObservation, …): every Patient resource of the message and the
  Patient the ``subject`` of each ``MessageHeader.focus`` refers to;
* when the Composition's subject cannot be resolved inside the Bundle: every Patient resource.

References are resolved inside the Bundle by ``fullUrl`` or by ``Type/id``. Anything else (another
Bundle type, another resource, content that is not FHIR JSON) is not read by this rule, and a
document that names no CPR at all (a patient known only by an eCPR replacement number) is left to
the other rules: there is nothing to compare. Neither is an on-demand entry checked at
registration: its source generates the document only when it is retrieved.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.dds.cpr import CPR_SYSTEM
from services.dds.metadata.fhir import JsonObject, objects, text
from services.dds.metadata.findings import XDS_PATIENT_MISMATCH, Findings, RuleGroup
from services.dds.metadata.patient import entry_cpr

RULE = "dk-xds-document-patient"
SOURCE = "IHE ITI TF-3 4.2.4.1 (XDSPatientIdDoesNotMatch): the document's patient is the entry's patientId"


@dataclass(frozen=True)
class DocumentPatient:
    """A CPR number a document names and where (a FHIRPath inside the document)."""

    cpr: str
    path: str
    role: str  # what the identified Patient is to the document, for the diagnostics


class _Bundle:
    """The entries of a Bundle, addressable by ``fullUrl`` and by ``Type/id``."""

    def __init__(self, bundle: JsonObject) -> None:
        self.entries: list[tuple[int, JsonObject]] = []
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

    def of_type(self, kind: str) -> list[tuple[int, JsonObject]]:
        return [(i, r) for i, r in self.entries if r.get("resourceType") == kind]

    def resolve(self, reference: object) -> tuple[int, JsonObject] | None:
        ref = text(reference.get("reference")) if isinstance(reference, dict) else None
        if ref is None:
            return None
        index = self._by_reference.get(ref)
        if index is None and "/" in ref:  # an absolute URL whose tail is Type/id
            index = self._by_reference.get("/".join(ref.rstrip("/").split("/")[-2:]))
        return (index, self._resources[index]) if index is not None else None


def _patient_cprs(index: int, patient: JsonObject, role: str) -> list[DocumentPatient]:
    return [DocumentPatient(ident["value"], f"Bundle.entry[{index}].resource.identifier[{position}]", role)
            for position, ident in enumerate(objects(patient.get("identifier")))
            if ident.get("system") == CPR_SYSTEM and isinstance(ident.get("value"), str)]


def _subject_cprs(bundle: _Bundle, owner: tuple[int, JsonObject], role: str) -> list[DocumentPatient] | None:
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


def document_patients(document: JsonObject) -> list[DocumentPatient] | None:
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


def check_document_patient(findings: Findings, dr: JsonObject, document: JsonObject, document_path: str) -> None:
    """Record ``dk-xds-document-patient`` when ``document`` (at ``document_path`` in the request) names
    a CPR number other than the entry's (DocumentReference ``subject``, else ``sourcePatientInfo``)."""
    if not findings.active(RuleGroup.DOCUMENT_PATIENT):
        return
    patients = document_patients(document)
    if not patients:
        return
    element = "subject"
    cpr = entry_cpr(dr, "subject")
    if cpr is None:
        element = "context.sourcePatientInfo"
        cpr = entry_cpr(dr, element)
    if cpr is None:
        return  # the entry has no valid CPR to compare with: the patient rules say so
    for patient in patients:
        if patient.cpr == cpr:
            continue
        findings.violation(
            RuleGroup.DOCUMENT_PATIENT, rule=RULE, code="business-rule", expression=element,
            diagnostics=f"The document ({document_path}) is about CPR {patient.cpr} ({patient.path} in the "
                        f"document: {patient.role}), but the DocumentReference's {element} "
                        f"({findings.path(element)}) names CPR {cpr}; a document must be about the patient "
                        "of its entry",
            source=SOURCE, ihe_code=XDS_PATIENT_MISMATCH, also=(document_path,))
