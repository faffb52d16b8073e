"""The EHMI receive step both HCO emulators share: a MedCom FHIR message arrives either bare (FHIR
JSON, or FHIR XML as ``application/fhir+xml``) or wrapped in an SBDH envelope (``dk-ehmi-sbdh``,
``application/xml``; its content FHIR JSON or FHIR XML; :mod:`nsp_sandbox.hco_sbdh`), chosen by the
request's ``Content-Type``; :func:`receive_message` also says which FHIR format it came in.

:func:`receive` reads the body, unwraps an envelope, checks (when the receiver names its own GLNs)
that the envelope is addressed ``0088:<GLN>`` to one of them, and checks the envelope against the
message it carries. An envelope receipt (:mod:`nsp_sandbox.sbdh_receipt`) raises
:class:`~nsp_sandbox.sbdh_receipt.ReceiptArrived` for the face to record. Every refusal is a 400
OperationOutcome naming the SBDH element and rule; a bare body is read as FHIR JSON (415 / 413 / 400
as :func:`nsp_sandbox.fhir_http.read_fhir_json` says).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import Request

from nsp_sandbox.fhir_format import Format, parse_xml, read_fhir
from nsp_sandbox.fhir_http import read_body, read_fhir_json
from nsp_sandbox.hco_sbdh import FHIR_XML, HEADER, SOURCE, Envelope, EnvelopeError, consistency, is_sbdh, unwrap
from nsp_sandbox.outcome import FhirError, Issue
from nsp_sandbox.sbdh_receipt import ReceiptArrived, read_receipt

if TYPE_CHECKING:
    from nsp_sandbox.conformance.structure import StructureLibrary


def receiver_refused(gln: str, receivers: str) -> Issue:
    """The issue for an envelope addressed to a GLN that is not one of the receiver's own."""
    return Issue("error", "not-found", f"The envelope is addressed to 0088:{gln}, which is not {receivers}",
                 expression=f"{HEADER}/Receiver/Identifier", rule="ehmi-sbdh-receiver", source=SOURCE)


@dataclass(frozen=True)
class Incoming:
    """A message as it arrived: the Bundle (as FHIR JSON), its envelope (None when bare) and the FHIR
    format it travelled in (``json`` / ``xml``: what its acknowledgement is answered in)."""

    bundle: dict[str, Any]
    envelope: Envelope | None
    fhir_format: Format


async def receive(request: Request, max_bytes: int, *, own_glns: Callable[[], Collection[str]] | None = None,
                  receivers: str = "a receiver of this system") -> tuple[dict[str, Any], Envelope | None]:
    """The message Bundle of an EHMI request and its envelope (``None`` for bare FHIR JSON).

    With ``own_glns``, an envelope whose Receiver is not among them is refused (``receivers`` names
    who the GLNs belong to in that refusal) before its consistency with the message is checked.
    """
    incoming = await receive_message(request, max_bytes, None, own_glns=own_glns, receivers=receivers)
    return incoming.bundle, incoming.envelope


async def receive_message(request: Request, max_bytes: int, library: StructureLibrary | None, *,
                          own_glns: Callable[[], Collection[str]] | None = None,
                          receivers: str = "a receiver of this system") -> Incoming:
    """As :func:`receive`, reading FHIR XML too when ``library`` is given: a bare
    ``application/fhir+xml`` body, or SBDH content of that type (:mod:`nsp_sandbox.fhir_format`)."""
    content_type = request.headers.get("content-type", "")
    if not is_sbdh(content_type):
        if library is None:
            bundle, _ = await read_fhir_json(request, max_bytes)
            return Incoming(bundle, None, "json")
        bundle, fhir_format = await read_fhir(request, max_bytes, library)
        return Incoming(bundle, None, fhir_format)
    read_xml = (lambda raw: parse_xml(raw, library)) if library is not None else None
    raw = await read_body(request, max_bytes)
    receipt = read_receipt(raw)
    if receipt is not None:  # an envelope receipt, not a message: the face that takes receipts catches it
        raise ReceiptArrived(receipt)
    try:
        envelope = unwrap(raw, read_xml)
    except EnvelopeError as exc:
        raise FhirError(400, exc.issues) from None
    if own_glns is not None and envelope.receiver_gln not in own_glns():
        raise FhirError(400, receiver_refused(envelope.receiver_gln, receivers))
    problems = consistency(envelope)
    if problems:
        raise FhirError(400, problems)
    return Incoming(envelope.bundle, envelope, "xml" if envelope.content_type == FHIR_XML else "json")
