"""Issues and FHIR OperationOutcome: the one way every actor reports what is wrong.

An ``Issue`` names the element (a FHIRPath ``expression`` with indices), the rule that fired and
where that rule comes from (``source``: a profile URL and element id, a constraint key, or a
Danish rule reference), and — for document sharing — the IHE XDS error code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["fatal", "error", "warning", "information"]

# Standard R4 extension the HL7 validator uses for "where this message comes from".
ISSUE_SOURCE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/operationoutcome-issue-source"
# IHE XDS error codes (ITI TF-3 Table 4.2.4.1-2) carried in OperationOutcome.issue.details.coding.
IHE_XDS_ERROR_SYSTEM = "urn:ihe:iti:xds:errorCode"
# Generic FHIR operation-outcome codes (details), for the rule identifier.
RULE_SYSTEM = "urn:nsp-sandbox:rule"


@dataclass(frozen=True)
class Issue:
    severity: Severity
    code: str  # http://hl7.org/fhir/issue-type (invalid, structure, required, value, invariant, …)
    diagnostics: str
    expression: str | None = None
    source: str | None = None
    rule: str | None = None
    ihe_code: str | None = None
    extra_expressions: tuple[str, ...] = field(default_factory=tuple)
    codings: tuple[tuple[str, str], ...] = ()  # further (system, code) details, e.g. a MedCom MSG_* code

    @property
    def is_error(self) -> bool:
        return self.severity in ("fatal", "error")

    def with_severity(self, severity: Severity) -> Issue:
        return Issue(
            severity, self.code, self.diagnostics, self.expression, self.source, self.rule,
            self.ihe_code, self.extra_expressions, self.codings,
        )

    def prefixed(self, prefix: str) -> Issue:
        """The same issue with its expression placed under ``prefix`` (e.g. a Bundle entry)."""
        def move(expr: str | None) -> str | None:
            if expr is None:
                return prefix
            _, _, rest = expr.partition(".")
            return f"{prefix}.{rest}" if rest else prefix
        return Issue(
            self.severity, self.code, self.diagnostics, move(self.expression), self.source, self.rule,
            self.ihe_code, tuple(m for m in (move(e) for e in self.extra_expressions) if m), self.codings,
        )

    def to_fhir(self) -> dict[str, Any]:
        out: dict[str, Any] = {"severity": self.severity, "code": self.code}
        if self.source:
            out["extension"] = [{"url": ISSUE_SOURCE_EXTENSION, "valueString": self.source}]
        codings = []
        if self.ihe_code:
            codings.append({"system": IHE_XDS_ERROR_SYSTEM, "code": self.ihe_code})
        if self.rule:
            codings.append({"system": RULE_SYSTEM, "code": self.rule})
        codings.extend({"system": system, "code": code} for system, code in self.codings)
        if codings:
            out["details"] = {"coding": codings, "text": self.diagnostics}
        out["diagnostics"] = self.diagnostics
        expressions = [e for e in (self.expression, *self.extra_expressions) if e]
        if expressions:
            out["expression"] = expressions
        return out


def operation_outcome(issues: Iterable[Issue]) -> dict[str, Any]:
    issues = list(issues)
    if not issues:
        issues = [Issue("information", "informational", "No issues found")]
    return {"resourceType": "OperationOutcome", "issue": [i.to_fhir() for i in issues]}


def has_errors(issues: Iterable[Issue]) -> bool:
    return any(i.is_error for i in issues)


class FhirError(Exception):
    """Raised anywhere in request handling; answered as an OperationOutcome with ``status``."""

    def __init__(self, status: int, issues: Issue | list[Issue], headers: dict[str, str] | None = None):
        self.status = status
        self.issues = [issues] if isinstance(issues, Issue) else list(issues)
        self.headers = headers or {}
        super().__init__("; ".join(i.diagnostics for i in self.issues))
