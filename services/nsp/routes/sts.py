"""The STS and who can use it:

* ``GET  /personas``    everyone who can get a token (citizens, relatives, professionals, systems)
* ``POST /sts/token``   a signed token for ``{"persona": id}`` (optionally ``"audience"``)
* ``GET  /sts/jwks``    the public keys tokens are verified with
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from nsp_sandbox import faults
from nsp_sandbox import openapi_description as oa
from nsp_sandbox.fhir_http import read_json_object
from nsp_sandbox.outcome import FhirError, Issue
from services.nsp import sts
from services.nsp.bodies import TokenBody, parse
from services.nsp.routes.platform import MAX_BODY, Platform


def router(nsp: Platform) -> APIRouter:
    faces = APIRouter()

    @faces.get("/personas")
    def list_personas(kind: str | None = None) -> list[dict[str, Any]]:
        return [p.to_json(nsp.world) for p in nsp.personas() if kind in (None, p.kind)]

    @faces.post("/sts/token", response_class=JSONResponse, responses=oa.errors(403, 404, 413, 422),
                openapi_extra=oa.json_body(oa.model_schema(TokenBody), "Whose token, for which actors"))
    async def token(request: Request) -> JSONResponse:
        raw = await read_json_object(request, MAX_BODY)
        if not isinstance(raw.get("persona"), str):
            raise FhirError(400, Issue("error", "required", "Send {\"persona\": \"<id>\"}", expression="persona",
                                       rule="sts-persona", source=sts.SOURCE))
        body = parse(TokenBody, raw)
        now = nsp.clock.now()
        if (expired := faults.current("nsp", "sts-expired-token")) is not None:  # a token issued long ago
            now -= timedelta(minutes=expired["minutes"])
        # Who may have a token reads the treatment relations professionals registered, and the token is signed:
        # on a worker thread, so that the event loop goes on with other requests meanwhile.
        answer = await run_in_threadpool(_issue, nsp, body, now)
        return JSONResponse(answer, headers={"Cache-Control": "no-store"})

    @faces.get("/sts/jwks")
    def jwks() -> dict[str, Any]:
        return nsp.key.jwks()

    return faces


def _issue(nsp: Platform, body: TokenBody, now: datetime) -> dict[str, Any]:
    found = next((p for p in nsp.personas() if p.id == body.persona), None)
    return sts.issue(nsp.key, nsp.world, found, body.persona, body.audience, now, nsp.pseudonymised_cvrs)
