"""Min Log:

* ``GET  /minlog[?cpr=]``     the log of a citizen (or of someone they act for)
* ``POST /minlog/entries``    the write face, for systems (DDS logs look-ups here)
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from nsp_sandbox import openapi_description as oa
from nsp_sandbox.fhir_http import read_json_object
from nsp_sandbox.outcome import FhirError, Issue
from services.nsp.bodies import MinLogBody, parse
from services.nsp.minlog import MinLog
from services.nsp.routes.platform import MAX_BODY, Platform, represented


def router(nsp: Platform, minlog: MinLog) -> APIRouter:
    faces = APIRouter(responses=oa.errors(401, 403))
    clock = nsp.clock

    @faces.get("/minlog")
    def read_minlog(request: Request, cpr: str | None = None) -> list[dict[str, Any]]:
        who = nsp.caller(request)
        return minlog.entries([represented(who, cpr)], clock.now(), who.pseudonymised_cvrs)

    @faces.post("/minlog/entries", status_code=201, responses=oa.errors(413, 422),
                openapi_extra=oa.json_body(oa.model_schema(MinLogBody), "The Min Log entry"))
    async def write_minlog(request: Request) -> dict[str, Any]:
        who = nsp.caller(request)
        if not who.is_system:
            raise FhirError(403, Issue("error", "forbidden", "Only systems write to Min Log",
                                       rule="minlog-writer"))
        body = parse(MinLogBody, await read_json_object(request, MAX_BODY))
        # DDS writes here at every look-up it answers: the insert (and commit) on a worker thread, so that
        # the event loop goes on with other requests meanwhile.
        return await run_in_threadpool(minlog.write, body, who.system_name or who.name, clock.now())

    return faces
