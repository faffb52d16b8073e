"""The HomeCareObservation sharing policy, one reading for every actor that applies it (the EOJ before
it provides, DDS when it registers):

* **Refused consent.** A citizen who refuses sharing beyond the requesting GP is marked by
  ``DiagnosticReport.meta.security`` = ``v3-Confidentiality#R`` in the message (MedCom HCO 1.2.1);
  DDS accepts confidentiality ``N`` only, so such a message is never shared (dds-nsp.md §2.3).
* **The policy date.** From the policy date (15 January 2026 by default) municipal results are shared
  without the citizen's consent; before it, an HCOM — which carries no positive consent — is not.
  The date is a Danish calendar date: it is judged in Danish time (Europe/Copenhagen) on the sandbox
  clock, so 00:30 on 15 January in Copenhagen (23:30 UTC on the 14th) is already "from".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from lxml import etree

from nsp_sandbox.clock import DANISH_TIME
from nsp_sandbox.hco_terms import CONFIDENTIALITY_SYSTEM

FHIR_NS = "http://hl7.org/fhir"
HCOM_TYPE_SYSTEM = "urn:oid:1.2.208.184.100.1"
HCOM_TYPE_CODE = "HCOM"


def danish_date(instant: datetime) -> date:
    """The calendar date in Denmark at ``instant`` (a naive instant is taken to be UTC)."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(DANISH_TIME).date()


def before_policy_date(now: datetime, policy_date: date) -> bool:
    """Whether ``now`` (the sandbox clock) is before the policy date in Danish time."""
    return danish_date(now) < policy_date


@dataclass(frozen=True)
class RefusedConsent:
    """A DiagnosticReport of a message Bundle marked refused consent, and where (FHIRPath in the Bundle)."""

    path: str
    report_id: str


def refused_consent(bundle: dict[str, Any]) -> list[RefusedConsent]:
    """Every ``DiagnosticReport.meta.security`` R in a message Bundle (empty: none, or not a Bundle)."""
    out = []
    entries = bundle.get("entry") if isinstance(bundle.get("entry"), list) else []
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or resource.get("resourceType") != "DiagnosticReport":
            continue
        meta = resource.get("meta") if isinstance(resource.get("meta"), dict) else {}
        labels = meta.get("security") if isinstance(meta.get("security"), list) else []
        for n, label in enumerate(labels):
            if isinstance(label, dict) and label.get("code") == "R" and label.get("system") in (
                    CONFIDENTIALITY_SYSTEM, None):
                out.append(RefusedConsent(f"Bundle.entry[{index}].resource.meta.security[{n}]",
                                          str(resource.get("id", ""))))
    return out


def refused_consent_xml(content: bytes) -> list[RefusedConsent] | None:
    """:func:`refused_consent` for a message Bundle in FHIR XML; None when ``content`` is not FHIR XML."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)
    try:
        root = etree.fromstring(content, parser)
    except (etree.XMLSyntaxError, ValueError):
        return None
    if root.tag != f"{{{FHIR_NS}}}Bundle":
        return None
    out = []
    ns = {"f": FHIR_NS}
    for index, entry in enumerate(root.findall("f:entry", ns)):
        report = entry.find("f:resource/f:DiagnosticReport", ns)
        if report is None:
            continue
        for n, label in enumerate(report.findall("f:meta/f:security", ns)):
            system = label.find("f:system", ns)
            code = label.find("f:code", ns)
            if code is not None and code.get("value") == "R" and (
                    system is None or system.get("value") == CONFIDENTIALITY_SYSTEM):
                report_id = report.find("f:id", ns)
                out.append(RefusedConsent(f"Bundle.entry[{index}].resource.meta.security[{n}]",
                                          report_id.get("value", "") if report_id is not None else ""))
    return out


def is_hcom(document_reference: dict[str, Any]) -> bool:
    """Whether a DocumentReference's typeCode says HomeCareObservation message (``…100.1#HCOM``)."""
    kind = document_reference.get("type") if isinstance(document_reference.get("type"), dict) else {}
    codings = kind.get("coding") if isinstance(kind.get("coding"), list) else []
    return any(isinstance(c, dict) and c.get("system") == HCOM_TYPE_SYSTEM and c.get("code") == HCOM_TYPE_CODE
               for c in codings)
