"""The 100 MB message rule at the GP inbox (``hco-message-size``): MedCom allows a HomeCareObservation
message of at most 100 MB, attachments included (``hco_max_message_bytes``). A larger message is
answered like any other refusal — a ``fatal-error`` acknowledgement with ``MSG_Element_To_Long`` — never
with a bare HTTP 413:

* a message the inbox could still read (up to :func:`nsp_sandbox.message_size.read_limit`) is
  checked here before the profile (:func:`size_findings`);
* a body over the read limit is not read further; its beginning says whose message it is
  (:func:`nsp_sandbox.message_size.head_message`), and that is acknowledged negatively; an SBDH envelope
  whose message is not read gets an SBDH ``ReceiptException`` (:func:`refuse_envelope`).
"""

from __future__ import annotations

from typing import Any

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.hco_sbdh import CONTENT_TYPE as SBDH_CONTENT_TYPE
from nsp_sandbox.message_size import head_envelope
from nsp_sandbox.outcome import Issue
from nsp_sandbox.sbdh_receipt import build_receipt
from services.lps.business_rules import MEDCOM_MSG, Finding

RULE = "hco-message-size"
SOURCE = "MedCom HomeCareObservation: a message is at most 100 MB (Sundhedsfaglig dokumentation 1.0.1)"


def too_large(size: str, limit: int) -> Finding:
    return Finding(Issue("error", "too-long", f"The message is {size}; a HomeCareObservation message, attachments "
                         f"included, is at most {limit} bytes", expression="Bundle", rule=RULE, source=SOURCE),
                   MEDCOM_MSG, "MSG_Element_To_Long")


def size_findings(size: int, limit: int) -> list[Finding]:
    """``hco-message-size`` for a message read whole, of ``size`` bytes as compact FHIR JSON
    (:func:`~nsp_sandbox.message_size.message_bytes`); empty: it is within the limit."""
    return [too_large(f"{size} bytes", limit)] if size > limit else []


async def refuse_envelope(context: SandboxContext, head: bytes, return_address: Any) -> str | None:
    """An SBDH envelope too large to read: a ReceiptException to its sender (``return_address(endpoint,
    sender_sor)`` says where); what became of it, or None when the envelope's header was not readable."""
    envelope = head_envelope(head)
    if envelope is None:
        return None
    url = return_address("", envelope.scopes.get("SENDERID", ""))
    limit = context.settings.hco_max_message_bytes
    body, _ = build_receipt(envelope, context.clock.now(), timeout_ms=context.settings.ehmi_receipt_seconds * 1000,
                            reason=f"The envelope is larger than this receiver reads; a HomeCareObservation message "
                                   f"is at most {limit} bytes ({RULE}, MSG_Element_To_Long)")
    try:
        response = await context.peers.client_for_url(url).post(url, content=body,
                                                                headers={"Content-Type": SBDH_CONTENT_TYPE})
    except Exception as exc:  # an unreachable sender must not break the inbox
        return f"ReceiptException to {url} not delivered: {type(exc).__name__}"
    return f"ReceiptException sent to {url}: HTTP {response.status_code}"
