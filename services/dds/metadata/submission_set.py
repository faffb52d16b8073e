"""The Danish rules for a SubmissionSet (the MHD SubmissionSet ``List`` of an ITI-65 provide).

The List is a SubmissionSet by its ``code`` (``MHDlistTypes#submissionset``), names the patient by
CPR (XDS SubmissionSet.patientId; that it is the same patient as the DocumentReferences' is the
provide transaction's cross-check), carries its submissionTime in ``date``, and when it names an
author institution that institution is identified by SOR. Its entryUUID (``identifier``
``urn:uuid:``) has the same form as a DocumentEntry's.
"""

from __future__ import annotations

from services.dds.metadata.author import check_submission_set_authors
from services.dds.metadata.fhir import JsonObject, objects, text
from services.dds.metadata.findings import MD096, Findings, RuleGroup
from services.dds.metadata.identifiers import check_entry_uuid
from services.dds.metadata.patient import check_patient
from services.dds.metadata.times import check_instant

# IHE MHD's list-type code system: https in MHD 4.x, http in MHD 3.x publications.
MHD_LIST_TYPES = ("https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes",
                  "http://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes")
SUBMISSIONSET = "submissionset"
SOURCE_CODE = "IHE MHD SubmissionSet profile: List.code = MHDlistTypes#submissionset"
SOURCE_SUBMISSION_TIME = f"{MD096}: submissionTime (UTC, to the second)"


def check_submission_set_rules(findings: Findings, submission_set: JsonObject) -> None:
    """Every SubmissionSet rule on ``submission_set`` (a FHIR List)."""
    _code(findings, submission_set)
    check_patient(findings, submission_set, element="subject")
    check_instant(findings, submission_set.get("date"), expression="date", attribute="submissionTime",
                  rule="dk-xds-submission-time", source=SOURCE_SUBMISSION_TIME)
    check_entry_uuid(findings, submission_set)
    check_submission_set_authors(findings, submission_set)


def _code(findings: Findings, submission_set: JsonObject) -> None:
    code = submission_set.get("code")
    codings = objects(code.get("coding")) if isinstance(code, dict) else []
    if any(c.get("system") in MHD_LIST_TYPES and c.get("code") == SUBMISSIONSET for c in codings):
        return
    found = ", ".join(f"{c.get('system')}|{c.get('code')}" for c in codings if text(c.get("code"))) or "none"
    findings.violation(RuleGroup.METADATA, rule="dk-xds-submissionset-code",
                       code="required" if not codings else "value", expression="code",
                       diagnostics=f"code must be {MHD_LIST_TYPES[0]}|{SUBMISSIONSET} to mark the List as the "
                                   f"SubmissionSet (found: {found})",
                       source=SOURCE_CODE)
