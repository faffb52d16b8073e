"""How a message relates to earlier ones: read from its Provenance (``entity.what`` → the previous
MessageHeader), per MedCom messaging."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nsp_sandbox import fhir_shape as shape
from nsp_sandbox.cpr import CPR_SYSTEM, ECPR_SYSTEM
from nsp_sandbox.hco_terms import HCO_EVENT


@dataclass(frozen=True)
class MessageFacts:
    bundle_id: str
    header_id: str
    activity: str  # new-message | modified-message | retract-message
    previous_header: str | None
    cpr: str
    refused_consent: bool
    endpoint: str | None  # destination:primary.endpoint
    receiver_ids: dict[str, str]


def read_facts(bundle: dict[str, Any], *, any_event: bool = False) -> MessageFacts | None:
    """The facts of an HCO message Bundle (of any message Bundle with ``any_event``), or None."""
    resources = shape.resources(bundle)
    header = resources[0] if resources else {}
    if header.get("resourceType") != "MessageHeader":
        return None
    if not any_event and shape.text(shape.obj(header.get("eventCoding")).get("code")) != HCO_EVENT:
        return None
    bundle_id, header_id = shape.text(bundle.get("id")), shape.text(header.get("id"))
    if not bundle_id or not header_id:
        return None
    by_ref = {f"{r.get('resourceType')}/{r.get('id')}": r for r in resources}
    own = shape.own_provenance(resources, header_id)
    patient = next((r for r in resources if r.get("resourceType") == "Patient"), {})
    ids = shape.identifiers(patient)
    report = next((r for r in resources if r.get("resourceType") == "DiagnosticReport"), {})
    refused = any(shape.obj(x).get("code") == "R" for x in shape.arr(shape.obj(report.get("meta")).get("security")))
    destination = shape.obj((shape.arr(header.get("destination")) or [{}])[0])
    receiver = by_ref.get(shape.reference(destination.get("receiver")), {})
    return MessageFacts(bundle_id[:64], header_id[:64], shape.activity_of(own), shape.previous_header(own),
                        ids.get(CPR_SYSTEM) or ids.get(ECPR_SYSTEM) or "", refused,
                        shape.text(destination.get("endpoint")) or None, shape.identifiers(receiver))
