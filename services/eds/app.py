"""EDS — EHMI Delivery Status, mounted at ``/eds``: the FHIR server every station of the EHMI messaging
flow reports to, and where senders, receivers and patients follow a message (track and trace).

* ``POST /fhir/AuditEvent``   a station's delivery-status report (201; the same report again: 200, the
                              one kept)
* ``GET  /fhir/AuditEvent?entity=<MessageHeader.id>|patient=<CPR>|agent=<SOR or GLN>[&date=…]``
                              a FHIR searchset, oldest first; ``date`` with the prefixes ``eq``, ``ge``,
                              ``gt``, ``le``, ``lt`` (a date alone is that day in Danish time), repeatable
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from fastapi import FastAPI, Query, Request
from starlette.concurrency import run_in_threadpool

from nsp_sandbox import openapi_description as oa
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.fastapi_telemetry import telemetry_options
from nsp_sandbox.fhir_http import FhirJSONResponse, install_error_handlers, read_fhir_json
from nsp_sandbox.hco_policy import DANISH_TIME
from nsp_sandbox.outcome import FhirError, Issue
from services.eds.checks import checked
from services.eds.models import EdsBase
from services.eds.store import Store

PREFIXES = ("eq", "ge", "gt", "le", "lt")
MAX_REPORT = 1024 * 1024


def date_bounds(values: list[str]) -> list[tuple[str, datetime]]:
    """The ``date`` search parameters as (comparator, instant) bounds; 400 naming one that is no date."""
    out: list[tuple[str, datetime]] = []
    for value in values:
        prefix = value[:2] if value[:2] in PREFIXES else "eq"
        text = value[2:] if value[:2] in PREFIXES else value
        try:
            if len(text) == 10:
                day = datetime.fromisoformat(text).date()
                start = datetime.combine(day, time(), DANISH_TIME)
                end = datetime.combine(day + timedelta(days=1), time(), DANISH_TIME)
                out += {"eq": [("ge", start), ("lt", end)], "ge": [("ge", start)], "gt": [("ge", end)],
                        "le": [("lt", end)], "lt": [("lt", start)]}[prefix]
                continue
            instant = datetime.fromisoformat(text)
        except ValueError:
            instant = None
        if instant is None or instant.tzinfo is None:
            raise FhirError(400, Issue("error", "value", f"date '{value[:40]}' is not a date or an instant with its "
                                       "time zone, with an optional prefix eq|ge|gt|le|lt", expression="date",
                                       rule="eds-search-date"))
        out.append((prefix, instant))
    return out


def create_app(context: SandboxContext) -> FastAPI:
    """The EDS actor over ``context`` (its table created here if missing)."""
    context.database.create_tables(EdsBase.metadata)
    store = Store(context.database)
    app = FastAPI(title="EDS — EHMI Delivery Status", docs_url="/docs", openapi_url="/openapi.json",
                  **telemetry_options())
    install_error_handlers(app)

    @app.get("/")
    def index() -> dict[str, Any]:
        return {"actor": "EDS", "faces": ["/fhir/AuditEvent"]}

    @app.post("/fhir/AuditEvent", response_class=FhirJSONResponse, status_code=201, responses={
        **oa.answer("The AuditEvent, already reported", {oa.FHIR_JSON: oa.fhir_resource("AuditEvent")}),
        **oa.errors(413, 415, 422)}, openapi_extra=oa.fhir_body("AuditEvent", xml=False))
    async def report(request: Request) -> FhirJSONResponse:
        event, _ = await read_fhir_json(request, MAX_REPORT)
        # The event checked and stored on a worker thread: each HCO message is reported four or five times,
        # and the event loop goes on with other requests meanwhile.
        stored, new = await run_in_threadpool(_check_and_add, store, event, context)
        return FhirJSONResponse(stored, status_code=201 if new else 200,
                                headers={"Location": f"AuditEvent/{stored['id']}"})

    @app.get("/fhir/AuditEvent", response_class=FhirJSONResponse,
             responses=oa.answer("searchset Bundle", {oa.FHIR_JSON: oa.fhir_resource("Bundle")}))
    def search(request: Request, entity: str | None = None, patient: str | None = None, agent: str | None = None,
               date: list[str] = Query(default_factory=list)) -> FhirJSONResponse:
        unknown = sorted(set(request.query_params) - {"entity", "patient", "agent", "date", "_format"})
        if unknown:
            raise FhirError(400, Issue("error", "not-supported", f"Unknown search parameter(s): {', '.join(unknown)}",
                                       expression=unknown[0], rule="eds-search-parameter"))
        if not (entity or patient or agent):
            raise FhirError(400, Issue("error", "required", "Search by entity (MessageHeader.id), patient (CPR) or "
                                       "agent (SOR or GLN)", expression="entity", rule="eds-search-parameter"))
        found = store.search(entity=entity, patient=patient, agent=agent, after=date_bounds(date))
        base = f"{context.peers.url('eds')}/fhir/AuditEvent"
        return FhirJSONResponse({
            "resourceType": "Bundle", "type": "searchset", "total": len(found),
            "entry": [{"fullUrl": f"{base}/{r['id']}", "resource": r, "search": {"mode": "match"}} for r in found]})

    return app


def _check_and_add(store: Store, event: dict[str, Any], context: SandboxContext) -> tuple[dict[str, Any], bool]:
    return store.add(checked(event, context.validator), event)  # the engine, loaded here if not yet: off the loop
