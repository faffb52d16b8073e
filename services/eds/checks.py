"""What EDS requires of a reported delivery status, each refusal an OperationOutcome naming the element
(rule ``eds-*``): a FHIR R4 AuditEvent (unknown elements refused by the base structure), ``type``
``ehmiMessaging``, one ``subtype`` from ``ehmi-delivery-status-sub-types``, ``recorded``, the agents
``ehmiSender`` and ``ehmiReceiver`` identified by SOR (``who.identifier``) or GLN (``altId``), and an
``ehmiMessage`` entity naming the MessageHeader.id."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from nsp_sandbox.conformance.base_structure import base_structure_issues
from nsp_sandbox.delivery_status import ENTITY_TYPES, ROLES, SUBTYPE_CODES, SUBTYPES, TYPES
from nsp_sandbox.outcome import FhirError, Issue
from services.eds.store import Report

if TYPE_CHECKING:
    from nsp_sandbox.conformance.validator import Validator

SOURCE = "EHMI Delivery Status (dk-ehmi-eds)"


def _issue(text: str, where: str, rule: str, code: str = "required") -> Issue:
    return Issue("error", code, text, expression=where, rule=rule, source=SOURCE)  # type: ignore[arg-type]


def _codings(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict) and isinstance(value.get("coding"), list):
        return [c for c in value["coding"] if isinstance(c, dict)]
    return [value] if isinstance(value, dict) else []


def _agent(event: dict[str, Any], role: str, issues: list[Issue]) -> tuple[str, str]:
    for n, agent in enumerate(event.get("agent") or []):
        if any(c.get("system") == ROLES and c.get("code") == role for c in _codings(agent.get("type"))):
            who = (agent.get("who") or {}).get("identifier") or {}
            sor, gln = str(who.get("value") or ""), str(agent.get("altId") or "")
            if not (sor or gln):
                issues.append(_issue(f"The {role} agent names no organisation: who.identifier (SOR) or altId (GLN)",
                                     f"AuditEvent.agent[{n}]", "eds-agent"))
            return sor, gln
    issues.append(_issue(f"An agent of type {role} ({ROLES}) is required", "AuditEvent.agent", "eds-agent"))
    return "", ""


def _entity(event: dict[str, Any], kind: str) -> str:
    for entity in event.get("entity") or []:
        if any(c.get("system") == ENTITY_TYPES and c.get("code") == kind for c in _codings(entity.get("type"))):
            return str(((entity.get("what") or {}).get("identifier") or {}).get("value") or "")
    return ""


def structure_issues(event: dict[str, Any], validator: Validator | None) -> list[Issue]:
    """What the base structure (``fhir.resources``) finds in ``event``. With ``validator``, the engine reads them: its
    walk first, the model only where the walk leaves something for it (``Validator.validate_layers``, whose first
    layer is these findings, the same, as the findings check holds the engine to); for the sandbox's own reports,
    which the walk finds clean, about a fifth of the model's CPU."""
    if validator is None or not validator.base_structure:
        return base_structure_issues(event)
    return validator.validate_layers(event)[0]


def checked(event: Any, validator: Validator | None = None) -> Report:
    """The facts of ``event`` EDS files it under; ``FhirError`` (400 / 422) when it is not a delivery status.
    ``validator``: the engine, which reads the base structure (:func:`structure_issues`)."""
    if not isinstance(event, dict) or event.get("resourceType") != "AuditEvent":
        raise FhirError(400, _issue("The body is not an AuditEvent", "AuditEvent", "eds-resource-type", "invalid"))
    structure = [i for i in structure_issues(event, validator) if i.is_error]
    if structure:
        raise FhirError(422, structure)
    issues: list[Issue] = []
    if not any(c.get("system") == TYPES and c.get("code") == "ehmiMessaging" for c in _codings(event.get("type"))):
        issues.append(_issue(f"type is {TYPES}#ehmiMessaging", "AuditEvent.type", "eds-type", "value"))
    subtypes = [c.get("code") for c in event.get("subtype") or []
                if isinstance(c, dict) and c.get("system") == SUBTYPES]
    if len(subtypes) != 1 or subtypes[0] not in SUBTYPE_CODES:
        issues.append(_issue(f"One subtype from {SUBTYPES}: {', '.join(SUBTYPE_CODES)}", "AuditEvent.subtype",
                             "eds-subtype", "value"))
    sender, receiver = _agent(event, "ehmiSender", issues), _agent(event, "ehmiReceiver", issues)
    message = _entity(event, "ehmiMessage")
    if not message:
        issues.append(_issue("An entity of type ehmiMessage names the message (what.identifier.value = "
                             "MessageHeader.id)", "AuditEvent.entity", "eds-entity-message"))
    try:
        recorded = datetime.fromisoformat(str(event.get("recorded")))
    except ValueError:
        recorded = None
    if recorded is None or recorded.tzinfo is None:
        issues.append(_issue("recorded is an instant with its time zone", "AuditEvent.recorded", "eds-recorded",
                             "value"))
    if issues:
        raise FhirError(422, issues)
    assert recorded is not None
    observer = (event.get("source") or {}).get("observer") or {}
    return Report(str(subtypes[0]), message, _entity(event, "ehmiMessageEnvelope"),
                  _entity(event, "ehmiTransportEnvelope"), _entity(event, "ehmiPatient") or None, sender, receiver,
                  str(observer.get("display") or (observer.get("identifier") or {}).get("value") or ""), recorded)
