"""Min Spærring (consent items):

* ``POST /consent/blocks``               a citizen (or someone acting for them) adds an item, negative or
                                         positive; a health professional with a treatment relation adds a
                                         negative one on the citizen's behalf (``"cpr"`` in the body)
* ``GET  /consent/blocks[?cpr=]``        the items of the caller's citizen; a system names the citizen
* ``POST /consent/blocks/{id}/revoke``   the citizen revokes one
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from nsp_sandbox import openapi_description as oa
from nsp_sandbox.fhir_http import read_json_object
from nsp_sandbox.outcome import FhirError, Issue
from nsp_sandbox.tokens import Principal
from services.nsp.bodies import BlockBody, NoBody, parse
from services.nsp.consent import SOURCE, Consent, Creator
from services.nsp.routes.platform import MAX_BODY, Platform, represented


def _for_professional(nsp: Platform, who: Principal, body: BlockBody) -> tuple[str, Creator]:
    """A professional registers for a citizen they have a treatment relation with (403 otherwise)."""
    if not who.authorisation:
        raise FhirError(403, Issue("error", "forbidden", "Only an authorised health professional registers a block "
                                   "on a citizen's behalf", rule="consent-block-creator", source=SOURCE))
    if body.cpr is None:
        raise FhirError(400, Issue("error", "required", "Name the citizen: 'cpr'", expression="cpr",
                                   rule="consent-block-creator", source=SOURCE))
    if not nsp.relations.find(who.authorisation, body.cpr, nsp.clock.now()):
        raise FhirError(403, Issue("error", "forbidden", f"No treatment relation between {who.name} and the citizen "
                                   f"with CPR {body.cpr}: no block on their behalf", expression="cpr",
                                   rule="consent-block-creator", source=SOURCE))
    return body.cpr, Creator(who.persona, who.system_name, professional=True, cpr=who.acting_cpr)


def router(nsp: Platform, consent: Consent) -> APIRouter:
    faces = APIRouter(responses=oa.errors(401, 403))
    clock = nsp.clock

    @faces.post("/consent/blocks", status_code=201, responses=oa.errors(404, 413, 422),
                openapi_extra=oa.json_body(oa.model_schema(BlockBody), "The block (Min Spærring)"))
    async def add_block(request: Request) -> dict[str, Any]:
        who = nsp.caller(request)
        body = parse(BlockBody, await read_json_object(request, MAX_BODY))
        return await run_in_threadpool(_add_block, who, body)

    def _add_block(who: Principal, body: BlockBody) -> dict[str, Any]:  # the database work, on a worker thread
        if who.is_professional:
            cpr, creator = _for_professional(nsp, who, body)
        else:
            cpr = represented(who, body.cpr)
            creator = Creator(who.persona, who.system_name, professional=False, cpr=who.acting_cpr)
        return consent.add(cpr, body, creator, clock.now())

    @faces.get("/consent/blocks")
    async def list_blocks(request: Request, cpr: str | None = None) -> list[dict[str, Any]]:
        who = nsp.caller(request)
        if who.is_system:
            if cpr is None:
                raise FhirError(400, Issue("error", "required", "A system names the citizen: ?cpr=",
                                           expression="cpr", rule="consent-lookup"))
            citizen = cpr
        else:
            citizen = represented(who, cpr)
        # DDS asks at every look-up: one trip to a worker thread for the database, where a plain `def`
        # endpoint takes two (the call, then the check of its answer).
        return await run_in_threadpool(consent.blocks, citizen, clock.now())

    @faces.post("/consent/blocks/{block_id}/revoke", responses=oa.errors(404, 409, 413, 422),
                openapi_extra=oa.body({"application/json": oa.model_schema(NoBody)}, required=False))
    async def revoke_block(block_id: str, request: Request) -> dict[str, Any]:
        who = nsp.caller(request)
        parse(NoBody, await read_json_object(request, MAX_BODY))
        represented(who, None)
        return await run_in_threadpool(consent.revoke, block_id, who.citizens_represented(), who.persona,
                                       clock.now())

    return faces
