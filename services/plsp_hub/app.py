"""PLSP Health Hub, mounted at ``/plsp``: GP systems hand it their diagnosis cards and journal notes;
it applies the source rules and shares them through DDS as on-demand documents, generated when DDS
retrieves them. The LPS → PLSP interface is the sandbox's own (MedCom publishes none); see
``docs/plsp.md`` and ``/plsp/docs``.

* ``PUT  /patients/{cpr}/conditionlist``   the clinic's whole current diagnosis card (``GET``: its status)
* ``POST /patients/{cpr}/notes``           a new note; ``PUT /notes/{key}`` a new version of it
* ``POST /notes/{key}/do-not-share`` | ``/share`` | ``/cancel``; ``GET /notes/{key}``
* ``POST /documents``                      a ready-made ConditionList or Notes document Bundle
* ``GET  /patients/{cpr}/events``          the event log (the calling clinic's entries only)
* ``GET  /ondemand/{key}``                 DDS's retrieve URL of an on-demand entry (DDS's token only)
* ``POST /due``                            timed work on the sandbox clock: purge, DDS retries, after-midnight notes
* ``GET|PUT /settings``                    ``notes_after_midnight``

The clinic is the organisation of the caller's token (a ``gp-system`` persona, audience ``plsp``).
Errors are FHIR OperationOutcomes naming the element and the rule.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from nsp_sandbox import openapi_description
from nsp_sandbox.actor_reset import reset_router
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.fastapi_telemetry import telemetry_options
from nsp_sandbox.fhir_http import install_error_handlers, outcome_response
from nsp_sandbox.outcome import Issue
from services.plsp_hub import statistics
from services.plsp_hub.access import Callers
from services.plsp_hub.hub import Hub
from services.plsp_hub.models import PlspBase, upgrade
from services.plsp_hub.nsp import HubNsp
from services.plsp_hub.purge import Purge
from services.plsp_hub.routes import cards, documents, events, notes, ondemand, sandbox
from services.plsp_hub.routes.common import ClinicOf

UNSECURED = ("/due", "/settings", "/statistics")  # the sandbox faces need no token


def create_app(context: SandboxContext) -> FastAPI:
    context.database.create_tables(PlspBase.metadata, upgrade=upgrade)
    nsp = HubNsp(context.peers, context.clock, context.settings.plsp_persona)
    callers = Callers(nsp)
    hub = Hub(context, nsp)
    clinic_of = ClinicOf(callers, nsp)

    app = FastAPI(title="PLSP Health Hub — LPS interface and on-demand document source", docs_url="/docs",
                  openapi_url="/openapi.json", description=__doc__, **telemetry_options())
    install_error_handlers(app)
    _install_interface_errors(app)
    _purge_first(app, hub.purge)
    app.include_router(sandbox.index_router())
    app.include_router(cards.router(hub.cards, nsp, clinic_of))
    app.include_router(notes.router(hub.notes, nsp, clinic_of))
    app.include_router(documents.router(hub.ready_made, clinic_of, context.settings.max_body_bytes))
    app.include_router(events.router(hub.events, clinic_of))
    app.include_router(ondemand.router(hub.retrieval, callers))
    app.include_router(sandbox.router(hub.purge, hub.settings))
    app.include_router(statistics.router(context))
    app.include_router(reset_router("plsp", context.database, [PlspBase.metadata], context.settings))
    _document_security(app)
    return app


def _path(loc: tuple[Any, ...]) -> str | None:
    out = ""
    for part in loc[1:] if loc and loc[0] == "body" else loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or None


def _install_interface_errors(app: FastAPI) -> None:
    """Invalid bodies as OperationOutcomes naming the element (``plsp-interface``; 400 for bad JSON), and a
    change that lost a race with another as 409 (``plsp-concurrent-change``)."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return outcome_response(400, [Issue("error", "structure", "The body is not valid JSON",
                                                rule="json-syntax")])
        return outcome_response(422, [Issue("error", "invalid", str(e.get("msg")), expression=_path(tuple(e["loc"])),
                                            rule="plsp-interface") for e in errors])

    @app.exception_handler(IntegrityError)
    async def _conflict(_request: Request, _exc: IntegrityError) -> Response:
        return outcome_response(409, [Issue("error", "conflict", "Another request changed the same card or note at "
                                            "the same moment; send it again", rule="plsp-concurrent-change")])


def _purge_first(app: FastAPI, purge: Purge) -> None:
    @app.middleware("http")
    async def purge_first(request: Request, call_next: Any) -> Response:
        """Timed work that only touches the hub's tables runs before every request (sandbox clock)."""
        await run_in_threadpool(purge.run)
        return await call_next(request)  # type: ignore[no-any-return]


def _document_security(app: FastAPI) -> None:
    """The OpenAPI document names the bearer token every face needs (except the sandbox faces); an invalid
    body answers 422 here (``_install_interface_errors``)."""

    def security(schema: dict[str, Any]) -> None:
        schema.setdefault("components", {})["securitySchemes"] = {"sts": {
            "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
            "description": "A token from NSP's STS: POST /nsp/sts/token {\"persona\": \"system-lps-skodstrup\", "
                           "\"audience\": \"plsp\"} (a GP system); DDS uses system-dds"}}
        for path, operations in schema["paths"].items():
            if path not in UNSECURED:
                for operation in operations.values():
                    operation["security"] = [{"sts": []}]

    openapi_description.install(app, validation_status=422, refine=security)
