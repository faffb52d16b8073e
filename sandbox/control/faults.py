"""The fault switches over HTTP (``nsp_sandbox.faults``; docs/control.md):

* ``GET /sandbox/faults``                     every switch: actor, name, description, options, state
* ``PUT /sandbox/faults/{actor}/{name}``      ``{"on": true, "calls": n | "until": "<instant>", …options}``
                                              or ``{"on": false}``
* ``DELETE /sandbox/faults``                  every switch off (the GP inbox's ``PUT /lps/switches``
                                              settings back to normal too)

The GP inbox's own switches (``PUT /lps/switches``, kept as they are) are shown in the same list:
the state of ``lps`` switches says ``"set_by": "PUT /lps/switches"`` when that is what turned them on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from nsp_sandbox import openapi_description as oa
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.faults import FaultSwitches
from nsp_sandbox.fhir_http import read_json_object
from nsp_sandbox.outcome import FhirError
from sandbox.control.actor_calls import call

LPS_NORMAL = {"mode": "normal", "withhold": False, "twice": False, "delay_minutes": 0}


def lps_settings_shown(switch: dict[str, Any], lps: dict[str, Any] | None) -> dict[str, Any]:
    """``switch`` (an ``lps`` entry) with what ``PUT /lps/switches`` set added to its state."""
    if lps is None or switch["actor"] != "lps":
        return switch
    name = switch["name"]
    on = ((name.startswith("mode-") and lps.get("mode") == name[5:]) or (name in ("withhold", "twice")
          and lps.get(name) is True) or (name == "delay" and (lps.get("delay_minutes") or 0) > 0))
    if not on:
        return switch
    state = {**switch["state"], "on": True, "set_by": "PUT /lps/switches"}
    if name == "delay":
        state["minutes"] = lps["delay_minutes"]
    return {**switch, "state": state}


def router(context: SandboxContext, operator: Callable[[Request], None]) -> APIRouter:
    api = APIRouter(prefix="/faults", tags=["faults"], dependencies=[Depends(operator)])
    switches = FaultSwitches.of(context.database, context.clock)

    async def lps_switches() -> dict[str, Any] | None:
        try:
            answer = await call(context, "lps", "GET", "/switches")
        except FhirError:
            return None  # no GP inbox in this sandbox (or it is away): its own switches are not shown
        return answer.json() if answer.status_code == 200 else None

    @api.get("")
    async def list_switches() -> list[dict[str, Any]]:
        lps = await lps_switches()
        return [lps_settings_shown(s, lps) for s in await run_in_threadpool(switches.all)]

    @api.put("/{actor}/{name}", responses=oa.errors(404, 413, 422), openapi_extra=oa.json_body({
        "type": "object", "properties": {"on": {"type": "boolean"}, "calls": {"type": "integer", "minimum": 1},
                                         "until": {"type": "string", "format": "date-time"}}},
        "On (for n calls, or until an instant) or off; some switches take options of their own"))
    async def set_switch(actor: str, name: str, request: Request) -> dict[str, Any]:
        body = await read_json_object(request, 64 * 1024)
        return await run_in_threadpool(switches.set, actor, name, body)

    @api.delete("")
    async def all_off() -> list[dict[str, Any]]:
        await run_in_threadpool(switches.clear)
        if await lps_switches() is not None:
            await call(context, "lps", "PUT", "/switches", body=LPS_NORMAL)
        return await list_switches()

    return api
