"""The sandbox clock over HTTP: every time-driven rule of every actor (the HCO sharing policy date,
resend after 30 minutes, note purges, Min Log retention, a child turning 15, token and ID-card
validity) reads this one clock.

* ``GET /sandbox/clock`` → ``{"now", "frozen", "offset_seconds"}``;
* ``PUT /sandbox/clock`` ``{"now": "<instant with zone>", "frozen": false}``: travel there (time runs
  on from it) or, with ``"frozen": true``, stop there; ``"now"`` may be left out to freeze or thaw the
  present sandbox time;
* ``DELETE /sandbox/clock``: back to real time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request

from nsp_sandbox import openapi_description as oa
from nsp_sandbox.clock import Clock
from nsp_sandbox.fhir_http import read_json_object
from nsp_sandbox.outcome import FhirError, Issue

SOURCE = "nsp-sandbox control face: the clock"
FIELDS = {"now", "frozen"}


def clock_state(clock: Clock) -> dict[str, Any]:
    setting = clock.setting
    now = clock.now()
    return {"now": now.astimezone(UTC).isoformat().replace("+00:00", "Z"), "frozen": setting.frozen is not None,
            "offset_seconds": round((now - datetime.now(UTC)).total_seconds(), 3)}


def _refused(text: str, where: str | None, rule: str) -> FhirError:
    return FhirError(422, Issue("error", "invalid", text, expression=where, rule=rule, source=SOURCE))


def _instant(value: Any) -> datetime:
    if not isinstance(value, str):
        raise _refused("'now' is an instant with a time zone, e.g. 2026-01-15T00:30:00+01:00", "now",
                       "sandbox-clock-instant")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _refused(f"'now' is not an instant: {value[:60]}", "now", "sandbox-clock-instant") from None
    if moment.tzinfo is None:
        raise _refused(f"'now' needs a time zone: {value[:60]}", "now", "sandbox-clock-instant")
    return moment


def router(clock: Clock, operator: Callable[[Request], None]) -> APIRouter:
    api = APIRouter(prefix="/clock", tags=["clock"], dependencies=[Depends(operator)])

    @api.get("")
    def show() -> dict[str, Any]:
        return clock_state(clock)

    @api.put("", responses=oa.errors(413, 422), openapi_extra=oa.json_body({
        "type": "object",
        "properties": {"now": {"type": "string", "format": "date-time"}, "frozen": {"type": "boolean"}},
        "additionalProperties": False}, "Travel to an instant (now), or freeze the clock there (frozen)"))
    async def set_clock(request: Request) -> dict[str, Any]:
        body = await read_json_object(request, 64 * 1024)
        unknown = sorted(set(body) - FIELDS)
        if unknown:
            raise _refused(f"Unknown field(s) {', '.join(unknown)}; the clock takes 'now' and 'frozen'",
                           unknown[0], "sandbox-unknown-field")
        frozen = body.get("frozen", False)
        if not isinstance(frozen, bool):
            raise _refused("'frozen' is true or false", "frozen", "sandbox-clock-frozen")
        moment = _instant(body["now"]) if "now" in body else clock.now()
        if frozen:
            clock.freeze(moment)
        else:
            clock.travel_to(moment)
        return clock_state(clock)

    @api.delete("")
    def real_time() -> dict[str, Any]:
        clock.reset()
        return clock_state(clock)

    return api
