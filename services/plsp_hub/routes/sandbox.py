"""The sandbox's own faces (no token): the index, ``POST /due`` (the timed work on the sandbox clock)
and ``GET|PUT /settings`` (``notes_after_midnight``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from nsp_sandbox.outcome import FhirError, Issue
from services.plsp_hub.hub_settings import HubSettings
from services.plsp_hub.purge import Purge

FACES = ["/patients/{cpr}/conditionlist", "/patients/{cpr}/notes", "/notes/{key}", "/notes/{key}/do-not-share",
         "/notes/{key}/share", "/notes/{key}/cancel", "/documents", "/patients/{cpr}/events", "/ondemand/{key}",
         "/due", "/settings"]


def index_router() -> APIRouter:
    api = APIRouter()

    @api.get("/", include_in_schema=False)
    def index() -> dict[str, Any]:
        return {"actor": "PLSP Health Hub", "docs": "/plsp/docs", "faces": FACES}

    return api


def router(purge: Purge, settings: HubSettings) -> APIRouter:
    api = APIRouter()

    @api.post("/due", tags=["Sandbox"], summary="Run the timed work due on the sandbox clock")
    async def due() -> dict[str, Any]:
        """Purges cancelled notes whose time has come, registers after-midnight notes, retries DDS."""
        return await purge.run_due()

    @api.get("/settings", tags=["Sandbox"], summary="The hub's settings")
    def get_settings() -> dict[str, Any]:
        return settings.current()

    @api.put("/settings", tags=["Sandbox"], summary="Change notes_after_midnight")
    async def put_settings(body: dict[str, Any] = Body(..., examples=[{"notes_after_midnight": True}])) \
            -> dict[str, Any]:
        value = body.get("notes_after_midnight")
        if set(body) != {"notes_after_midnight"} or not isinstance(value, bool):
            raise FhirError(422, Issue("error", "value", "Send {\"notes_after_midnight\": true|false}",
                                       expression="notes_after_midnight", rule="plsp-setting"))
        return settings.set_after_midnight(value)

    return api
