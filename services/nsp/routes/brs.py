"""BRS, the treatment relation service:

* ``POST /brs/relations``   a health-care system registers a relation, or a professional their own
* ``GET  /brs/relations``   relations by ``authorisation`` and/or ``cpr`` (a professional sees their own)
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from nsp_sandbox.fhir_http import read_json_object
from nsp_sandbox.outcome import FhirError, Issue
from services.nsp.routes.platform import MAX_BODY, Platform


def router(nsp: Platform) -> APIRouter:
    faces = APIRouter()
    relations, clock = nsp.relations, nsp.clock

    @faces.post("/brs/relations", status_code=201)
    async def add_relation(request: Request) -> dict[str, Any]:
        who = nsp.caller(request)
        body = await read_json_object(request, MAX_BODY)
        if not who.is_system:
            if not who.is_professional:
                raise FhirError(403, Issue("error", "forbidden", "Treatment relations are registered by "
                                           "health-care systems or the professional", rule="brs-register"))
            body = {**body, "authorisation": who.authorisation, "professional": None}
        return relations.add(body, who.persona, clock.now())

    @faces.get("/brs/relations")
    def find_relations(request: Request, authorisation: str | None = None,
                       cpr: str | None = None) -> list[dict[str, Any]]:
        who = nsp.caller(request)
        if not who.is_system:
            if not who.is_professional:
                raise FhirError(403, Issue("error", "forbidden", "BRS answers systems and professionals",
                                           rule="brs-lookup"))
            authorisation = who.authorisation
        return relations.find(authorisation, cpr, clock.now())

    return faces
