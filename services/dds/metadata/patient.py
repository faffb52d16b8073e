"""The patient rules: an entry belongs to one patient, identified by a valid CPR number.

The CPR number is read from the reference's ``identifier``, from a contained Patient (``#id``), from a
conditional reference ``Patient?identifier=urn:oid:1.2.208.176.1.2|…``, or — when none of these gives
one — from a literal ``Patient/{id}`` reference (relative or absolute): the sandbox has no Patient
server, so as in the rest of DDS a Patient's logical id is its CPR number.

XDS ``patientId`` (DocumentReference / List ``subject``) and ``sourcePatientId`` (DocumentReference
``context.sourcePatientInfo``) are both the CPR number as ``nnnnnnnnnn^^^&1.2.208.176.1.2&ISO``
and must be equal (MD096: patientId / sourcePatientId). ``sourcePatientInfo`` carries only
name, birth date and gender, never an address (MD096: sourcePatientInfo PID-5, PID-7, PID-8).
"""

from __future__ import annotations

import re

from nsp_sandbox.cpr import CPR_SYSTEM, cpr_problem
from services.dds.metadata.fhir import JsonObject, Target, follow, identifier_values
from services.dds.metadata.findings import (
    MD096,
    XDS_METADATA_ERROR,
    XDS_PATIENT_MISMATCH,
    XDS_UNKNOWN_PATIENT,
    Findings,
    RuleGroup,
)

SOURCE_PATIENT_ID = f"{MD096}: patientId (CPR, urn:oid:1.2.208.176.1.2)"
SOURCE_SOURCE_PATIENT = f"{MD096}: sourcePatientId equal to patientId"
SOURCE_SOURCE_PATIENT_INFO = f"{MD096}: sourcePatientInfo (only name, birth date, gender)"

# Patient elements that must not travel in sourcePatientInfo (MD096: only PID-5, PID-7, PID-8).
_NOT_IN_SOURCE_PATIENT_INFO = ("address", "telecom")


_PATIENT_ID = re.compile(r"(?:^|/)Patient/(?P<id>[^/?#]+)\Z")


def _cprs(target: Target) -> tuple[list[str], str]:
    """The CPR numbers ``target`` names, and a note on where they were read when not from identifiers."""
    cprs = identifier_values(target.identifiers, CPR_SYSTEM)
    if not cprs and target.resource is None and target.reference:
        match = _PATIENT_ID.search(target.reference)
        if match:
            return [match["id"]], f" (read from the reference '{target.reference}': in the sandbox a " \
                                  "Patient's id is its CPR number)"
    return cprs, ""


def entry_cpr(resource: JsonObject, element: str = "subject") -> str | None:
    """The one valid CPR number ``element`` (``subject`` or ``context.sourcePatientInfo``) names, if it
    names exactly one; no findings (the rules above report what is wrong with it)."""
    holder: object = resource
    for part in element.split("."):
        holder = holder.get(part) if isinstance(holder, dict) else None
    if holder is None:
        return None
    target = follow(holder, resource)
    if target.resource_type not in (None, "Patient"):
        return None
    cprs, _ = _cprs(target)
    return cprs[0] if len(cprs) == 1 and cpr_problem(cprs[0]) is None else None


def check_patient(findings: Findings, resource: JsonObject, *, element: str = "subject") -> str | None:
    """Check ``element`` (a Reference to the patient) and answer its CPR number when it is valid."""
    if not findings.active(RuleGroup.PATIENT):
        return None
    reference = resource.get(element)
    rule = "dk-xds-patient-cpr"
    if reference is None:
        findings.violation(RuleGroup.PATIENT, rule=rule, code="required", expression=element,
                           diagnostics=f"{element} is missing: DK XDS needs the patient (patientId), "
                                       f"identified by CPR number ({CPR_SYSTEM})",
                           source=SOURCE_PATIENT_ID)
        return None
    target = follow(reference, resource)
    return _cpr_of(findings, target, element, rule, SOURCE_PATIENT_ID)


def _cpr_of(findings: Findings, target: Target, element: str, rule: str, source: str) -> str | None:
    if target.resource_type not in (None, "Patient"):
        findings.violation(RuleGroup.PATIENT, rule=rule, code="invalid", expression=element,
                           diagnostics=f"{element} refers to {target.resource_type} '{target.reference}', not "
                                       f"to the Patient identified by CPR number ({CPR_SYSTEM})",
                           source=source, ihe_code=XDS_UNKNOWN_PATIENT)
        return None
    cprs, note = _cprs(target)
    if not cprs:
        if target.problem and not target.identifiers:
            why = target.problem
        else:
            found = ", ".join(f"{i.get('system')}|{i.get('value')}" for i in target.identifiers) or "none"
            why = f"the patient has no CPR identifier (identifiers found: {found})"
        findings.violation(RuleGroup.PATIENT, rule=rule, code="required", expression=element,
                           diagnostics=f"{element}: no CPR number: {why}. Give the CPR number as identifier "
                                       f"with system {CPR_SYSTEM}, in a contained Patient or in "
                                       f"{element}.identifier",
                           source=source,
                           ihe_code=XDS_METADATA_ERROR if not target.identifiers else XDS_UNKNOWN_PATIENT)
        return None
    if len(cprs) > 1:
        findings.violation(RuleGroup.PATIENT, rule=rule, code="invalid", expression=element,
                           diagnostics=f"{element} names {len(cprs)} different CPR numbers ({', '.join(cprs)}); "
                                       "an entry belongs to exactly one patient",
                           source=source, ihe_code=XDS_PATIENT_MISMATCH)
        return None
    problem = cpr_problem(cprs[0])
    if problem is not None:
        findings.violation(RuleGroup.PATIENT, rule=rule, code="value", expression=element,
                           diagnostics=f"{element}: {problem}{note}", source=source,
                           ihe_code=XDS_UNKNOWN_PATIENT)
        return None
    return cprs[0]


def check_source_patient(findings: Findings, resource: JsonObject, subject_cpr: str | None) -> None:
    """``context.sourcePatientInfo``: present, the same CPR number as ``subject``, no address.

    ``subject_cpr`` is the CPR number :func:`check_patient` found (None: none to compare with).
    """
    context = resource.get("context")
    element = "context.sourcePatientInfo"
    rule = "dk-xds-source-patient"
    reference = context.get("sourcePatientInfo") if isinstance(context, dict) else None
    if reference is not None:
        target = follow(reference, resource)
        if target.resource is not None:
            _check_source_patient_info(findings, target.resource, element)
    if not findings.active(RuleGroup.PATIENT):
        return
    if reference is None:
        findings.violation(RuleGroup.PATIENT, rule=rule, code="required", expression=element,
                           diagnostics=f"{element} is missing: XDS sourcePatientId/sourcePatientInfo are "
                                       "required and name the same patient (CPR number) as subject",
                           source=SOURCE_SOURCE_PATIENT)
        return
    cpr = _cpr_of(findings, follow(reference, resource), element, rule, SOURCE_SOURCE_PATIENT)
    if cpr is not None and subject_cpr is not None and cpr != subject_cpr:
        findings.violation(RuleGroup.PATIENT, rule=rule, code="value", expression=element,
                           diagnostics=f"{element} names CPR {cpr}, subject names CPR {subject_cpr}; "
                                       "sourcePatientId must equal patientId",
                           source=SOURCE_SOURCE_PATIENT, ihe_code=XDS_PATIENT_MISMATCH)


def _check_source_patient_info(findings: Findings, patient: JsonObject, element: str) -> None:
    if not findings.active(RuleGroup.METADATA):
        return
    present = [name for name in _NOT_IN_SOURCE_PATIENT_INFO if patient.get(name)]
    if present:
        findings.violation(RuleGroup.METADATA, rule="dk-xds-source-patient-info", code="invalid",
                           expression=element,
                           diagnostics=f"the Patient {element} refers to carries {' and '.join(present)}; "
                                       "Danish sourcePatientInfo holds only name, birth date and gender",
                           source=SOURCE_SOURCE_PATIENT_INFO)
