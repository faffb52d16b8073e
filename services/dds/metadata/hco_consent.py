"""Refused consent and the policy date for HomeCareObservation messages (``dds_rules_hco_consent``).

A sandbox rule from dds-nsp.md §2.3, applied to every HCOM entry (typeCode
``urn:oid:1.2.208.184.100.1#HCOM``) whatever door it came through (ITI-65 or ITI-41):

* ``dk-xds-hco-refused-consent``: the message's ``DiagnosticReport.meta.security`` carries ``R``
  (the citizen refused sharing beyond the requesting GP). DDS accepts confidentiality ``N`` only,
  so the entry is refused at every strictness except ``off`` (``log`` and ``warning`` too: a refusal
  is never downgraded to a note).
* ``dk-xds-hco-policy-date``: before the policy date (``hco_policy_date``, judged in Danish time on
  the sandbox clock) municipal results may not be shared, and an HCOM carries no positive consent:
  refused at ``reject``, a warning at ``warning``, logged at ``log``.

The reading of both (the R label, the Danish calendar date) is the platform's
:mod:`nsp_sandbox.hco_policy`, which the EOJ applies before it provides.
"""

from __future__ import annotations

from datetime import datetime

from nsp_sandbox.hco_policy import before_policy_date, is_hcom, refused_consent, refused_consent_xml
from nsp_sandbox.outcome import Issue
from services.dds.metadata.fhir import JsonObject
from services.dds.metadata.findings import Findings, RuleGroup

REFUSED_RULE = "dk-xds-hco-refused-consent"
DATE_RULE = "dk-xds-hco-policy-date"
SOURCE = ("dds-nsp.md §2.3 (sandbox rule): DDS shares HCOM with confidentiality N only; MedCom HCO 1.2.1 "
          "DiagnosticReport.meta.security R = refused consent")
XDS_METADATA_ERROR = "XDSRegistryMetadataError"


def check_hco_consent(findings: Findings, dr: JsonObject, document: JsonObject | None, document_path: str, *,
                      now: datetime, xml: bytes | None = None) -> None:
    """Record the two rules for DocumentReference ``dr`` when it is an HCOM entry (``document``: the
    provided message Bundle at ``document_path`` in the request, if it could be read as FHIR JSON;
    ``xml``: the provided content, read as FHIR XML when it is not JSON)."""
    if not findings.active(RuleGroup.HCO_CONSENT) or not is_hcom(dr):
        return
    labels = refused_consent(document) if document is not None else (refused_consent_xml(xml) if xml else None)
    for refused in labels or []:
        findings.issues.append(Issue(
            "error", "business-rule",
            f"The HomeCareObservation message ({document_path}) carries refused consent ({refused.path} in the "
            f"message is v3-Confidentiality R on DiagnosticReport/{refused.report_id}): the citizen does not "
            "allow it to be shared beyond the requesting GP, and DDS registers confidentiality N only",
            refused.path, SOURCE, REFUSED_RULE, XDS_METADATA_ERROR, (document_path, findings.path("type"))))
    policy_date = findings.settings.hco_policy_date
    if before_policy_date(now, policy_date):
        findings.violation(
            RuleGroup.HCO_CONSENT, rule=DATE_RULE, code="business-rule", expression="type",
            diagnostics=f"Before the policy date {policy_date.isoformat()} (Danish time; the sandbox clock says "
                        f"{now.isoformat(timespec='minutes')}) municipal results are shared only with the citizen's "
                        "consent, and an HCOM carries none",
            source=SOURCE)
