"""``GET /patients/{cpr}/events``: the hub's event log for a patient, the calling clinic's entries only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from services.plsp_hub.events import EventLog
from services.plsp_hub.interface import EventOut
from services.plsp_hub.routes.common import ERRORS, LPS_TAG, ClinicOf


def router(log: EventLog, clinic_of: ClinicOf) -> APIRouter:
    api = APIRouter()

    @api.get("/patients/{cpr}/events", response_model=list[EventOut], tags=LPS_TAG, responses=ERRORS,
             summary="The hub's event log for a patient (the calling clinic's entries)")
    async def events(cpr: str, request: Request, kind: str | None = Query(default=None)) -> list[dict[str, Any]]:
        clinic = await clinic_of(request)
        return await run_in_threadpool(log.entries, cpr, clinic.sor, kind)

    return api
