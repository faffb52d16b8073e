"""Messages in and out as they are:

* ``POST /messages``   send a ready-made HCO Bundle as is (``?receiver=`` SOR/GLN to override)
* ``POST /ehmi``       where MedCom Acknowledgements arrive (FHIR JSON, or in an SBDH envelope:
                       :func:`nsp_sandbox.ehmi.receive`); 202 with what the acknowledgement settled;
                       also where envelope receipts for the EOJ's own envelopes arrive
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from nsp_sandbox import ehmi
from nsp_sandbox import fhir_shape as shape
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.fhir_http import read_fhir_json
from nsp_sandbox.message_size import read_limit
from nsp_sandbox.sbdh_receipt import ReceiptArrived
from services.eoj_sender.outbox import Outbox
from services.eoj_sender.routes.bodies import READ_ERRORS, unreadable


def router(context: SandboxContext, outbox: Outbox) -> APIRouter:
    messages = APIRouter()
    max_bytes = context.settings.max_body_bytes

    @messages.post("/messages", status_code=201)
    async def send_ready(request: Request, receiver: str | None = None) -> dict[str, Any]:
        bundle, _ = await read_fhir_json(request, read_limit(context.settings.hco_max_message_bytes))
        try:
            return await outbox.send_ready(bundle, receiver)
        except READ_ERRORS as exc:
            raise unreadable(exc, "an HCO message") from None

    @messages.post("/ehmi")
    async def acknowledgement(request: Request) -> JSONResponse:
        try:
            bundle, envelope = await ehmi.receive(request, max_bytes)
        except ReceiptArrived as arrived:  # the receipt for an envelope this EOJ sent
            return JSONResponse(outbox.receipts.arrived(arrived.receipt), status_code=202)
        try:
            answer = await outbox.receive_ack(bundle)
        except READ_ERRORS as exc:
            raise unreadable(exc, "a MedCom Acknowledgement") from None
        header = shape.obj((shape.resources(bundle) or [{}])[0])
        receipt = await outbox.receipts.answer(envelope, shape.text(shape.obj(header.get("source")).get("endpoint")))
        return JSONResponse({**answer, **({"receipt": receipt} if receipt else {})}, status_code=202)

    return messages
