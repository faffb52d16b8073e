"""The HCO business rules for a message that changes an earlier one (``modified-message`` /
``retract-message``, ``hco.md`` §3 and §7.1): it names a message this GP system received from the same
sender, that message is not a retraction, a modification keeps the CPR number and stays within the
modification scope, a retraction gives its reason.

The modification scope (HCO 1.2.1 IG home page): "The modification can only happen if the
modification is regarding observation sampling date and time, observation result, a clinical
comment, an analysis comment, content of an attached file, the initials of the requisitioning
general practitioner or sender's signature." Everything else is compared with the stored message it
modifies: the patient's name, the requesting GP organisation's and the producer's identifiers, the
refused-consent label, each result's code (same Observation.id) and the set of results (none
dropped). A wrong patient or receiver is corrected by retracting the message and sending a new one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nsp_sandbox.hco_terms import SOR_SYSTEM
from services.lps.rule_finding import HL7_MSG, Earlier, Finding, Message, finding

CANCEL_INSTEAD = "; a wrong patient or receiver is corrected by retracting the message and sending a new one"


def chain_findings(message: Message, cpr: str, earlier: Callable[[str], Earlier | None]) -> list[Finding]:
    header, resources = message.header, message.resources
    own = next((r for r in resources if r.get("resourceType") == "Provenance"
                and any(t.get("reference") == f"MessageHeader/{header.get('id')}" for t in r.get("target", []))), {})
    activity = ((own.get("activity") or {}).get("coding") or [{}])[0].get("code", "new-message")
    if activity == "new-message":
        return []
    at = f"Bundle.entry[{resources.index(own)}].resource.entity"
    previous = next((str(e["what"]["reference"]).split("/")[-1] for e in own.get("entity", [])
                     if str((e.get("what") or {}).get("reference", "")).startswith("MessageHeader/")), None)
    if previous is None:
        return [finding("required", f"A {activity} names the message it changes (Provenance.entity.what → "
                        "MessageHeader)", at, "hco-chain-reference", (HL7_MSG, "MSG_RESOURCE_REQUIRED"))]
    known = earlier(previous)
    sender_sor = next((i.get("value") for i in message.sender().get("identifier", [])
                       if i.get("system") == SOR_SYSTEM), "")
    if known is None or known.sender_sor != sender_sor:
        return [finding("not-found", f"The {activity} refers to MessageHeader {previous}, which this GP system has "
                        "not received from the same sender", at, "hco-chain-known", (HL7_MSG, "MSG_NO_EXIST"))]
    out = []
    if known.activity == "retract-message":
        out.append(finding("business-rule", f"MessageHeader {previous} is a retraction; it cannot be changed",
                           at, "hco-chain-retracted", (HL7_MSG, "MSG_NO_MATCH")))
    if activity == "modified-message" and known.cpr != cpr:
        out.append(finding("business-rule", "A modification keeps the CPR number; a wrong CPR is corrected by "
                           "retracting the message and sending a new one", at, "hco-modify-keeps-cpr",
                           (HL7_MSG, "MSG_NO_MATCH")))
    if activity == "modified-message" and known.bundle:
        out.extend(scope_findings(message, Message.of(known.bundle), previous))
    reports = message.of_type("DiagnosticReport")
    if activity == "retract-message" and not any(str(r.get("conclusion", "")).strip() for r in reports):
        at_report = f"{message.where(reports[0])}.conclusion" if reports else "DiagnosticReport.conclusion"
        out.append(finding("required", "A retraction gives its reason in DiagnosticReport.conclusion",
                           at_report, "hco-retract-reason", (HL7_MSG, "MSG_RESOURCE_REQUIRED")))
    return out


def _names(patient: dict[str, Any]) -> list[tuple[str, tuple[str, ...]]]:
    return sorted((str(n.get("family", "")), tuple(str(g) for g in n.get("given", [])))
                  for n in patient.get("name", []) if isinstance(n, dict))


def _ids(org: dict[str, Any]) -> dict[str, str]:
    return {str(i.get("system")): str(i.get("value")) for i in org.get("identifier", []) if isinstance(i, dict)}


def _security(report: dict[str, Any]) -> set[tuple[str, str]]:
    return {(str(c.get("system")), str(c.get("code"))) for c in (report.get("meta") or {}).get("security", [])}


def _codes(obs: dict[str, Any]) -> set[tuple[str, str]]:
    return {(str(c.get("system")), str(c.get("code"))) for c in (obs.get("code") or {}).get("coding", [])}


def scope_findings(new: Message, old: Message, previous: str) -> list[Finding]:
    """What the modification ``new`` changes outside the modification scope, compared with ``old`` (the
    stored message with MessageHeader.id ``previous``): one finding per element, named by its path."""
    changed: list[tuple[str, str]] = []  # (element path, what changed)
    patient, old_patient = new.first("Patient"), old.first("Patient")
    if patient and old_patient and _names(patient) != _names(old_patient):
        changed.append((f"{new.where(patient)}.name", "the patient's name"))
    for role, org, old_org in (("requesting GP organisation", new.receiver(), old.receiver()),
                               ("producer organisation", new.sender(), old.sender())):
        if org and old_org and _ids(org) != _ids(old_org):
            changed.append((f"{new.where(org)}.identifier", f"the {role}'s identifiers (SOR, GLN, ydernummer, "
                            "ProducentID)"))
    report, old_report = new.first("DiagnosticReport"), old.first("DiagnosticReport")
    if report and old_report and _security(report) != _security(old_report):
        changed.append((f"{new.where(report)}.meta.security", "the refused-consent label"))
    old_by_id = {str(o.get("id")): o for o in old.of_type("Observation")}
    new_codes: set[tuple[str, str]] = set()
    for obs in new.of_type("Observation"):
        new_codes |= _codes(obs)
        before = old_by_id.get(str(obs.get("id")))
        if before is not None and _codes(before) != _codes(obs):
            changed.append((f"{new.where(obs)}.code", f"the code of result Observation/{obs.get('id')}"))
    dropped = sorted(code for o in old.of_type("Observation") for _, code in _codes(o)
                     if not _codes(o) & new_codes)
    if dropped and report:
        changed.append((f"{new.where(report)}.result", f"results left out ({', '.join(dropped)})"))
    return [finding("business-rule", f"A modification may change only sampling times, results, comments, "
                    f"attachments' content, the GP's initials and the signature; it changes {what} of MessageHeader "
                    f"{previous}{CANCEL_INSTEAD}", path, "hco-modify-scope", (HL7_MSG, "MSG_NO_MATCH"))
            for path, what in changed]
