"""The HCO business rules a GP system checks after the profile (``hco.md`` §7.1, layer 3): what the
profile allows but MedCom's clinical documentation, test protocols and IG text forbid. Each finding
carries the MedCom acknowledgement issue code it is reported with."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nsp_sandbox.cpr import CPR_SYSTEM, ECPR_SYSTEM
from nsp_sandbox.hco_terms import (
    INTERPRETATION_SYSTEM,
    MAX_COMMENT_CHARS,
    MAX_RESULT_CHARS,
    PRODUCENT_SYSTEM,
    REPERTOIRE_SYSTEMS,
    SOR_SYSTEM,
    YDERNUMMER_SYSTEM,
)
from nsp_sandbox.outcome import Issue

HL7_MSG = "http://terminology.hl7.org/CodeSystem/operation-outcome"
MEDCOM_MSG = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-acknowledgement-error-codes"
SOURCE = "MedCom HomeCareObservation 1.2.1 business rules (Sundhedsfaglig dokumentation 1.0.1, test protocols)"
DEFINITION_RE = re.compile(r"\|1\.\d+$")
MEDIA_TYPES = ("application/pdf", "image/gif", "image/jpeg", "image/png", "image/tiff", "image/bmp")


@dataclass(frozen=True)
class Finding:
    issue: Issue
    msg_system: str
    msg_code: str


@dataclass(frozen=True)
class Earlier:
    """What the inbox knows of a previously received message."""

    sender_sor: str
    cpr: str
    activity: str


def _error(code: str, text: str, expression: str, rule: str, msg: tuple[str, str],
           severity: str = "error") -> Finding:
    return Finding(Issue(severity, code, text, expression=expression, rule=rule, source=SOURCE),  # type: ignore[arg-type]
                   msg[0], msg[1])


def _value_text(obs: dict[str, Any]) -> str | None:
    if "valueString" in obs:
        return str(obs["valueString"])
    quantity = obs.get("valueQuantity")
    if isinstance(quantity, dict) and "value" in quantity:
        return f"{quantity.get('comparator', '')}{quantity['value']}"
    return None


@dataclass(frozen=True)
class _Message:
    """An HCO message Bundle's resources as the rules read them."""

    resources: list[dict[str, Any]]

    @property
    def header(self) -> dict[str, Any]:
        return self.resources[0]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r.get("resourceType") == kind]

    def referenced(self, reference: Any) -> dict[str, Any]:
        by_ref = {f"{r.get('resourceType')}/{r.get('id')}": r for r in self.resources}
        return by_ref.get(str(reference), {})

    def where(self, resource: dict[str, Any]) -> str:
        return f"Bundle.entry[{self.resources.index(resource)}].resource"


def check(bundle: dict[str, Any], repertoire: dict[tuple[str, str], str],
          earlier: Callable[[str], Earlier | None]) -> list[Finding]:
    """Every business-rule finding of an HCO message that passed the profile, in this order: the
    message's shape, the patient, the organisations, each result, the reports, the attachments and
    the message chain (modification / retraction)."""
    message = _Message([e.get("resource") or {} for e in bundle.get("entry") or []])
    reports = message.of_type("DiagnosticReport")
    out = _shape_findings(message)
    patient_findings, cpr = _patient_findings(message)
    out.extend(patient_findings)
    sender = message.referenced(message.header.get("sender", {}).get("reference", ""))
    out.extend(_organisation_findings(message, sender))
    referenced = {str(r.get("reference")) for rep in reports for r in rep.get("result", [])}
    for obs in message.of_type("Observation"):
        out.extend(_observation_findings(obs, message.where(obs), repertoire, referenced))
    for report in reports:
        if len(str(report.get("conclusion", ""))) > MAX_COMMENT_CHARS:
            out.append(_error("too-long", "The clinical comment is at most 1 MB", f"{message.where(report)}.conclusion",
                              "hco-comment-length", (MEDCOM_MSG, "MSG_Element_To_Long")))
    for media in message.of_type("Media"):
        out.extend(_media_findings(media, message.where(media)))
    out.extend(_chain_findings(message.header, message.resources, reports, sender, cpr, earlier))
    return out


def _shape_findings(message: _Message) -> list[Finding]:
    """One Patient, one DiagnosticReport, one focus, and MessageDefinition version 1.x."""
    out = []
    for kind in ("Patient", "DiagnosticReport"):
        found = message.of_type(kind)
        if len(found) != 1:
            out.append(_error("structure", f"An HCO message holds exactly one {kind} ({len(found)} found)",
                              "Bundle.entry", "hco-one-" + kind.lower(), (HL7_MSG, "MSG_RESOURCE_REQUIRED")))
    header = message.header
    if len(header.get("focus") or []) != 1:
        out.append(_error("structure", "An HCO MessageHeader has exactly one focus", f"{message.where(header)}.focus",
                          "hco-one-focus", (HL7_MSG, "MSG_RESOURCE_REQUIRED")))
    if not DEFINITION_RE.search(str(header.get("definition", ""))):
        out.append(_error("value", "MessageHeader.definition names MessageDefinition version 1.x",
                          f"{message.where(header)}.definition", "hco-definition-version",
                          (HL7_MSG, "MSG_BAD_FORMAT")))
    return out


def _patient_findings(message: _Message) -> tuple[list[Finding], str]:
    """The patient's CPR (or x-eCPR) number, or the finding that it has none."""
    patients = message.of_type("Patient")
    if not patients:
        return [], ""
    patient = patients[0]
    ids = [i for i in patient.get("identifier", []) if i.get("system") in (CPR_SYSTEM, ECPR_SYSTEM)]
    if not ids:
        return [_error("required", "The patient has no CPR or x-eCPR identifier",
                       f"{message.where(patient)}.identifier", "hco-patient-cpr",
                       (HL7_MSG, "MSG_RESOURCE_REQUIRED"))], ""
    return [], str(ids[0].get("value", ""))


def _organisation_findings(message: _Message, sender: dict[str, Any]) -> list[Finding]:
    """The producer carries ProducentID KAF; the requesting GP its ydernummer."""
    out = []
    kaf = any(i.get("system") == PRODUCENT_SYSTEM and i.get("value") == "KAF" for i in sender.get("identifier", []))
    if not kaf:
        at = f"{message.where(sender)}.identifier" if sender else "Bundle.entry[0].resource.sender"
        out.append(_error("required", "The producer organisation carries ProducentID KAF", at, "hco-producent-id",
                          (HL7_MSG, "MSG_RESOURCE_REQUIRED")))
    destination = (message.header.get("destination") or [{}])[0]
    receiver = message.referenced(destination.get("receiver", {}).get("reference", ""))
    if receiver and not any(i.get("system") == YDERNUMMER_SYSTEM for i in receiver.get("identifier", [])):
        out.append(_error("required", "The requesting GP organisation carries its ydernummer",
                          f"{message.where(receiver)}.identifier", "hco-requester-ydernummer",
                          (MEDCOM_MSG, "MSG_Receiver_Identifier_MISSING")))
    return out


def _observation_findings(obs: dict[str, Any], at: str, repertoire: dict[tuple[str, str], str],
                          referenced: set[str]) -> list[Finding]:
    """One result: a repertoire code, final, sampling time, NI, a value within its length, comments
    within theirs, and listed among the report's results (a warning otherwise)."""
    out = []
    coding = (obs.get("code") or {}).get("coding") or []
    if not any((c.get("system"), c.get("code")) in repertoire for c in coding):
        codes = ", ".join(str(c.get("code")) for c in coding) or "(none)"
        known_system = any(c.get("system") in REPERTOIRE_SYSTEMS for c in coding)
        out.append(_error("code-invalid", f"Observation code {codes} is not in the national analysis repertoire",
                          f"{at}.code", "hco-national-repertoire",
                          (MEDCOM_MSG, "MSG_CodeSystem_VALUE_UNKNOWN" if known_system
                           else "MSG_VALUESET_VALUE_UNKNOWN")))
    if obs.get("status") != "final":
        out.append(_error("value", "Observation.status is always final", f"{at}.status", "hco-observation-final",
                          (MEDCOM_MSG, "MSG_VALUESET_VALUE_UNKNOWN")))
    if not obs.get("effectiveDateTime"):
        out.append(_error("required", "Every result has its sampling time (effectiveDateTime)",
                          f"{at}.effectiveDateTime", "hco-sampling-time", (HL7_MSG, "MSG_RESOURCE_REQUIRED")))
    interpretation = [c for i in obs.get("interpretation", []) for c in i.get("coding", [])]
    if not any(c.get("system") == INTERPRETATION_SYSTEM and c.get("code") == "NI" for c in interpretation):
        out.append(_error("required", "Every result is marked 'not interpreted' (NI)", f"{at}.interpretation",
                          "hco-interpretation-ni", (HL7_MSG, "MSG_RESOURCE_REQUIRED")))
    value = _value_text(obs)
    if value is None:
        out.append(_error("required", "Every result has a value (valueQuantity with a value, or valueString)",
                          f"{at}.value[x]", "hco-result-value", (MEDCOM_MSG, "MSG_Datatype_Wrong")))
    elif len(value) > MAX_RESULT_CHARS:
        out.append(_error("too-long", f"The result '{value}' is longer than {MAX_RESULT_CHARS} characters",
                          f"{at}.value[x]", "hco-result-length", (MEDCOM_MSG, "MSG_Element_To_Long")))
    for n, note in enumerate(obs.get("note", [])):
        if len(str(note.get("text", ""))) > MAX_COMMENT_CHARS:
            out.append(_error("too-long", "An analysis comment is at most 1 MB", f"{at}.note[{n}].text",
                              "hco-comment-length", (MEDCOM_MSG, "MSG_Element_To_Long")))
    if f"Observation/{obs.get('id')}" not in referenced:
        out.append(_error("informational", "The Observation is in the Bundle but not among the report's results",
                          at, "hco-orphan-entry", (HL7_MSG, "MSG_NO_MATCH"), severity="warning"))
    return out


def _media_findings(media: dict[str, Any], at: str) -> list[Finding]:
    """An attachment is PDF, GIF, JPEG, PNG, TIFF or BMP, and has a title."""
    out = []
    content = media.get("content") or {}
    if content.get("contentType") not in MEDIA_TYPES:
        out.append(_error("code-invalid", "An attachment is PDF, GIF, JPEG, PNG, TIFF or BMP",
                          f"{at}.content.contentType", "hco-attachment-type",
                          (MEDCOM_MSG, "MSG_VALUESET_VALUE_UNKNOWN")))
    if not content.get("title"):
        out.append(_error("required", "An attachment has a title", f"{at}.content.title",
                          "hco-attachment-title", (HL7_MSG, "MSG_RESOURCE_REQUIRED")))
    return out


def _chain_findings(header: dict[str, Any], resources: list[dict[str, Any]], reports: list[dict[str, Any]],
                    sender: dict[str, Any], cpr: str, earlier: Callable[[str], Earlier | None]) -> list[Finding]:
    own = next((r for r in resources if r.get("resourceType") == "Provenance"
                and any(t.get("reference") == f"MessageHeader/{header.get('id')}" for t in r.get("target", []))), {})
    activity = ((own.get("activity") or {}).get("coding") or [{}])[0].get("code", "new-message")
    if activity == "new-message":
        return []
    at = f"Bundle.entry[{resources.index(own)}].resource.entity"
    previous = next((str(e["what"]["reference"]).split("/")[-1] for e in own.get("entity", [])
                     if str((e.get("what") or {}).get("reference", "")).startswith("MessageHeader/")), None)
    if previous is None:
        return [_error("required", f"A {activity} names the message it changes (Provenance.entity.what → "
                       "MessageHeader)", at, "hco-chain-reference", (HL7_MSG, "MSG_RESOURCE_REQUIRED"))]
    known = earlier(previous)
    sender_sor = next((i.get("value") for i in sender.get("identifier", []) if i.get("system") == SOR_SYSTEM), "")
    if known is None or known.sender_sor != sender_sor:
        return [_error("not-found", f"The {activity} refers to MessageHeader {previous}, which this GP system has "
                       "not received from the same sender", at, "hco-chain-known", (HL7_MSG, "MSG_NO_EXIST"))]
    out = []
    if known.activity == "retract-message":
        out.append(_error("business-rule", f"MessageHeader {previous} is a retraction; it cannot be changed",
                          at, "hco-chain-retracted", (HL7_MSG, "MSG_NO_MATCH")))
    if activity == "modified-message" and known.cpr != cpr:
        out.append(_error("business-rule", "A modification keeps the CPR number; a wrong CPR is corrected by "
                          "retracting the message and sending a new one", at, "hco-modify-keeps-cpr",
                          (HL7_MSG, "MSG_NO_MATCH")))
    if activity == "retract-message" and not any(str(r.get("conclusion", "")).strip() for r in reports):
        out.append(_error("required", "A retraction gives its reason in DiagnosticReport.conclusion",
                          "DiagnosticReport.conclusion", "hco-retract-reason", (HL7_MSG, "MSG_RESOURCE_REQUIRED")))
    return out
