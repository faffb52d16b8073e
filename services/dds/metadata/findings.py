"""Collecting rule findings under the strictness configured for each rule group.

Every Danish metadata rule belongs to one group, and each group has its own strictness setting
(as NSP's DROS validation levels):

* ``off``: the group's rules are not evaluated, nothing is reported;
* ``log``: evaluated and written to the log (logger ``services.dds.metadata_rules``), not returned;
* ``warning``: returned with severity ``warning``;
* ``reject``: returned with severity ``error`` (the provide is refused).

"Not checked" findings (a value set that is not loaded) keep severity ``information`` whatever
the strictness, because they are not violations: they say a rule could not be applied.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import StrEnum

from nsp_sandbox.config import Settings, Strictness
from nsp_sandbox.outcome import Issue, Severity

log = logging.getLogger("services.dds.metadata_rules")

# IHE XDS error code (ITI TF-3 Table 4.2.4.1-2) for metadata that breaks the affinity domain's rules.
XDS_METADATA_ERROR = "XDSRegistryMetadataError"
XDS_UNKNOWN_PATIENT = "XDSUnknownPatientId"
XDS_PATIENT_MISMATCH = "XDSPatientIdDoesNotMatch"

# Where the rules come from, as named in ``Issue.source``. MD096 is "XDS Metadata for Document
# Sharing, Danish profile" v0.96 (Sundhedsdatastyrelsen 2018), the Danish XDS metadata rules.
MD096 = "MD096 DK XDS metadata"
HCO_PROFILE = "http://medcomfhir.dk/ig/xdsdocuments/StructureDefinition/homecare-observation-documentreference"


class RuleGroup(StrEnum):
    """Rule groups, each named by its strictness setting in :class:`~nsp_sandbox.config.Settings`."""

    PATIENT = "dds_rules_patient"  # the patient by CPR, sourcePatientInfo consistent with it
    CODES = "dds_rules_codes"  # coded attributes in the national value sets
    METADATA = "dds_rules_metadata"  # presence, cardinality and format of the other attributes
    AUTHOR = "dds_rules_author"  # author institution identified by SOR
    DOCUMENT_PATIENT = "dds_rules_document_patient"  # the document's own patient is the entry's
    HCO_CONSENT = "dds_rules_hco_consent"  # HCOM: refused consent and the policy date


@dataclass
class Findings:
    """The issues found in one resource, with severities already set by the group's strictness.

    ``prefix`` is where the resource sits in the request (a FHIRPath such as
    ``Bundle.entry[2].resource``); rules give expressions relative to the resource.
    """

    settings: Settings
    prefix: str
    issues: list[Issue] = field(default_factory=list)

    def strictness(self, group: RuleGroup) -> Strictness:
        return Strictness(getattr(self.settings, group.value))

    def active(self, group: RuleGroup) -> bool:
        """Whether the group's rules are evaluated at all."""
        return self.strictness(group) is not Strictness.OFF

    def path(self, relative: str) -> str:
        return f"{self.prefix}.{relative}" if relative else self.prefix

    def violation(self, group: RuleGroup, *, rule: str, code: str, expression: str, diagnostics: str,
                  source: str, ihe_code: str = XDS_METADATA_ERROR, also: tuple[str, ...] = ()) -> None:
        """Record a broken rule; its severity follows the group's strictness.

        ``also``: further elements the finding concerns, as absolute paths in the request.
        """
        strictness = self.strictness(group)
        severity: Severity = "error" if strictness is Strictness.REJECT else "warning"
        self._record(strictness, Issue(severity, code, diagnostics, self.path(expression), source, rule, ihe_code,
                                       also))

    def not_checked(self, group: RuleGroup, *, rule: str, expression: str, diagnostics: str,
                    source: str) -> None:
        """Record that a rule could not be applied (e.g. its value set is not loaded)."""
        strictness = self.strictness(group)
        self._record(strictness, Issue("information", "informational", diagnostics, self.path(expression),
                                       source, rule))

    def _record(self, strictness: Strictness, issue: Issue) -> None:
        if strictness is Strictness.OFF:
            return
        if strictness is Strictness.LOG:
            level = logging.INFO if issue.severity == "information" else logging.WARNING
            log.log(level, "%s [%s] %s (source: %s)", issue.expression, issue.rule, issue.diagnostics,
                    issue.source)
            return
        self.issues.append(issue)
