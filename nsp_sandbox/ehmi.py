"""The EHMI receive step both HCO emulators share: a MedCom FHIR message arrives either as bare FHIR
JSON or wrapped in an SBDH envelope (``dk-ehmi-sbdh``, XML; :mod:`nsp_sandbox.hco_sbdh`), chosen by
the request's ``Content-Type``.

:func:`receive` reads the body, unwraps an envelope, checks (when the receiver names its own GLNs)
that the envelope is addressed ``0088:<GLN>`` to one of them, and checks the envelope against the
message it carries. An envelope receipt (:mod:`nsp_sandbox.sbdh_receipt`) raises
:class:`~nsp_sandbox.sbdh_receipt.ReceiptArrived` for the face to record. Every refusal is a 400
OperationOutcome naming the SBDH element and rule; a bare body is read as FHIR JSON (415 / 413 / 400
as :func:`nsp_sandbox.fhir_http.read_fhir_json` says).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from fastapi import Request

from nsp_sandbox.fhir_http import read_body, read_fhir_json
from nsp_sandbox.hco_sbdh import HEADER, SOURCE, Envelope, EnvelopeError, consistency, is_sbdh, unwrap
from nsp_sandbox.outcome import FhirError, Issue
from nsp_sandbox.sbdh_receipt import ReceiptArrived, read_receipt


def receiver_refused(gln: str, receivers: str) -> Issue:
    """The issue for an envelope addressed to a GLN that is not one of the receiver's own."""
    return Issue("error", "not-found", f"The envelope is addressed to 0088:{gln}, which is not {receivers}",
                 expression=f"{HEADER}/Receiver/Identifier", rule="ehmi-sbdh-receiver", source=SOURCE)


async def receive(request: Request, max_bytes: int, *, own_glns: Callable[[], Collection[str]] | None = None,
                  receivers: str = "a receiver of this system") -> tuple[dict[str, Any], Envelope | None]:
    """The message Bundle of an EHMI request and its envelope (``None`` for bare FHIR JSON).

    With ``own_glns``, an envelope whose Receiver is not among them is refused (``receivers`` names
    who the GLNs belong to in that refusal) before its consistency with the message is checked.
    """
    if not is_sbdh(request.headers.get("content-type", "")):
        bundle, _ = await read_fhir_json(request, max_bytes)
        return bundle, None
    raw = await read_body(request, max_bytes)
    receipt = read_receipt(raw)
    if receipt is not None:  # an envelope receipt, not a message: the face that takes receipts catches it
        raise ReceiptArrived(receipt)
    try:
        envelope = unwrap(raw)
    except EnvelopeError as exc:
        raise FhirError(400, exc.issues) from None
    if own_glns is not None and envelope.receiver_gln not in own_glns():
        raise FhirError(400, receiver_refused(envelope.receiver_gln, receivers))
    problems = consistency(envelope)
    if problems:
        raise FhirError(400, problems)
    return envelope.bundle, envelope
