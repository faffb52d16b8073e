"""``/hco``: a simple order becomes a complete HCO message; modify, retract and resend it; its status.

* ``POST /hco``                 a simple order → a complete HCO 1.2 message, sent to the requesting GP
* ``POST /hco/resend-due``      resend every overdue message
* ``GET  /hco/{id}``            the message chain, acknowledgement state, resends and DDS entry
* ``POST /hco/{id}/modify``     a ``modified-message`` of it (Provenance revision → the previous message)
* ``POST /hco/{id}/retract``    a ``retract-message`` with the reason in DiagnosticReport.conclusion
* ``POST /hco/{id}/resend``     resend after the acknowledgement timeout (at most twice)
* ``POST /hco/{id}/share``      provide the DDS copy again (DDS was unreachable or refused it)
* ``GET  /hco/{id}/dds-envelope`` the DDS copy as EHMI sends it: an SBDH with scope XDS_METADATA
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from nsp_sandbox import openapi_description as oa
from services.eoj_sender.order import Modification, Order, Retraction
from services.eoj_sender.outbox import Outbox
from services.eoj_sender.routes.bodies import read_model


def _brief(status: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in status.items() if k != "bundle"}


def router(outbox: Outbox) -> APIRouter:
    hco = APIRouter()

    @hco.post("/hco", status_code=201, responses=oa.errors(404, 409, 413, 422),
              openapi_extra=oa.json_body(oa.model_schema(Order), "What to send (docs/hco.md)"))
    async def new_message(request: Request) -> dict[str, Any]:
        return await outbox.send_order(await read_model(request, Order))

    @hco.post("/hco/resend-due")
    async def resend_due() -> list[dict[str, Any]]:
        return [_brief(m) for m in await outbox.resend_due()]

    @hco.get("/hco/{header_id}", responses=oa.errors(404))
    def message_status(header_id: str) -> dict[str, Any]:
        return outbox.status(header_id)

    @hco.post("/hco/{header_id}/modify", status_code=201, responses=oa.errors(404, 409, 413, 422),
              openapi_extra=oa.json_body(oa.model_schema(Modification), "What changes"))
    async def modify(header_id: str, request: Request) -> dict[str, Any]:
        return await outbox.modify(header_id, await read_model(request, Modification))

    @hco.post("/hco/{header_id}/retract", status_code=201, responses=oa.errors(404, 409, 413, 422),
              openapi_extra=oa.json_body(oa.model_schema(Retraction), "Why it is retracted"))
    async def retract(header_id: str, request: Request) -> dict[str, Any]:
        return await outbox.retract(header_id, await read_model(request, Retraction))

    @hco.post("/hco/{header_id}/resend", responses=oa.errors(404, 409))
    async def resend(header_id: str) -> dict[str, Any]:
        return await outbox.resend(header_id)

    @hco.get("/hco/{header_id}/dds-envelope", response_class=Response, responses={
        **oa.answer("The DDS copy's envelope", {"application/xml": {"type": "string"}}), **oa.errors(404)})
    def dds_envelope(header_id: str) -> Response:
        return Response(outbox.dds_envelope(header_id), media_type="application/xml")

    @hco.post("/hco/{header_id}/share", responses=oa.errors(404, 409, 502))
    async def share(header_id: str) -> dict[str, Any]:
        return _brief(await outbox.share_again(header_id))

    return hco
