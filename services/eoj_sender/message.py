"""Builds a MedCom HomeCareObservation 1.2 message Bundle from an order, shaped as the official
examples of ``medcom.fhir.dk.homecareobservation`` 1.2.1: MessageHeader first, Provenance chain,
DiagnosticReport with producer organisation and signing PractitionerRole, Observations, Patient,
the requesting GP as the primary destination."""

from __future__ import annotations

import html
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nsp_sandbox.cpr import CPR_SYSTEM, ECPR_SYSTEM, is_ecpr
from nsp_sandbox.hco_terms import (
    ACTIVITY_SYSTEM,
    CONFIDENTIALITY_SYSTEM,
    CORE_IG,
    DATA_ABSENT_EXT,
    DESTINATION_USE_EXT,
    DESTINATION_USE_SYSTEM,
    EVENT_SYSTEM,
    GLN_SYSTEM,
    HCO_DEFINITION,
    HCO_EVENT,
    HCO_IG,
    INTERPRETATION_SYSTEM,
    MCS_SYSTEM,
    MESSAGING_IG,
    NPU_SYSTEM,
    PRODUCENT_SYSTEM,
    REPORT_CODE_SYSTEM,
    ROLE_SYSTEM,
    SOR_SYSTEM,
    YDERNUMMER_SYSTEM,
    unit_of,
)
from services.eoj_sender.nsp_registers import Producer
from services.eoj_sender.order import Attachment, Order
from services.eoj_sender.order import Observation as OrderedObservation

UCUM = "http://unitsofmeasure.org"


@dataclass(frozen=True)
class Receiver:
    """The requesting GP practice, as the endpoint register knows it."""

    sor: str
    gln: str
    ydernummer: str
    name: str


@dataclass(frozen=True)
class Previous:
    """The message a modification or retraction refers to."""

    header_id: str
    provenance: dict[str, Any]


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _entry(base: str, resource: dict[str, Any]) -> dict[str, Any]:
    """A Bundle entry; the resource gets a short generated narrative (MedCom: narrative shall be included)."""
    if "text" not in resource:
        summary = html.escape(f"{resource['resourceType']} {resource['id']}")
        resource = {"resourceType": resource["resourceType"], "id": resource["id"], "meta": resource["meta"],
                    "text": {"status": "generated",
                             "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><p>{summary}</p></div>'},
                    **{k: v for k, v in resource.items() if k not in ("resourceType", "id", "meta")}}
    return {"fullUrl": f"{base}/{resource['resourceType']}/{resource['id']}", "resource": resource}


def observation_system(code: str) -> str:
    return MCS_SYSTEM if code.upper().startswith("MCS") else NPU_SYSTEM


def build_message(order: Order, *, producer: Producer, receiver: Receiver, ack_endpoint: str,
                  receiver_endpoint: str, now: datetime, repertoire: dict[tuple[str, str], str],
                  fhir_base: str, activity: str = "new-message", previous: Previous | None = None,
                  conclusion: str | None = None, stable_ids: dict[str, str] | None = None) -> dict[str, Any]:
    """The complete message Bundle; ``stable_ids`` keeps Patient / organisation / role ids across versions."""
    ids = dict(stable_ids or {})
    for key in ("patient", "producer", "receiver", "role", "practitioner"):
        ids.setdefault(key, str(uuid.uuid4()))
    header_id, report_id, provenance_id = (str(uuid.uuid4()) for _ in range(3))
    stamp = _iso(now)
    observations = [observation(item, ids, repertoire, now) for item in order.observations]
    media = [medium(attachment, ids, stamp) for attachment in order.attachments]
    report = diagnostic_report(order, report_id, ids, stamp, observations, media,
                               conclusion if conclusion is not None else order.clinical_comment)
    header = message_header(header_id, report_id, ids, receiver_endpoint, ack_endpoint)
    resources = [header, *provenances(provenance_id, header_id, ids, stamp, activity, previous), report,
                 patient(order, ids), practitioner_role(order, ids), practitioner(order, ids),
                 producer_organization(producer, ids), requester_organization(receiver, order, ids),
                 *observations, *media]
    return {
        "resourceType": "Bundle", "id": str(uuid.uuid4()),
        "meta": {"profile": [HCO_IG + "medcom-homecareobservation-message"]},
        "type": "message", "timestamp": stamp,
        "entry": [_entry(fhir_base, r) for r in resources],
    }


def patient(order: Order, ids: dict[str, str]) -> dict[str, Any]:
    """The citizen (MedCom core Patient): CPR, or an x-eCPR replacement number, and the official name."""
    return {
        "resourceType": "Patient", "id": ids["patient"],
        "meta": {"profile": [CORE_IG + "medcom-core-patient"]},
        "identifier": [{"system": ECPR_SYSTEM if is_ecpr(order.cpr) else CPR_SYSTEM, "value": order.cpr}],
        "name": [{"use": "official", "family": order.family, **({"given": order.given} if order.given else {})}],
    }


def producer_organization(producer: Producer, ids: dict[str, str]) -> dict[str, Any]:
    """The sending organisation (MedCom producer organization): GLN, SOR and producent id."""
    return {
        "resourceType": "Organization", "id": ids["producer"],
        "meta": {"profile": [MESSAGING_IG + "medcom-producer-organization"]},
        "identifier": [{"system": GLN_SYSTEM, "value": producer.gln}, {"system": SOR_SYSTEM, "value": producer.sor},
                       {"use": "official", "system": PRODUCENT_SYSTEM, "value": producer.producent_id}],
        "name": producer.name,
    }


def requester_organization(receiver: Receiver, order: Order, ids: dict[str, str]) -> dict[str, Any]:
    """The requesting GP practice (MedCom requester organization); its contact is the GP's initials,
    or ``unknown`` by data-absent-reason."""
    contact: dict[str, Any] = ({"name": {"given": [order.initials]}} if order.initials else
                               {"extension": [{"url": DATA_ABSENT_EXT, "valueCode": "unknown"}]})
    return {
        "resourceType": "Organization", "id": ids["receiver"],
        "meta": {"profile": [MESSAGING_IG + "medcom-requesterorganization"]},
        "identifier": [{"system": GLN_SYSTEM, "value": receiver.gln}, {"system": SOR_SYSTEM, "value": receiver.sor},
                       {"system": YDERNUMMER_SYSTEM, "value": receiver.ydernummer}],
        "name": receiver.name,
        "contact": [contact],
    }


def practitioner(order: Order, ids: dict[str, str]) -> dict[str, Any]:
    """The signing health-care worker (MedCom core Practitioner): name and phone."""
    signature = order.signature
    return {
        "resourceType": "Practitioner", "id": ids["practitioner"],
        "meta": {"profile": [CORE_IG + "medcom-core-practitioner"]},
        "name": [{"family": signature.family, "given": signature.given}],
        "telecom": [{"system": "phone", "value": signature.phone}],
    }


def practitioner_role(order: Order, ids: dict[str, str]) -> dict[str, Any]:
    """The signer's role (MedCom core PractitionerRole, SKS administrative role code)."""
    return {
        "resourceType": "PractitionerRole", "id": ids["role"],
        "meta": {"profile": [CORE_IG + "medcom-core-practitionerrole"]},
        "practitioner": {"reference": f"Practitioner/{ids['practitioner']}"},
        "code": [{"coding": [{"system": ROLE_SYSTEM, "code": order.signature.role}]}],
    }


def observation(item: OrderedObservation, ids: dict[str, str], repertoire: dict[tuple[str, str], str],
                now: datetime) -> dict[str, Any]:
    """One result (HCO Observation): the code with its repertoire display, a quantity (unit from the
    display when not given) or a text, interpretation ``NI`` and the analysis comment as a note."""
    system = observation_system(item.code)
    display = repertoire.get((system, item.code))
    coding: dict[str, Any] = {"system": system, "code": item.code}
    if display:
        coding["display"] = display
    obs: dict[str, Any] = {
        "resourceType": "Observation", "id": item.id or str(uuid.uuid4()),
        "meta": {"profile": [HCO_IG + "medcom-homecare-observation"]},
        "status": "final", "code": {"coding": [coding]},
        "subject": {"reference": f"Patient/{ids['patient']}"},
        "effectiveDateTime": _iso(item.time or now),
    }
    if isinstance(item.value, str):
        obs["valueString"] = item.value
    elif item.value is not None:
        unit = item.unit or (unit_of(display) if display else None) or "1"
        quantity: dict[str, Any] = {"value": item.value, "unit": unit}
        if item.comparator:
            quantity["comparator"] = item.comparator
        obs["valueQuantity"] = quantity
    obs["interpretation"] = [{"coding": [{"system": INTERPRETATION_SYSTEM, "code": "NI",
                                          "display": "Not Interpreted"}]}]
    if item.comment:
        obs["note"] = [{"text": item.comment}]
    return obs


def medium(attachment: Attachment, ids: dict[str, str], stamp: str) -> dict[str, Any]:
    """An attachment (MedCom core Media), identified by a UUID assigned by the producer."""
    return {
        "resourceType": "Media", "id": str(uuid.uuid4()),
        "meta": {"profile": [CORE_IG + "medcom-core-media"]},
        "identifier": [{"value": f"urn:uuid:{uuid.uuid4()}",
                        "assigner": {"reference": f"Organization/{ids['producer']}"}}],
        "status": "completed",
        "content": {"contentType": attachment.content_type, "data": attachment.data, "title": attachment.title,
                    "creation": stamp},
    }


def diagnostic_report(order: Order, report_id: str, ids: dict[str, str], stamp: str,
                      observations: list[dict[str, Any]], media: list[dict[str, Any]],
                      conclusion: str | None) -> dict[str, Any]:
    """The HCO DiagnosticReport: performed by the producer and the signing role, security label ``R``
    when the citizen refused sharing, its results and media, and the conclusion (clinical comment, or
    a retraction's reason)."""
    report: dict[str, Any] = {
        "resourceType": "DiagnosticReport", "id": report_id,
        "meta": {"profile": [HCO_IG + "medcom-homecareobservation-diagnosticreport"]},
        "status": "final",
        "code": {"coding": [{"system": REPORT_CODE_SYSTEM, "code": "HomeCareReport"}]},
        "subject": {"reference": f"Patient/{ids['patient']}"},
        "issued": stamp,
        "performer": [{"reference": f"Organization/{ids['producer']}"},
                      {"reference": f"PractitionerRole/{ids['role']}"}],
    }
    if order.refused_consent:
        report["meta"]["security"] = [{"system": CONFIDENTIALITY_SYSTEM, "code": "R", "display": "Restricted"}]
    if observations:
        report["result"] = [{"reference": f"Observation/{o['id']}"} for o in observations]
    if media:
        report["media"] = [{"link": {"reference": f"Media/{m['id']}"}} for m in media]
    if conclusion:
        report["conclusion"] = conclusion
    return report


def message_header(header_id: str, report_id: str, ids: dict[str, str], receiver_endpoint: str,
                   ack_endpoint: str) -> dict[str, Any]:
    """The HCO MessageHeader: the requesting GP as primary destination, the producer as sender,
    acknowledgements to ``ack_endpoint``, the DiagnosticReport as focus."""
    return {
        "resourceType": "MessageHeader", "id": header_id,
        "meta": {"profile": [HCO_IG + "medcom-homecareobservation-messageheader"]},
        "eventCoding": {"system": EVENT_SYSTEM, "code": HCO_EVENT},
        "destination": [{
            "extension": [{"url": DESTINATION_USE_EXT,
                           "valueCoding": {"system": DESTINATION_USE_SYSTEM, "code": "primary"}}],
            "endpoint": receiver_endpoint,
            "receiver": {"reference": f"Organization/{ids['receiver']}"},
        }],
        "sender": {"reference": f"Organization/{ids['producer']}"},
        "source": {"endpoint": ack_endpoint},
        "focus": [{"reference": f"DiagnosticReport/{report_id}"}],
        "definition": HCO_DEFINITION,
    }


def provenances(provenance_id: str, header_id: str, ids: dict[str, str], stamp: str, activity: str,
                previous: Previous | None) -> list[dict[str, Any]]:
    """The message's Provenance (MedCom messaging Provenance, ``activity``); for a modification or
    retraction it names the previous MessageHeader (``revision`` / ``removal``) and the previous
    message's own Provenance travels first (MedCom's two-Provenance pattern)."""
    provenance: dict[str, Any] = {
        "resourceType": "Provenance", "id": provenance_id,
        "meta": {"profile": [MESSAGING_IG + "medcom-messaging-provenance"]},
        "target": [{"reference": f"MessageHeader/{header_id}"}],
        "occurredDateTime": stamp, "recorded": stamp,
        "activity": {"coding": [{"system": ACTIVITY_SYSTEM, "code": activity}]},
        "agent": [{"who": {"reference": f"Organization/{ids['producer']}"}}],
    }
    if previous is None:
        return [provenance]
    role_code = "removal" if activity == "retract-message" else "revision"
    provenance["entity"] = [{"role": role_code, "what": {"reference": f"MessageHeader/{previous.header_id}"}}]
    earlier = dict(previous.provenance)
    earlier["agent"] = [{"who": {"reference": f"Organization/{ids['producer']}"}}]
    return [earlier, provenance]


def stable_ids_of(bundle: dict[str, Any]) -> dict[str, str]:
    """The ids a later version of ``bundle`` keeps (patient, organisations, role, practitioner)."""
    resources = [e.get("resource", {}) for e in bundle.get("entry", [])]
    header = resources[0] if resources else {}
    out: dict[str, str] = {}
    for r in resources:
        kind = r.get("resourceType")
        if kind == "Patient":
            out["patient"] = r["id"]
        elif kind == "PractitionerRole":
            out["role"] = r["id"]
        elif kind == "Practitioner":
            out["practitioner"] = r["id"]
    out["producer"] = header.get("sender", {}).get("reference", "/").split("/")[-1]
    out["receiver"] = (header.get("destination") or [{}])[0].get("receiver", {}).get("reference", "/").split("/")[-1]
    return out


def producer_of(bundle: dict[str, Any]) -> Producer | None:
    """The producer organisation an earlier message named (a later version keeps its sender)."""
    resources = [e.get("resource", {}) for e in bundle.get("entry", [])]
    sender_ref = (resources[0] if resources else {}).get("sender", {}).get("reference")
    org = next((r for r in resources if f"Organization/{r.get('id')}" == sender_ref), None)
    ids = {i.get("system"): i.get("value") for i in (org or {}).get("identifier", [])}
    if org is None or not ids.get(SOR_SYSTEM) or not ids.get(GLN_SYSTEM):
        return None
    return Producer(ids[SOR_SYSTEM], ids[GLN_SYSTEM], org.get("name", ""), ids.get(PRODUCENT_SYSTEM) or "KAF")


def own_provenance(bundle: dict[str, Any]) -> dict[str, Any]:
    """The Provenance whose target is the Bundle's own MessageHeader."""
    resources = [e.get("resource", {}) for e in bundle.get("entry", [])]
    header_id = resources[0].get("id") if resources else None
    return next((r for r in resources if r.get("resourceType") == "Provenance"
                 and any(t.get("reference") == f"MessageHeader/{header_id}" for t in r.get("target", []))), {})
