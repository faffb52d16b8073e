"""EHMI envelope receipts (``dk-ehmi-sbdh``: ``ehmisbdh-acknowledgement``): the receiving MSH's signal
that an SBDH envelope arrived, sent when the envelope asks for one (scope
``EHMI-ReceiptAcknowledgement`` = ``Request``, within its ``TimeToAcknowledgeReceipt``, 10 minutes in
the pilot).

A receipt is itself an SBDH: sender and receiver swapped, ``DocumentIdentification`` ``Standard``
``ehmisbdh-acknowledgement``, ``TypeVersion`` ``ebbp-signals-2.0``, ``Type`` ``ReceiptAcknowledgement``
(or ``ReceiptException`` for an envelope that could not be taken), scopes ``ORIGINALMESSAGEIDENTIFIER``,
``ORIGINALMESSAGEENVELOPEIDENTIFIER``, ``ORIGINALMESSAGESTANDARD``, ``ORIGINALMESSAGEVERSION``,
``ORIGINALENVELOPEIDENTIFIER`` and ``EHMI-ReceiptAcknowledgement`` ``Response``, and the ebBP signal as
base64 ``BinaryContent`` (``application/xml``). A receipt is never receipted.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from lxml import etree

from nsp_sandbox.hco_sbdh import PROCESS_ID, ROOT, SBDH_NS, SCOPE_ID, Envelope, new_envelope, sbdh_element
from nsp_sandbox.outcome import FhirError, Issue

STANDARD = "ehmisbdh-acknowledgement"
TYPE_VERSION = "ebbp-signals-2.0"
KINDS = ("ReceiptAcknowledgement", "ReceiptException")
EBBP_NS = "http://docs.oasis-open.org/ebxml-bp/ebbp-signals-2.0"
REQUEST_SCOPE = "EHMI-ReceiptAcknowledgement"
DOCUMENT_ID = ("urn:dk:healthcare:messaging:oasis:ebxml:schema:xsd::ehmisbdh-acknowledgement"
               "##urn:dk:ehmi:sbdh:ehmisbdh-acknowledgement::1.0")


@dataclass(frozen=True)
class Receipt:
    """What a receipt says: who sends it, which envelope it answers, and whether it was taken."""

    kind: str  # ReceiptAcknowledgement | ReceiptException
    sender_gln: str
    receiver_gln: str
    instance_identifier: str
    created: str
    original_envelope: str  # the InstanceIdentifier of the envelope it answers
    original_message: str  # its MESSAGEIDENTIFIER (MessageHeader.id)
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "sender": f"0088:{self.sender_gln}", "receiver": f"0088:{self.receiver_gln}",
                "instance_identifier": self.instance_identifier, "created": self.created,
                "original_envelope": self.original_envelope, "original_message": self.original_message,
                "reason": self.reason}


class ReceiptArrived(FhirError):
    """An envelope receipt came in where a message was expected: the receiving face records it."""

    def __init__(self, receipt: Receipt) -> None:
        super().__init__(422, Issue("error", "not-supported", f"An envelope receipt ({receipt.kind} for envelope "
                                    f"{receipt.original_envelope}) is not a message and is not answered",
                                    expression=f"{ROOT}/StandardBusinessDocumentHeader/DocumentIdentification/Type",
                                    rule="ehmi-sbdh-receipt"))
        self.receipt = receipt


def requested(envelope: Envelope) -> bool:
    """Whether the envelope asks its receiving MSH for a receipt."""
    return envelope.scopes.get(REQUEST_SCOPE) == "Request"


def build_receipt(envelope: Envelope, now: datetime, *, timeout_ms: int, reason: str | None = None
                  ) -> tuple[bytes, str]:
    """The receipt for ``envelope`` (``reason``: a ReceiptException saying why) and its InstanceIdentifier."""
    instance, stamp = str(uuid.uuid4()), now.isoformat(timespec="seconds")
    kind = KINDS[1] if reason else KINDS[0]

    sub = sbdh_element
    root, header = new_envelope(envelope.receiver_gln, envelope.sender_gln)  # the receipt goes back
    identification = sub(header, "DocumentIdentification")
    for name, text in (("Standard", STANDARD), ("TypeVersion", TYPE_VERSION), ("InstanceIdentifier", instance),
                       ("Type", kind), ("MultipleType", "false"), ("CreationDateAndTime", stamp)):
        sub(identification, name, text)
    scope_root = sub(header, "BusinessScope")
    scopes = (("DOCUMENTID", DOCUMENT_ID), ("PROCESSID", PROCESS_ID),
              ("SENDERID", envelope.scopes.get("RECEIVERID", "")), ("RECEIVERID", envelope.scopes.get("SENDERID", "")),
              ("MESSAGEIDENTIFIER", instance), ("MESSAGEENVELOPEIDENTIFIER", instance),
              ("ORIGINALMESSAGEIDENTIFIER", envelope.scopes.get("MESSAGEIDENTIFIER", "")),
              ("ORIGINALMESSAGEENVELOPEIDENTIFIER", envelope.scopes.get("MESSAGEENVELOPEIDENTIFIER", "")),
              ("ORIGINALMESSAGESTANDARD", envelope.standard), ("ORIGINALMESSAGEVERSION", envelope.type_version),
              ("ORIGINALENVELOPEIDENTIFIER", envelope.instance_identifier),
              ("StatisticalInformation", envelope.scopes.get("StatisticalInformation", "")))
    for kind_, value in scopes:
        if value:
            scope = sub(scope_root, "Scope")
            sub(scope, "Type", kind_)
            sub(scope, "InstanceIdentifier", value)
            sub(scope, "Identifier", SCOPE_ID)
    response = sub(scope_root, "Scope")
    sub(response, "Type", REQUEST_SCOPE)
    sub(response, "InstanceIdentifier", "Response")
    sub(response, "Identifier", SCOPE_ID)
    correlation = sub(response, "CorrelationInformation")
    sub(correlation, "RequestingDocumentCreationDateTime", envelope.created)
    sub(correlation, "RequestingDocumentInstanceIdentifier", envelope.instance_identifier)
    sub(correlation, "ExpectedResponseDateTime", (now + timedelta(milliseconds=timeout_ms)).isoformat(
        timespec="seconds"))
    service = sub(response, "BusinessService")
    sub(service, "BusinessServiceName", "EHMI-ReceiptAcknowledgement-Response")
    sub(service, "ServiceTransaction", TypeOfServiceTransaction="RespondingServiceTransaction",
        TimeToAcknowledgeReceipt=str(timeout_ms))
    signal = etree.Element(f"{{{EBBP_NS}}}{kind}", nsmap={"bpssignal": EBBP_NS})
    for name, text in (("OriginalMessageIdentifier", envelope.scopes.get("MESSAGEIDENTIFIER", "")),
                       ("ThisMessageDateTime", stamp), ("FromPartyInfo", f"0088:{envelope.receiver_gln}"),
                       ("ToPartyInfo", f"0088:{envelope.sender_gln}")):
        sub(signal, name, text, EBBP_NS)
    if reason:
        sub(signal, "Reason", reason[:1000], EBBP_NS)
    content = base64.b64encode(etree.tostring(signal, encoding="UTF-8")).decode("ascii")
    sub(root, "BinaryContent", content, mimeType="application/xml", encoding="UTF-8")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8"), instance


def read_receipt(raw: bytes) -> Receipt | None:
    """The receipt ``raw`` is, or None when it is not one (another SBDH, or not readable: the envelope
    reader says why)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError:
        return None

    def text(path: str, at: Any = None) -> str:
        found = (at if at is not None else root).find(path, {"s": SBDH_NS, "b": EBBP_NS})
        return (found.text or "").strip() if found is not None else ""

    header = "s:StandardBusinessDocumentHeader"
    if text(f"{header}/s:DocumentIdentification/s:Standard") != STANDARD:
        return None
    scopes = {text("s:Type", s): text("s:InstanceIdentifier", s)
              for s in root.findall(f"{header}/s:BusinessScope/s:Scope", {"s": SBDH_NS})}
    reason = None
    try:
        signal = etree.fromstring(base64.b64decode(text("s:BinaryContent")), parser)
        reason = text("b:Reason", signal) or None
    except (ValueError, etree.XMLSyntaxError):
        pass
    return Receipt(text(f"{header}/s:DocumentIdentification/s:Type"),
                   text(f"{header}/s:Sender/s:Identifier").removeprefix("0088:"),
                   text(f"{header}/s:Receiver/s:Identifier").removeprefix("0088:"),
                   text(f"{header}/s:DocumentIdentification/s:InstanceIdentifier"),
                   text(f"{header}/s:DocumentIdentification/s:CreationDateAndTime"),
                   scopes.get("ORIGINALENVELOPEIDENTIFIER", ""), scopes.get("ORIGINALMESSAGEIDENTIFIER", ""), reason)
