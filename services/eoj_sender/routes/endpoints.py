"""``GET|PUT /endpoints``: the endpoint register (EER-like) — where messages to a SOR/GLN are sent."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from nsp_sandbox import openapi_description as oa
from nsp_sandbox.fhir_http import read_json_object
from services.eoj_sender.endpoint_register import EndpointRegister
from services.eoj_sender.routes.bodies import MAX_ORDER


def router(register: EndpointRegister) -> APIRouter:
    faces = APIRouter()

    @faces.get("/endpoints")
    def endpoints() -> list[dict[str, Any]]:
        return register.all()

    @faces.put("/endpoints", responses=oa.errors(413, 422), openapi_extra=oa.json_body(
        {"type": "object"}, "An endpoint register entry: sor, gln, name, ydernummer, url, message_types"))
    async def put_endpoint(request: Request) -> dict[str, Any]:
        body = await read_json_object(request, MAX_ORDER)
        return await run_in_threadpool(register.put, body)

    return faces
