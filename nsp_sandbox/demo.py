"""Demo data: the official MedCom HomeCareObservation example messages, shared to DDS as the
municipal EHR would — over HTTP, through the standard IHE MHD interface.

A ``new-message`` is provided (ITI-65); a ``modified-message`` replaces the entry of the message its
Provenance points at; a ``retract-message`` deprecates it (ITI-92, ``entered-in-error``); a message
whose DiagnosticReport carries the security label ``R`` (refused consent) is never shared; a
patient identified by an eCPR (a substitute number, not a CPR) cannot be registered in DDS.
Running it again changes nothing: the first document is already registered. The demo acts as
Aarhus Kommune's EOJ, with a system token from NSP's STS.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx2 as httpx

from nsp_sandbox.mhd_source import (
    CPR_SYSTEM,
    SOR_SYSTEM,
    Coding,
    DocumentMetadata,
    DocumentSource,
    Organisation,
    PatientInfo,
    RecipientError,
)

HCO_PACKAGE = "medcom.fhir.dk.homecareobservation"
HCO_EVENT = "homecareobservation-message"
GLN_SYSTEMS = ("https://www.gs1.org/gln", "http://www.gs1.org/gln")
HCOM_TYPE = Coding("urn:oid:1.2.208.184.100.1", "HCOM", "HomeCareObservation message")
CLINICAL_REPORT = Coding("http://medcomfhir.dk/ig/document/CodeSystem/MedCom-ihe-classcode-CS-TEMP", "001",
                         "Klinisk rapport")
HCO_FORMAT = Coding("http://medcomfhir.dk/ig/xdsdocuments/CodeSystem/MedComHCOFormatCodeCS",
                    "urn:ad:dk:medcom:msg:hco-v1.2:full", "DK HomeCareObservation message v1.2")
HOME_NURSING_UNIT = Coding("http://snomed.info/sct", "550621000005101", "hjemmesygeplejeenhed")
HOME_NURSING = Coding("http://snomed.info/sct", "658161000005107", "hjemmesygepleje")
SOURCE_ID = "urn:oid:1.2.208.176.43210.8.10.99"  # the demo's document source
SOURCE_PERSONA = "system-eoj-aarhus"  # the demo shares as Aarhus Kommune's EOJ, with its system token
ACTIVITY_ORDER = {"new-message": 0, "modified-message": 1, "retract-message": 2}


@dataclass(frozen=True)
class HcoMessage:
    """What sharing needs to know of one HCO message Bundle."""

    bundle_id: str
    header_id: str
    activity: str  # new-message | modified-message | retract-message
    original_header: str | None  # the MessageHeader a modification or retraction refers to
    refused_consent: bool
    meta: DocumentMetadata


def read_hco_message(bundle: dict[str, Any]) -> HcoMessage | None:
    """The sharing facts of an HCO message Bundle, or None when it is not one."""
    resources = [e.get("resource", {}) for e in bundle.get("entry", [])]
    header = resources[0] if resources else {}
    if header.get("resourceType") != "MessageHeader" or header.get("eventCoding", {}).get("code") != HCO_EVENT:
        return None
    by_ref = {f"{r.get('resourceType')}/{r.get('id')}": r for r in resources}
    patient = next(r for r in resources if r.get("resourceType") == "Patient")
    report = next(r for r in resources if r.get("resourceType") == "DiagnosticReport")
    sender = by_ref.get(header.get("sender", {}).get("reference", ""), {})
    provenance = next((r for r in resources if r.get("resourceType") == "Provenance"
                       and any(t.get("reference") == f"MessageHeader/{header['id']}" for t in r.get("target", []))),
                      {})
    activity = provenance.get("activity", {}).get("coding", [{}])[0].get("code", "new-message")
    original = next((e["what"]["reference"].split("/")[-1] for e in provenance.get("entity", [])
                     if e.get("what", {}).get("reference", "").startswith("MessageHeader/")), None)
    cpr = next((i["value"] for i in patient.get("identifier", []) if i.get("system") == CPR_SYSTEM),
               next((i.get("value", "") for i in patient.get("identifier", [])), ""))
    name = (patient.get("name") or [{}])[0]
    sor = next((i["value"] for i in sender.get("identifier", []) if i.get("system") == SOR_SYSTEM), "")
    gln = next((i["value"] for i in sender.get("identifier", []) if i.get("system") in GLN_SYSTEMS), None)
    timestamp = datetime.fromisoformat(bundle["timestamp"])
    effective = [datetime.fromisoformat(o["effectiveDateTime"]) for o in resources
                 if o.get("resourceType") == "Observation" and "T" in o.get("effectiveDateTime", "")]
    meta = DocumentMetadata(
        patient=PatientInfo(cpr, name.get("family"), tuple(name.get("given", [])), patient.get("gender"),
                            patient.get("birthDate")),
        author=Organisation(sor, sender.get("name", ""), gln),
        unique_id=f"urn:uuid:{_as_uuid(bundle['id'])}",
        title=f"Kommunale prøvesvar (HCOM-{header['id']})",
        type=HCOM_TYPE, category=CLINICAL_REPORT, format=HCO_FORMAT,
        facility_type=HOME_NURSING_UNIT, practice_setting=HOME_NURSING,
        creation=timestamp,
        service_start=min(effective) if effective else None,
        service_stop=max(effective) if len(effective) > 1 else None,
    )
    refused = any(s.get("code") == "R" for s in report.get("meta", {}).get("security", []))
    return HcoMessage(bundle["id"], header["id"], activity, original, refused, meta)


def _as_uuid(bundle_id: str) -> uuid.UUID:
    """The Bundle id when it is a UUID, else a UUID derived from it (XDS uniqueIds are OIDs or UUIDs)."""
    try:
        return uuid.UUID(bundle_id)
    except ValueError:
        return uuid.uuid5(uuid.NAMESPACE_URL, f"urn:medcom:hco:bundle:{bundle_id}")


def system_token(client: httpx.Client, nsp_base: str, persona: str = SOURCE_PERSONA) -> dict[str, str]:
    """The ``Authorization`` header of a system persona, from NSP's STS over HTTP."""
    response = client.post(f"{nsp_base.rstrip('/')}/sts/token", json={"persona": persona, "audience": "dds"})
    if response.status_code != 200:
        raise RecipientError(response.status_code, None, f"the STS answered HTTP {response.status_code} for "
                             f"persona {persona}")
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def share_hco_examples(source: DocumentSource, examples: list[tuple[str, dict[str, Any]]],
                       report: Callable[[str], None] = print) -> int:
    """Share the official HCO example messages through ``source``; answers how many entries changed."""
    messages: list[tuple[HcoMessage, bytes]] = []
    for name, bundle in examples:
        message = read_hco_message(bundle)
        if message is not None:
            messages.append((message, json.dumps(bundle, ensure_ascii=False, indent=2).encode("utf-8")))
        elif bundle.get("resourceType") == "Bundle" and bundle.get("type") == "message":
            report(f"  skipped {name}: not a HomeCareObservation message")
    messages.sort(key=lambda m: (ACTIVITY_ORDER.get(m[0].activity, 9), m[0].meta.creation))
    current: dict[str, str] = {}  # MessageHeader id of the first message -> its current DDS entry
    changed = 0
    for message, content in messages:
        label = f"HCO {message.bundle_id} ({message.activity}, CPR {message.meta.patient.cpr})"
        if message.refused_consent:
            report(f"  not shared {label}: refused consent (security label R)")
            continue
        if not (message.meta.patient.cpr.isdigit() and len(message.meta.patient.cpr) == 10):
            report(f"  not shared {label}: the patient has no CPR number (eCPR), which DDS cannot register")
            continue
        try:
            if message.activity == "retract-message":
                target = current.get(message.original_header or "")
                if target is None:
                    report(f"  not shared {label}: the retracted message was never shared")
                    continue
                source.deprecate(target)
                report(f"  deprecated DocumentReference/{target} ← {label}")
            else:
                replaces = None
                if message.activity == "modified-message":
                    replaces = current.get(message.original_header or "")
                    if replaces is None:
                        report(f"  not shared {label}: the modified message's original was never shared")
                        continue
                new_id = source.provide([(message.meta, content)], submitted=message.meta.creation,
                                        replaces={message.meta.unique_id: replaces} if replaces else None)[0]
                current[message.original_header or message.header_id] = new_id
                verb = f"replaced DocumentReference/{replaces} with" if replaces else "provided"
                report(f"  {verb} DocumentReference/{new_id} ← {label}")
        except RecipientError as exc:
            if exc.status == 409 and changed == 0 and "XDSDuplicateUniqueIdInRegistry" in json.dumps(exc.outcome):
                report("  demo data already present")
                return 0
            report(f"  refused {label}: {exc}")
            continue
        changed += 1
    return changed
