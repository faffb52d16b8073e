"""Builds the MedCom Acknowledgement message (``medcom.fhir.dk.acknowledgement`` 2.0.3) for a received
message, shaped as that package's examples: MessageHeader with event ``acknowledgement-message`` and
``response`` (identifier = the acknowledged MessageHeader.id, code ok / transient-error /
fatal-error, details → OperationOutcome with MedCom MSG_* codes), two Provenances (a copy of the
acknowledged message's own, and one with activity ``acknowledgement``), sender and receiver
organisations. A duplicate gets the same content under a new envelope (Bundle.id) and time."""

from __future__ import annotations

import copy
import html
import uuid
from datetime import datetime
from typing import Any

from nsp_sandbox import fhir_shape as shape
from nsp_sandbox.hco_terms import (
    ACK_EVENT,
    ACTIVITY_SYSTEM,
    DESTINATION_USE_EXT,
    DESTINATION_USE_SYSTEM,
    EVENT_SYSTEM,
    GLN_SYSTEM,
    MESSAGING_IG,
    SOR_SYSTEM,
)
from services.lps.business_rules import Finding

ACK_IG = "http://medcomfhir.dk/ig/acknowledgement/StructureDefinition/"
ACK_DEFINITION = "http://medcomfhir.dk/ig/messagedefinitions/MessageDefinition/MedComAcknowledgementMessageDefinition|2.0"


def _narrative(resource: dict[str, Any]) -> dict[str, Any]:
    text = html.escape(f"{resource['resourceType']} {resource['id']}")
    return {"resourceType": resource["resourceType"], "id": resource["id"], "meta": resource["meta"],
            "text": {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><p>{text}</p></div>'},
            **{k: v for k, v in resource.items() if k not in ("resourceType", "id", "meta")}}


def _organisation(org_id: str, sor: str, gln: str, name: str) -> dict[str, Any]:
    return {"resourceType": "Organization", "id": org_id,
            "meta": {"profile": [MESSAGING_IG + "medcom-messaging-organization"]},
            "identifier": [{"system": GLN_SYSTEM, "value": gln}, {"system": SOR_SYSTEM, "value": sor}],
            "name": name}


def build_ack(message: dict[str, Any], *, code: str, findings: list[Finding], me: dict[str, str],
              my_endpoint: str, now: datetime, base: str) -> dict[str, Any]:
    """The Acknowledgement of ``message`` from the GP organisation ``me`` (sor, gln, name)."""
    resources = shape.resources(message)
    header = resources[0]
    by_ref = {f"{r.get('resourceType')}/{r.get('id')}": r for r in resources}
    sender = by_ref.get(shape.reference(header.get("sender")), {})
    sender_ids = shape.identifiers(sender)
    stamp = now.isoformat(timespec="seconds")
    original_org = _organisation(str(uuid.uuid4()), sender_ids.get(SOR_SYSTEM, ""), sender_ids.get(GLN_SYSTEM, ""),
                                 shape.text(sender.get("name")))
    my_org = _organisation(str(uuid.uuid4()), me["sor"], me["gln"], me["name"])
    ack_header_id = str(uuid.uuid4())
    response: dict[str, Any] = {"identifier": str(header.get("id")), "code": code}
    outcome = None
    if findings or code != "ok":
        outcome = {"resourceType": "OperationOutcome", "id": str(uuid.uuid4()),
                   "meta": {"profile": [ACK_IG + "medcom-acknowledgement-operationoutcome"]},
                   "issue": [{"severity": f.issue.severity, "code": f.issue.code,
                              "details": {"coding": [{"system": f.msg_system, "code": f.msg_code}],
                                          "text": f.issue.diagnostics + (f" [{f.issue.rule}]" if f.issue.rule else "")},
                              **({"expression": [f.issue.expression]} if f.issue.expression else {})}
                             for f in findings]}
        response["details"] = {"reference": f"OperationOutcome/{outcome['id']}"}
    ack_header = {
        "resourceType": "MessageHeader", "id": ack_header_id,
        "meta": {"profile": [ACK_IG + "medcom-messaging-acknowledgementHeader"]},
        "eventCoding": {"system": EVENT_SYSTEM, "code": ACK_EVENT},
        "destination": [{
            "extension": [{"url": DESTINATION_USE_EXT,
                           "valueCoding": {"system": DESTINATION_USE_SYSTEM, "code": "primary"}}],
            "endpoint": shape.text(shape.obj(header.get("source")).get("endpoint")),
            "receiver": {"reference": f"Organization/{original_org['id']}"},
        }],
        "sender": {"reference": f"Organization/{my_org['id']}"},
        "source": {"endpoint": my_endpoint},
        "response": response,
    }
    own = shape.own_provenance(resources, str(header.get("id")))
    copied: dict[str, Any] = copy.deepcopy(own) if own else {
        "resourceType": "Provenance", "id": str(uuid.uuid4()),
        "target": [{"reference": f"MessageHeader/{header.get('id')}"}], "occurredDateTime": stamp, "recorded": stamp,
        "activity": {"coding": [{"system": ACTIVITY_SYSTEM, "code": "new-message"}]}}
    copied.pop("text", None)
    copied["meta"] = {"profile": [MESSAGING_IG + "medcom-messaging-provenance"]}
    copied["agent"] = [{"who": {"reference": f"Organization/{original_org['id']}"}}]
    copied.pop("entity", None)  # its own chain refers to messages this acknowledgement does not carry
    mine = {
        "resourceType": "Provenance", "id": str(uuid.uuid4()),
        "meta": {"profile": [MESSAGING_IG + "medcom-messaging-provenance"]},
        "target": [{"reference": f"MessageHeader/{ack_header_id}"}],
        "occurredDateTime": stamp, "recorded": stamp,
        "activity": {"coding": [{"system": ACTIVITY_SYSTEM, "code": "acknowledgement"}]},
        "agent": [{"who": {"reference": f"Organization/{my_org['id']}"}}],
        "entity": [{"role": "revision", "what": {"reference": f"MessageHeader/{header.get('id')}"}}],
    }
    parts = [ack_header, copied, mine, original_org, my_org, *([outcome] if outcome else [])]
    return {"resourceType": "Bundle", "id": str(uuid.uuid4()),
            "meta": {"profile": [ACK_IG + "medcom-messaging-acknowledgement"]},
            "type": "message", "timestamp": stamp,
            "entry": [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": _narrative(r)} for r in parts]}


def restamp(ack: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The same acknowledgement content under a new envelope id and time (MedCom: duplicates)."""
    out = copy.deepcopy(ack)
    out["id"] = str(uuid.uuid4())
    out["timestamp"] = now.isoformat(timespec="milliseconds")  # a new time even within the same second
    return out
