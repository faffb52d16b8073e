"""NSP's operator faces, for the sandbox's control face (operator only, as every
operator endpoint; docs/control.md):

* ``POST /sandbox/world``  load a vendor's world file (``services.nsp.world_file``): its citizens,
                           relatives, organisations, professionals, systems and treatment relations
                           join the world (personas, STS, registers, BRS); its blocks are registered
                           in Min Spærring, once: a file loaded again adds no second copy of a block
* ``POST /sandbox/reset``  empty NSP's data (blocks, added relations, Min Log, loaded world files);
                           the signing keys stay, so tokens already issued stay verifiable
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from nsp_sandbox import openapi_description
from nsp_sandbox.actor_reset import operator_only, reset_router
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.fhir_http import read_json_object
from services.nsp.consent import Consent, Creator
from services.nsp.models import NspBase
from services.nsp.world_additions import LiveWorld
from services.nsp.world_file import block_body, read_world_file

LOADED_BY = "sandbox world file"


def router(context: SandboxContext, live: LiveWorld, consent: Consent) -> APIRouter:
    api = APIRouter(tags=["Sandbox"], dependencies=[Depends(operator_only(context.settings, "NSP's operator face"))],
                    responses=openapi_description.operator_errors())

    @api.post("/sandbox/world", summary="Load a world file (operator only; POST /sandbox/world)")
    async def load_world(request: Request) -> dict[str, Any]:
        body = await read_json_object(request, context.settings.max_body_bytes)
        live.refresh(force=True)
        sections = read_world_file(body, live.world)
        now = context.clock.now()
        await run_in_threadpool(live.add, sections, now)
        loader = Creator(persona=LOADED_BY, system=None, professional=False)
        blocks = await run_in_threadpool(lambda: [consent.add_once(b["cpr"], block_body(b), loader, now)
                                                  for b in sections["blocks"]])
        personas = ([f"citizen-{c['cpr']}" for c in sections["citizens"]]
                    + [f"relative-{r['cpr']}" for r in sections["relatives"]]
                    + [p["id"] for p in sections["professionals"]] + [s["id"] for s in sections["systems"]])
        return {"loaded": {name: len(entries) for name, entries in sections.items()},
                "personas": sorted(set(personas)), "blocks": [b["id"] for b in blocks]}

    api.include_router(reset_router("nsp", context.database, [NspBase.metadata], context.settings,
                                    keep=("nsp_signing_key",),
                                    after=lambda: live.refresh(force=True)))
    return api
