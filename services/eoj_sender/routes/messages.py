"""Messages in and out as they are:

* ``POST /messages``   send a ready-made HCO Bundle as is, FHIR JSON or FHIR XML (sent on, and shared, in
                       that format; ``?receiver=`` SOR/GLN to override; ``?version=1.1|1.2``: the HCO
                       IG version it follows, else the receiver's endpoint-register entry, else
                       ``NSP_SANDBOX_HCO_VERSION``)
* ``POST /ehmi``       where MedCom Acknowledgements arrive (FHIR JSON or FHIR XML, or in an SBDH
                       envelope: :func:`nsp_sandbox.ehmi.receive_message`); 202 with what the
                       acknowledgement settled
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from nsp_sandbox import ehmi
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.fhir_format import read_fhir
from services.eoj_sender.outbox import Outbox
from services.eoj_sender.routes.bodies import READ_ERRORS, unreadable


def router(context: SandboxContext, outbox: Outbox) -> APIRouter:
    messages = APIRouter()
    max_bytes = context.settings.max_body_bytes

    @messages.post("/messages", status_code=201)
    async def send_ready(request: Request, receiver: str | None = None, version: str | None = None,
                         ) -> dict[str, Any]:
        bundle, fhir_format = await read_fhir(request, max_bytes, context.validator.structures)
        try:
            return await outbox.send_ready(bundle, receiver, version=version, fhir_format=fhir_format)
        except READ_ERRORS as exc:
            raise unreadable(exc, "an HCO message") from None

    @messages.post("/ehmi")
    async def acknowledgement(request: Request) -> JSONResponse:
        incoming = await ehmi.receive_message(request, max_bytes, context.validator.structures)
        try:
            return JSONResponse(await outbox.receive_ack(incoming.bundle), status_code=202)
        except READ_ERRORS as exc:
            raise unreadable(exc, "a MedCom Acknowledgement") from None

    return messages
