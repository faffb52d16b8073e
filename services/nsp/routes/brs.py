"""BRS, the treatment relation service:

* ``POST /brs/relations``   a health-care system with the right ``brs-register`` registers a relation
                            for a professional of its own organisation; anyone else: 403
* ``GET  /brs/relations``   relations by ``authorisation`` and/or ``cpr`` (a professional sees their own)
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from nsp_sandbox import openapi_description as oa
from nsp_sandbox.fhir_http import read_json_object
from nsp_sandbox.outcome import FhirError, Issue
from services.nsp.bodies import RelationBody, parse
from services.nsp.brs import REGISTER, SOURCE
from services.nsp.routes.platform import MAX_BODY, Platform


def router(nsp: Platform) -> APIRouter:
    faces = APIRouter(responses=oa.errors(401, 403))
    relations, clock = nsp.relations, nsp.clock

    @faces.post("/brs/relations", status_code=201, responses=oa.errors(404, 413, 422),
                openapi_extra=oa.json_body(oa.model_schema(RelationBody), "The treatment relation"))
    async def add_relation(request: Request) -> dict[str, Any]:
        who = nsp.caller(request)
        system = nsp.world.systems.get(who.persona) if who.is_system else None
        if system is None or REGISTER not in system.rights or not system.organisation:
            raise FhirError(403, Issue("error", "forbidden", "Treatment relations are registered by the health-care "
                                       "systems that know of them (an admission, a municipality's care, a GP's list: "
                                       f"a system with the right '{REGISTER}') or by the sandbox operator "
                                       "(POST /sandbox/nsp/brs/relations); not with the token of "
                                       f"{who.kind} {who.persona}", rule=REGISTER, source=SOURCE))
        body = parse(RelationBody, await read_json_object(request, MAX_BODY))
        return await run_in_threadpool(relations.add, body, who.persona, clock.now(), within=system.organisation)

    @faces.get("/brs/relations")
    async def find_relations(request: Request, authorisation: str | None = None,
                             cpr: str | None = None) -> list[dict[str, Any]]:
        who = nsp.caller(request)
        if not who.is_system:
            if not who.is_professional:
                raise FhirError(403, Issue("error", "forbidden", "BRS answers systems and professionals",
                                           rule="brs-lookup"))
            authorisation = who.authorisation
        # DDS asks at every look-up: one trip to a worker thread for the database, where a plain `def`
        # endpoint takes two (the call, then the check of its answer).
        return await run_in_threadpool(relations.find, authorisation, cpr, clock.now())

    return faces
