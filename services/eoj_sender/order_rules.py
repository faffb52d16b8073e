"""What the EOJ refuses to send (MedCom send test protocol S1 and Sundhedsfaglig dokumentation 1.0.1):
codes outside the national analysis repertoire, results longer than 12 characters, results without
a value, a patient number that is neither CPR nor x-eCPR, comments over 1 MB."""

from __future__ import annotations

from nsp_sandbox.cpr import is_cpr, is_ecpr
from nsp_sandbox.hco_terms import MAX_COMMENT_CHARS, MAX_RESULT_CHARS
from nsp_sandbox.outcome import FhirError, Issue
from services.eoj_sender.message import observation_system
from services.eoj_sender.order import Order

SOURCE = "MedCom HomeCareObservation send test protocol (S1) / Sundhedsfaglig dokumentation 1.0.1"


def result_text(value: float | str, comparator: str | None) -> str:
    """The result as the receiver shows it, e.g. ``<7.1``: what the 12-character limit counts."""
    return f"{comparator or ''}{value}"


def check_order(order: Order, repertoire: dict[tuple[str, str], str]) -> None:
    issues: list[Issue] = []
    if not (is_cpr(order.cpr) or is_ecpr(order.cpr)):
        issues.append(Issue("error", "value", f"'{order.cpr}' is neither a CPR number (10 digits, a real birth date) "
                            "nor an x-eCPR "
                            "(DDMMYY + 1|7 + two letters + digit)", expression="cpr", rule="hco-patient-cpr",
                            source=SOURCE))
    for i, item in enumerate(order.observations):
        where = f"observations[{i}]"
        if (observation_system(item.code), item.code) not in repertoire:
            issues.append(Issue("error", "code-invalid", f"{item.code} is not in the national analysis repertoire "
                                "(NPU/MCS codes of medcom.fhir.dk.terminology)", expression=f"{where}.code",
                                rule="hco-national-repertoire", source=SOURCE))
        if item.value is None:
            issues.append(Issue("error", "required", "Every result has a value", expression=f"{where}.value",
                                rule="hco-result-value", source=SOURCE))
        elif len(result_text(item.value, item.comparator)) > MAX_RESULT_CHARS:
            issues.append(Issue("error", "too-long", f"A result is at most {MAX_RESULT_CHARS} characters",
                                expression=f"{where}.value", rule="hco-result-length", source=SOURCE))
        if item.comment and len(item.comment) > MAX_COMMENT_CHARS:
            issues.append(Issue("error", "too-long", "An analysis comment is at most 1 MB",
                                expression=f"{where}.comment", rule="hco-comment-length", source=SOURCE))
    if order.clinical_comment and len(order.clinical_comment) > MAX_COMMENT_CHARS:
        issues.append(Issue("error", "too-long", "The clinical comment is at most 1 MB",
                            expression="clinical_comment", rule="hco-comment-length", source=SOURCE))
    if issues:
        raise FhirError(422, issues)
