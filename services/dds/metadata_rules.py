"""The Danish XDS metadata rules applied to every DocumentReference and SubmissionSet provided to DDS.

DDS (DokumentDelingsServicen) is the national document-sharing service on NSP; every document
entry and submission set it registers must follow the Danish XDS metadata profile (MD096, "XDS
Metadata for Document Sharing, Danish profile") and the national code lists MedCom publishes as
FHIR packages (``medcom.fhir.dk.xdsmetadata``, ``medcom.fhir.dk.document``,
``medcom.fhir.dk.xdsdocuments``). These functions check one resource each and return *every*
finding at once, as :class:`~nsp_sandbox.outcome.Issue` values whose ``expression`` is a FHIRPath
under ``expression_prefix`` (where the resource sits in the request).

Rule groups and their strictness settings (``off`` | ``log`` | ``warning`` | ``reject``):

================================  =========================================================
``dds_rules_patient``             ``dk-xds-patient-cpr`` (subject: a valid CPR number),
                                  ``dk-xds-source-patient`` (sourcePatientInfo: same CPR)
``dds_rules_codes``               ``dk-xds-<attribute>-valueset``: typeCode, classCode,
                                  formatCode, confidentialityCode, healthcareFacilityTypeCode,
                                  practiceSettingCode, mimeType, languageCode, homeCommunityId
``dds_rules_metadata``            presence / cardinality / format: ``dk-xds-unique-id``,
                                  ``dk-xds-entry-uuid``, ``dk-xds-type-code``,
                                  ``dk-xds-class-code``, ``dk-xds-confidentiality-code``,
                                  ``dk-xds-content``, ``dk-xds-format-code``,
                                  ``dk-xds-mime-type``, ``dk-xds-language-code``,
                                  ``dk-xds-creation-time``, ``dk-xds-title``,
                                  ``dk-xds-facility-type-code``,
                                  ``dk-xds-practice-setting-code``, ``dk-xds-service-time``,
                                  ``dk-xds-home-community-id``, ``dk-xds-source-patient-info``,
                                  ``dk-xds-submissionset-code``, ``dk-xds-submission-time``
``dds_rules_author``              ``dk-xds-author`` (author present),
                                  ``dk-xds-author-institution`` (an Organization with a SOR code)
``dds_rules_document_patient``    ``dk-xds-document-patient`` (the CPR number inside a provided
                                  FHIR document or message is the entry's; see
                                  ``metadata/document_patient.py``)
``dds_rules_hco_consent``         ``dk-xds-hco-refused-consent`` (an HCOM whose message carries
                                  refused consent, at every strictness but ``off``),
                                  ``dk-xds-hco-policy-date`` (an HCOM before the policy date,
                                  Danish time); see ``metadata/hco_consent.py``
================================  =========================================================

What these rules leave to the provide transaction: uniqueness of uniqueId in the registry, the
SubmissionSet and DocumentReferences naming the same patient, and resolving references to other
entries of the Bundle (only contained resources, ``Reference.identifier`` and conditional
references ``Patient?identifier=…`` are followed here).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from nsp_sandbox.config import Settings
from nsp_sandbox.outcome import Issue
from services.dds.metadata.author import check_document_authors
from services.dds.metadata.document_entry import check_document_entry
from services.dds.metadata.document_patient import check_document_patient as _check_document_patient
from services.dds.metadata.findings import Findings
from services.dds.metadata.hco_consent import check_hco_consent as _check_hco_consent
from services.dds.metadata.patient import check_patient, check_source_patient
from services.dds.metadata.submission_set import check_submission_set_rules

if TYPE_CHECKING:
    from nsp_sandbox.conformance.terminology import Terminology

__all__ = ["check_document_patient", "check_document_reference", "check_hco_consent", "check_submission_set"]


def check_document_reference(dr: dict, *, terminology: Terminology, settings: Settings,
                             expression_prefix: str = "DocumentReference") -> list[Issue]:
    """All Danish XDS metadata findings for DocumentReference ``dr`` (empty: it follows the rules).

    Severities follow each rule group's strictness in ``settings``; a code that could not be
    checked (value set not loaded) is an ``information`` issue, never a silent pass.
    """
    findings = Findings(settings, expression_prefix)
    subject_cpr = check_patient(findings, dr, element="subject")
    check_source_patient(findings, dr, subject_cpr)
    check_document_entry(findings, dr, terminology)
    check_document_authors(findings, dr)
    return findings.issues


def check_document_patient(dr: dict, document: dict, *, settings: Settings, document_path: str,
                           expression_prefix: str = "DocumentReference") -> list[Issue]:
    """``dk-xds-document-patient``: the patient inside ``document`` (the parsed FHIR content at
    ``document_path`` in the request) is the patient of DocumentReference ``dr`` (empty: it is, or the
    document is not one this rule reads)."""
    findings = Findings(settings, expression_prefix)
    _check_document_patient(findings, dr, document, document_path)
    return findings.issues


def check_hco_consent(dr: dict, document: dict | None, *, settings: Settings, now: datetime, document_path: str,
                      expression_prefix: str = "DocumentReference", xml: bytes | None = None) -> list[Issue]:
    """``dk-xds-hco-refused-consent`` and ``dk-xds-hco-policy-date`` for an HCOM entry ``dr`` whose message
    Bundle ``document`` (None: not readable as FHIR JSON; then ``xml``, the content, is read as FHIR XML)
    sits at ``document_path``; ``now`` is the sandbox clock (empty: not an HCOM entry, or it may be shared)."""
    findings = Findings(settings, expression_prefix)
    _check_hco_consent(findings, dr, document, document_path, now=now, xml=xml)
    return findings.issues


def check_submission_set(submission_set: dict, *, terminology: Terminology, settings: Settings,
                         expression_prefix: str = "List") -> list[Issue]:
    """All Danish XDS metadata findings for the SubmissionSet ``List`` (empty: it follows the rules).

    ``terminology`` is accepted for symmetry with :func:`check_document_reference`; the DK profile
    uses no coded SubmissionSet attribute (contentTypeCode is not used in Denmark).
    """
    findings = Findings(settings, expression_prefix)
    check_submission_set_rules(findings, submission_set)
    return findings.issues
