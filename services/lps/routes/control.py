"""How the GP system behaves, and whom it answers:

* ``GET|PUT /switches``       behaviour: mode normal/ok/fatal/transient, withhold, twice, delay_minutes
* ``POST /outbox/deliver``    refuse held corrections whose original did not come in time, and send
                              the delayed acknowledgements that are due (sandbox clock)
* ``GET  /practices``         the GP practices this system receives for
* ``PUT  /return-addresses``  ``{"sor", "url"}``: where acks for a SOR-addressed sender go
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from nsp_sandbox import openapi_description as oa
from nsp_sandbox.database import Database
from nsp_sandbox.digits import all_digits
from nsp_sandbox.fhir_http import read_json_object
from nsp_sandbox.outcome import FhirError, Issue
from services.lps.inbox import Inbox
from services.lps.models import SettingRow
from services.lps.switches import Switches

MAX_SETTING = 16 * 1024


def save_return_address(database: Database, body: dict[str, Any]) -> dict[str, Any]:
    """Store where acknowledgements for the sender with SOR code ``body["sor"]`` go (``body["url"]``);
    422 (rule ``lps-return-address``) unless the SOR code is digits and the URL http(s)."""
    sor, url = body.get("sor"), body.get("url")
    if not (isinstance(sor, str) and all_digits(sor) and isinstance(url, str)
            and url.startswith(("http://", "https://"))):
        raise FhirError(422, Issue("error", "value", "Send {\"sor\": \"<SOR code>\", \"url\": \"http(s)://…\"}",
                                   rule="lps-return-address"))
    with database.writing("lps-setting", f"return-address:{sor}") as s:  # set at once by two: one row
        row = s.get(SettingRow, f"return-address:{sor}")
        if row is None:
            s.add(SettingRow(key=f"return-address:{sor}", value={"url": url}))
        else:
            row.value = {"url": url}
    return {"sor": sor, "url": url}


def router(database: Database, switches: Switches, inbox: Inbox) -> APIRouter:
    faces = APIRouter()

    @faces.get("/switches")
    def get_switches() -> dict[str, Any]:
        return switches.get()

    @faces.put("/switches", responses=oa.errors(413, 422), openapi_extra=oa.json_body(
        {"type": "object"}, "The switches to set (GET /lps/switches names them)"))
    async def put_switches(request: Request) -> dict[str, Any]:
        return switches.set(await read_json_object(request, MAX_SETTING))

    @faces.post("/outbox/deliver")
    async def deliver() -> dict[str, Any]:
        released = await inbox.release_expired()
        return {"released": released, "delivered": await inbox.delivery.deliver_due()}

    @faces.get("/practices")
    def practices() -> list[dict[str, str]]:
        return inbox.practices()

    @faces.put("/return-addresses", responses=oa.errors(413, 422), openapi_extra=oa.json_body(
        {"type": "object"}, "A practice's return address"))
    async def return_address(request: Request) -> dict[str, Any]:
        return save_return_address(database, await read_json_object(request, MAX_SETTING))

    return faces
