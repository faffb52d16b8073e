"""The HCO business rules a GP system checks after the profile (``hco.md`` §7.1, layer 3): what the
profile allows but MedCom's clinical documentation, test protocols and IG text forbid. Each finding
carries the MedCom acknowledgement issue code it is reported with."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import Any

from nsp_sandbox.cpr import CPR_SYSTEM, ECPR_SYSTEM
from nsp_sandbox.hco_terms import (
    HCO_DEFINITION,
    INTERPRETATION_SYSTEM,
    MAX_COMMENT_CHARS,
    MAX_RESULT_CHARS,
    PRODUCENT_SYSTEM,
    REPERTOIRE_SYSTEMS,
    YDERNUMMER_SYSTEM,
)
from services.lps.chain_rules import chain_findings
from services.lps.rule_finding import HL7_MSG, MEDCOM_MSG, Earlier, Finding, Message
from services.lps.rule_finding import finding as _error

__all__ = ["HL7_MSG", "MEDCOM_MSG", "Earlier", "Finding", "check"]

DEFINITION_URL = HCO_DEFINITION.partition("|")[0]
DEFINITION_RE = re.compile(re.escape(DEFINITION_URL) + r"\|(1\.\d{1,2})")
LEGACY_DEFINITION_RE = re.compile(re.escape(DEFINITION_URL) + r"(1\.\d{1,2})")
PUBLISHED_DEFINITIONS = (HCO_DEFINITION.partition("|")[2],)
MEDIA_TYPES = ("application/pdf", "image/gif", "image/jpeg", "image/png", "image/tiff", "image/bmp")


def _value_text(obs: dict[str, Any]) -> str | None:
    if "valueString" in obs:
        return str(obs["valueString"])
    quantity = obs.get("valueQuantity")
    if isinstance(quantity, dict) and "value" in quantity:
        return f"{quantity.get('comparator', '')}{quantity['value']}"
    return None


def check(bundle: dict[str, Any], repertoire: dict[tuple[str, str], str],
          earlier: Callable[[str], Earlier | None],
          published: Collection[str] = PUBLISHED_DEFINITIONS) -> list[Finding]:
    """Every business-rule finding of an HCO message that passed the profile, in this order: the
    message's shape, the patient, the organisations, each result, the reports, the attachments and
    the message chain (modification / retraction). ``published``: the MessageDefinition versions
    published in the loaded packages (none loaded: version 1.1, the one MedCom publishes)."""
    published = published or PUBLISHED_DEFINITIONS
    message = Message.of(bundle)
    reports = message.of_type("DiagnosticReport")
    out = _shape_findings(message, published)
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
    out.extend(chain_findings(message, cpr, earlier))
    return out


def _shape_findings(message: Message, published: Collection[str]) -> list[Finding]:
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
    out.extend(_definition_findings(str(header.get("definition", "")), f"{message.where(header)}.definition",
                                    published))
    return out


def _definition_findings(definition: str, at: str, published: Collection[str]) -> list[Finding]:
    """``MessageHeader.definition`` is ``…MedComHomeCareObservationMessageDefinition|1.<n>`` (``hco.md``
    §1.9): the legacy form without the pipe (``…Definition1.1``, the canonical of messagedefinitions
    1.0.0-trial-use) is a warning, and so is a version no loaded package publishes (e.g. ``|1.2``);
    anything else is an error."""
    pipe = DEFINITION_RE.fullmatch(definition)
    if pipe is not None and pipe.group(1) in published:
        return []
    if pipe is not None:
        return [_error("value", f"MessageHeader.definition names MessageDefinition version {pipe.group(1)}, which is "
                       f"not published (published: {', '.join(sorted(published)) or 'none'})", at,
                       "hco-definition-published", (HL7_MSG, "MSG_VERSION_AWARE_URL"), severity="warning")]
    legacy = LEGACY_DEFINITION_RE.fullmatch(definition)
    if legacy is not None:
        return [_error("value", f"MessageHeader.definition uses the legacy form without '|' (expected "
                       f"{DEFINITION_URL}|{legacy.group(1)})", at, "hco-definition-legacy",
                       (HL7_MSG, "MSG_VERSION_AWARE_URL"), severity="warning")]
    return [_error("value", f"MessageHeader.definition names MessageDefinition version 1.x ({DEFINITION_URL}|1.<n>)",
                   at, "hco-definition-version", (HL7_MSG, "MSG_BAD_FORMAT"))]


def _patient_findings(message: Message) -> tuple[list[Finding], str]:
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


def _organisation_findings(message: Message, sender: dict[str, Any]) -> list[Finding]:
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
