"""Messages in and out as they are:

* ``POST /messages``   send a ready-made HCO Bundle as is, FHIR JSON or FHIR XML (sent on, and shared, in
                       that format; ``?receiver=`` SOR/GLN to override; ``?version=1.1|1.2``: the HCO
                       IG version it follows, else the receiver's endpoint-register entry, else
                       ``NSP_SANDBOX_HCO_VERSION``)
* ``POST /ehmi``       where MedCom Acknowledgements arrive (FHIR JSON or FHIR XML, or in an SBDH
                       envelope: :func:`nsp_sandbox.ehmi.receive_message`); 202 with what the
                       acknowledgement settled; also where envelope receipts for the EOJ's own envelopes arrive
* ``GET  /acks``       every acknowledgement that arrived, as read (``?message=`` MessageHeader.id it answers,
                       known to this EOJ or not; ``?since=`` an instant on the sandbox clock): what a test of a
                       GP system reads back — its content, how often it came, and whether an acknowledgement
                       was itself acknowledged
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from nsp_sandbox import ehmi
from nsp_sandbox import fhir_shape as shape
from nsp_sandbox import openapi_description as oa
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.fhir_format import read_fhir
from nsp_sandbox.message_size import read_limit
from nsp_sandbox.outcome import FhirError, Issue
from nsp_sandbox.sbdh_receipt import ReceiptArrived
from services.eoj_sender.outbox import Outbox
from services.eoj_sender.routes.bodies import READ_ERRORS, unreadable


def router(context: SandboxContext, outbox: Outbox) -> APIRouter:
    messages = APIRouter()
    max_bytes = context.settings.max_body_bytes

    @messages.post("/messages", status_code=201, responses=oa.errors(401, 403, 404, 413, 415, 422, 503),
                   openapi_extra=oa.fhir_body("Bundle", description="A ready-made HCO message"))
    async def send_ready(request: Request, receiver: str | None = None, version: str | None = None,
                         ) -> dict[str, Any]:
        bundle, fhir_format = await read_fhir(request, read_limit(context.settings.hco_max_message_bytes),
                                              context.validator.structures)
        try:
            return await outbox.send_ready(bundle, receiver, version=version, fhir_format=fhir_format)
        except READ_ERRORS as exc:
            raise unreadable(exc, "an HCO message") from None

    @messages.post("/ehmi", status_code=202, response_class=JSONResponse, responses=oa.errors(413, 415, 422),
                   openapi_extra=oa.message_body("A MedCom Acknowledgement, bare or in an SBDH envelope"))
    async def acknowledgement(request: Request) -> JSONResponse:
        try:
            incoming = await ehmi.receive_message(request, max_bytes, context.validator.structures)
        except ReceiptArrived as arrived:  # the receipt for an envelope this EOJ sent
            return JSONResponse(await run_in_threadpool(outbox.receipts.arrived, arrived.receipt), status_code=202)
        bundle, envelope = incoming.bundle, incoming.envelope
        try:
            answer = await outbox.acks.receive(bundle)
        except READ_ERRORS as exc:
            raise unreadable(exc, "a MedCom Acknowledgement") from None
        header = shape.obj((shape.resources(bundle) or [{}])[0])
        receipt = await outbox.receipts.answer(envelope, shape.text(shape.obj(header.get("source")).get("endpoint")))
        return JSONResponse({**answer, **({"receipt": receipt} if receipt else {})}, status_code=202)

    @messages.get("/acks", responses=oa.errors(401, 403, 503))
    def acknowledgements(message: str | None = None, since: str | None = None) -> list[dict[str, Any]]:
        return outbox.acks.listed(message, _instant(since) if since is not None else None)

    return messages


def _instant(text: str) -> datetime:
    """``since``: an ISO 8601 instant with its time zone; 400 naming the parameter otherwise."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise FhirError(400, Issue("error", "value", f"'since' is an instant with its time zone, e.g. "
                                   f"2026-02-03T10:15:00+01:00, not '{text[:40]}'", expression="since",
                                   rule="eoj-acks-since"))
    return moment
