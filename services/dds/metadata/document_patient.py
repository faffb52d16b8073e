"""The patient inside a provided document must be the patient of its entry (``dk-xds-document-patient``).

A DocumentReference names its patient in ``subject`` (XDS patientId) and
``context.sourcePatientInfo``; a FHIR document or message names its own. DDS registers the entry
under the first and serves the document to whoever may read that patient's documents, so a
document about someone else would be shown to the wrong citizen (IHE ITI TF-3 4.2.4.1:
``XDSPatientIdDoesNotMatch``, "the patient id of the document does not match the one of the
submission").

Which patients a document is about is read by :mod:`nsp_sandbox.document_patients` (the Composition's
subject of a ``document`` Bundle; the Patients of a ``message`` Bundle). Anything else (another
Bundle type, another resource, content that is not FHIR JSON) is not read by this rule, and a
document that names no CPR at all (a patient known only by an eCPR replacement number) is left to
the other rules: there is nothing to compare. Neither is an on-demand entry checked at
registration: its source generates the document only when it is retrieved.
"""

from __future__ import annotations

from nsp_sandbox.document_patients import document_patients
from services.dds.metadata.fhir import JsonObject
from services.dds.metadata.findings import XDS_PATIENT_MISMATCH, Findings, RuleGroup
from services.dds.metadata.patient import entry_cpr

RULE = "dk-xds-document-patient"
SOURCE = "IHE ITI TF-3 4.2.4.1 (XDSPatientIdDoesNotMatch): the document's patient is the entry's patientId"


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
