"""Min Spærring (consent blocks):

* ``POST /consent/blocks``               a citizen (or someone acting for them) adds a block
* ``GET  /consent/blocks[?cpr=]``        the blocks of the caller's citizen; a system names the citizen
* ``POST /consent/blocks/{id}/revoke``   the citizen revokes one
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from nsp_sandbox.fhir_http import read_json_object
from nsp_sandbox.outcome import FhirError, Issue
from services.nsp.consent import Consent
from services.nsp.routes.platform import MAX_BODY, Platform, represented


def router(nsp: Platform, consent: Consent) -> APIRouter:
    faces = APIRouter()
    clock = nsp.clock

    @faces.post("/consent/blocks", status_code=201)
    async def add_block(request: Request) -> dict[str, Any]:
        who = nsp.caller(request)
        body = await read_json_object(request, MAX_BODY)
        return consent.add(represented(who, body.get("cpr")), body, who.persona, clock.now())

    @faces.get("/consent/blocks")
    def list_blocks(request: Request, cpr: str | None = None) -> list[dict[str, Any]]:
        who = nsp.caller(request)
        if who.is_system:
            if cpr is None:
                raise FhirError(400, Issue("error", "required", "A system names the citizen: ?cpr=",
                                           expression="cpr", rule="consent-lookup"))
            return consent.blocks([cpr], clock.now())
        return consent.blocks([represented(who, cpr)], clock.now())

    @faces.post("/consent/blocks/{block_id}/revoke")
    def revoke_block(block_id: str, request: Request) -> dict[str, Any]:
        who = nsp.caller(request)
        represented(who, None)
        return consent.revoke(block_id, who.citizens_represented(), who.persona, clock.now())

    return faces
