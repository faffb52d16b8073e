"""``GET /ondemand/{key}``: DDS retrieves an on-demand document (ITI-68 behind DDS; DDS's token only)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from services.plsp_hub.access import Callers
from services.plsp_hub.retrieval import Retrieval
from services.plsp_hub.routes.common import OUTCOME


def router(retrieval: Retrieval, callers: Callers) -> APIRouter:
    api = APIRouter()

    @api.get("/ondemand/{key}", tags=["On-demand source (DDS)"], responses={
        200: {"description": "the freshly generated document Bundle", "content": {"application/fhir+json": {}}},
        401: OUTCOME, 403: OUTCOME, 404: OUTCOME, 410: OUTCOME},
        summary="DDS retrieves an on-demand document (ITI-68 behind DDS)")
    async def ondemand(key: str, request: Request) -> Response:
        await callers.platform(request)
        content = await run_in_threadpool(retrieval.serve, key)
        return Response(content, media_type="application/fhir+json", headers={"Cache-Control": "no-store"})

    return api
