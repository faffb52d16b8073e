"""EHMI delivery status (EDS, ``dk-ehmi-eds``): the AuditEvent a station reports when a MedCom message
passes it, and the one way every actor reports it.

Each station of the EHMI flow (sender EUA → MSH → access points → MSH → receiver EUA) tells EDS what
became of a message: ``subtype`` (CodeSystem ``ehmi-delivery-status-sub-types``) ``msg-created``,
``msg-created-and-sent``, ``msg-sent``, ``msg-received``, ``msg-received-and-finalized`` or
``msg-finalized``. The sandbox's EOJ and GP system each are EUA and MSH in one, and report as the
station that acts (source type ``EUA``, ``MSH``, or ``EUA-MSH`` where the two are one step). The
AuditEvent (FHIR R4):

* ``type`` = ``ehmi-delivery-status-types#ehmiMessaging``, ``action`` ``C``, ``outcome`` ``0``
  (success) or ``8`` (serious failure), ``recorded`` on the sandbox clock;
* ``agent`` ``ehmiSender`` and ``ehmiReceiver`` (``type`` from ``ehmi-delivery-status-
  participationroletype``): ``who.identifier`` = the organisation's SOR code, ``altId`` = its GLN,
  ``name``;
* ``source.observer`` = the reporting system, ``source.type`` = its kind of station;
* ``entity``: ``ehmiMessage`` (``what.identifier`` = MessageHeader.id, details ``ehmiMessageType``,
  ``ehmiMessageVersion``, ``ehmiStatisticalInfo``), ``ehmiMessageEnvelope`` (Bundle.id),
  ``ehmiTransportEnvelope`` (the SBDH InstanceIdentifier, when it travelled in one), ``ehmiPatient``
  (the CPR or eCPR, for a message about a patient: EdsPatientDeliveryStatus; an acknowledgement has
  none: EdsBasicDeliveryStatus) and, for an acknowledgement, ``ehmiOrigMessage``.

:func:`report` posts it to EDS (``NSP_SANDBOX_EDS_URL``, by default this sandbox's ``/eds``); a failure
is logged and never breaks delivery.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from nsp_sandbox.hco_sbdh import message_parties
from nsp_sandbox.hco_terms import SOR_SYSTEM
from nsp_sandbox.peers import Peers

log = logging.getLogger("nsp_sandbox.delivery_status")

EHMI_TERMINOLOGY = "http://medcomehmi.dk/ig/terminology/CodeSystem/"
TYPES = EHMI_TERMINOLOGY + "ehmi-delivery-status-types"
SUBTYPES = EHMI_TERMINOLOGY + "ehmi-delivery-status-sub-types"
ROLES = EHMI_TERMINOLOGY + "ehmi-delivery-status-participationroletype"
SOURCE_TYPES = EHMI_TERMINOLOGY + "ehmi-delivery-status-source-type"
ENTITY_TYPES = EHMI_TERMINOLOGY + "ehmi-delivery-status-entity-type"
SUBTYPE_CODES = ("msg-created", "msg-created-and-sent", "msg-sent", "msg-received", "msg-received-and-finalized",
                 "msg-finalized")
SUBTYPE_DISPLAY = {"msg-created": "Message created", "msg-created-and-sent": "Message created and sent",
                   "msg-sent": "Message sent", "msg-received": "Message received",
                   "msg-received-and-finalized": "Message received and finalized",
                   "msg-finalized": "Message finalized"}
CPR_SYSTEM = "urn:oid:1.2.208.176.1.2"


def _entity(kind: str, value: str, details: dict[str, str] | None = None, system: str | None = None) -> dict[str, Any]:
    what: dict[str, Any] = {"identifier": {"value": value, **({"system": system} if system else {})}}
    out: dict[str, Any] = {"what": what, "type": {"system": ENTITY_TYPES, "code": kind}}
    if details:
        out["detail"] = [{"type": k, "valueString": v} for k, v in details.items() if v]
    return out


def _agent(role: str, sor: str, gln: str, requestor: bool) -> dict[str, Any]:
    agent: dict[str, Any] = {"type": {"coding": [{"system": ROLES, "code": role}]}, "requestor": requestor}
    if sor:
        agent["who"] = {"identifier": {"system": SOR_SYSTEM, "value": sor}}
    if gln:
        agent["altId"] = gln
    return agent


def delivery_status(subtype: str, bundle: dict[str, Any], *, observer: str, now: datetime,
                    transport_envelope: str | None = None, outcome: str = "0",
                    source_type: str = "EUA-MSH") -> dict[str, Any]:
    """The delivery-status AuditEvent ``subtype`` of message ``bundle`` as the station ``observer`` (of
    ``source_type`` ``EUA``, ``MSH`` or ``EUA-MSH``) saw it."""
    facts = message_parties(bundle)
    entities = [_entity("ehmiMessage", facts["header_id"], {
        "ehmiMessageType": facts["event"], "ehmiMessageVersion": facts["version"],
        "ehmiStatisticalInfo": f"MCM:{facts['event']}"}),
        _entity("ehmiMessageEnvelope", facts["bundle_id"])]
    if transport_envelope:
        entities.append(_entity("ehmiTransportEnvelope", transport_envelope, {"ehmiTransportEnvelopeType": "SBDH"}))
    if facts["patient"]:
        entities.append(_entity("ehmiPatient", facts["patient"], system=CPR_SYSTEM))
    header = next((e.get("resource", {}) for e in bundle.get("entry", [])[:1] if isinstance(e, dict)), {})
    acknowledged = (header.get("response") or {}).get("identifier") if isinstance(header, dict) else None
    if isinstance(acknowledged, str) and acknowledged:
        entities.append(_entity("ehmiOrigMessage", acknowledged))
    return {
        "resourceType": "AuditEvent", "id": str(uuid.uuid4()),
        "type": {"system": TYPES, "code": "ehmiMessaging", "display": "EHMI messaging event"},
        "subtype": [{"system": SUBTYPES, "code": subtype, "display": SUBTYPE_DISPLAY.get(subtype, subtype)}],
        "action": "C", "recorded": now.isoformat(timespec="milliseconds"), "outcome": outcome,
        "agent": [_agent("ehmiSender", facts["sender_sor"], facts["sender_gln"], True),
                  _agent("ehmiReceiver", facts["receiver_sor"], facts["receiver_gln"], False)],
        "source": {"observer": {"display": observer},
                   "type": [{"system": SOURCE_TYPES, "code": source_type}]},
        "entity": entities,
    }


async def report(peers: Peers, event: dict[str, Any]) -> str:
    """Post ``event`` to EDS; answers ``HTTP <status>`` or what went wrong (logged, never raised)."""
    url = f"{peers.url('eds')}/fhir/AuditEvent"
    try:
        response = await peers.client_for_url(url).post(
            url, json=event, headers={"Content-Type": "application/fhir+json"})
    except Exception as exc:  # EDS being down must never break delivery
        log.warning("EDS report %s not delivered: %s", event.get("id"), exc)
        return f"not delivered: {type(exc).__name__}"
    if response.status_code >= 300:
        log.warning("EDS refused report %s: HTTP %s %s", event.get("id"), response.status_code, response.text[:300])
    return f"HTTP {response.status_code}"
