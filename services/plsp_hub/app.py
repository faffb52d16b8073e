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

from fastapi import Body, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.fhir_http import install_error_handlers, outcome_response, read_fhir_json
from nsp_sandbox.outcome import FhirError, Issue
from services.plsp_hub.access import Callers
from services.plsp_hub.hub import Hub
from services.plsp_hub.interface import (
    CardIn,
    CardOut,
    DocumentOut,
    EventOut,
    NoteIn,
    NoteOut,
    NoteUpdate,
)
from services.plsp_hub.models import PlspBase
from services.plsp_hub.nsp import HubNsp
from services.plsp_hub.state import Clinic

OUTCOME = {"description": "OperationOutcome: the element (expression) and the rule (details.coding)",
           "content": {"application/fhir+json": {}}}
ERRORS: dict[int | str, dict[str, Any]] = {401: OUTCOME, 403: OUTCOME, 404: OUTCOME, 422: OUTCOME, 503: OUTCOME}
LPS_TAG = ["LPS → PLSP interface"]


def _path(loc: tuple[Any, ...]) -> str | None:
    out = ""
    for part in loc[1:] if loc and loc[0] == "body" else loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or None


def create_app(context: SandboxContext) -> FastAPI:
    context.database.create_tables(PlspBase.metadata)
    nsp = HubNsp(context.peers, context.clock, context.settings.plsp_persona)
    callers = Callers(nsp)
    hub = Hub(context, nsp)

    app = FastAPI(title="PLSP Health Hub — LPS interface and on-demand document source", docs_url="/docs",
                  openapi_url="/openapi.json", description=__doc__)
    install_error_handlers(app)
    _document_security(app)

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

    @app.middleware("http")
    async def purge_first(request: Request, call_next: Any) -> Response:
        """Timed work that only touches the hub's tables runs before every request (sandbox clock)."""
        await run_in_threadpool(hub.purge)
        return await call_next(request)  # type: ignore[no-any-return]

    async def clinic_of(request: Request) -> Clinic:
        who = await callers.clinic(request)
        assert who.organisation_sor is not None
        return await nsp.clinic(who.organisation_sor)

    @app.get("/", include_in_schema=False)
    def index() -> dict[str, Any]:
        return {"actor": "PLSP Health Hub", "docs": "/plsp/docs", "faces": [
            "/patients/{cpr}/conditionlist", "/patients/{cpr}/notes", "/notes/{key}", "/notes/{key}/do-not-share",
            "/notes/{key}/share", "/notes/{key}/cancel", "/documents", "/patients/{cpr}/events", "/ondemand/{key}",
            "/due", "/settings"]}

    @app.put("/patients/{cpr}/conditionlist", response_model=CardOut, tags=LPS_TAG, responses=ERRORS,
             summary="Submit the clinic's whole current diagnosis card for a patient")
    async def put_card(cpr: str, request: Request, card: CardIn = Body(...)) -> dict[str, Any]:
        """Replaces the clinic's previous card. Only approved cards are shared, only their diagnoses on the card
        and not private, never an internal note; only the patient's most recently updated card (of any clinic)
        is shared; an empty card gives no document. The answer says what is shared and why anything is not."""
        clinic = await clinic_of(request)
        patient = await nsp.patient(cpr)
        return await hub.put_card(clinic, patient, card)

    @app.get("/patients/{cpr}/conditionlist", response_model=CardOut, tags=LPS_TAG, responses=ERRORS,
             summary="The clinic's card for a patient: what is shared, and the DDS entry")
    async def get_card(cpr: str, request: Request) -> dict[str, Any]:
        clinic = await clinic_of(request)
        return await run_in_threadpool(hub.card_status, cpr, clinic.sor)

    @app.post("/patients/{cpr}/notes", response_model=NoteOut, status_code=201, tags=LPS_TAG, responses=ERRORS,
              summary="Create a journal note")
    async def create_note(cpr: str, request: Request, note: NoteIn = Body(...)) -> dict[str, Any]:
        """One note per document. Blank notes are refused (422); HTML is reduced to p, br, b, i, em, u, tt (the
        answer's issues say what was removed); ``do_not_share`` keeps the note from DDS."""
        clinic = await clinic_of(request)
        patient = await nsp.patient(cpr)
        return await hub.create_note(clinic, patient, note)

    @app.get("/notes/{key}", response_model=NoteOut, tags=LPS_TAG, responses=ERRORS, summary="A note's status")
    async def get_note(key: str, request: Request) -> dict[str, Any]:
        clinic = await clinic_of(request)
        return await run_in_threadpool(hub.note_status, clinic.sor, key)

    @app.put("/notes/{key}", response_model=NoteOut, tags=LPS_TAG, responses=ERRORS,
             summary="A new version of a note (a correction)")
    async def update_note(key: str, request: Request, update: NoteUpdate = Body(...)) -> dict[str, Any]:
        """The creation time never changes (sending a different one → 422); the update time must be later than
        the creation and the previous version (→ 422). Only the newest version is served."""
        clinic = await clinic_of(request)
        return await hub.update_note(clinic, key, update)

    @app.post("/notes/{key}/do-not-share", response_model=NoteOut, tags=LPS_TAG, responses=ERRORS,
              summary="Mark a note 'do not share': not served from the next retrieval on")
    async def do_not_share(key: str, request: Request) -> dict[str, Any]:
        clinic = await clinic_of(request)
        return await hub.set_do_not_share(clinic.sor, key, True)

    @app.post("/notes/{key}/share", response_model=NoteOut, tags=LPS_TAG, responses=ERRORS,
              summary="Remove 'do not share': the note is shared again")
    async def share(key: str, request: Request) -> dict[str, Any]:
        clinic = await clinic_of(request)
        return await hub.set_do_not_share(clinic.sor, key, False)

    @app.post("/notes/{key}/cancel", response_model=NoteOut, tags=LPS_TAG, responses=ERRORS,
              summary="Cancel a note: no longer served at once; its content is deleted within 24 hours")
    async def cancel(key: str, request: Request) -> dict[str, Any]:
        clinic = await clinic_of(request)
        return await hub.cancel_note(clinic.sor, key)

    @app.post("/documents", response_model=DocumentOut, tags=LPS_TAG, responses=ERRORS,
              summary="Submit a ready-made ConditionList or Notes document Bundle",
              openapi_extra={"requestBody": {"required": True, "content": {"application/fhir+json": {
                  "schema": {"type": "object", "description": "a MedCom ConditionList 1.0.1 or Notes 1.0.0 "
                             "document Bundle"}}}}})
    async def submit_document(request: Request) -> dict[str, Any]:
        """Validated against its profile (errors → 422 with their paths), then taken as the clinic's new card or
        note version. The document's author institution must be the calling clinic; the patient's name comes
        from the CPR register. A ConditionList counts as approved when it carries an official attester."""
        clinic = await clinic_of(request)
        bundle, _ = await read_fhir_json(request, context.settings.max_body_bytes)
        return await hub.submit_document(clinic, bundle)

    @app.get("/patients/{cpr}/events", response_model=list[EventOut], tags=LPS_TAG, responses=ERRORS,
             summary="The hub's event log for a patient (the calling clinic's entries)")
    async def events(cpr: str, request: Request, kind: str | None = Query(default=None)) -> list[dict[str, Any]]:
        clinic = await clinic_of(request)
        return await run_in_threadpool(hub.events.entries, cpr, clinic.sor, kind)

    @app.get("/ondemand/{key}", tags=["On-demand source (DDS)"], responses={
        200: {"description": "the freshly generated document Bundle", "content": {"application/fhir+json": {}}},
        403: OUTCOME, 404: OUTCOME, 410: OUTCOME},
        summary="DDS retrieves an on-demand document (ITI-68 behind DDS)")
    async def ondemand(key: str, request: Request) -> Response:
        await callers.platform(request)
        content = await run_in_threadpool(hub.serve, key)
        return Response(content, media_type="application/fhir+json", headers={"Cache-Control": "no-store"})

    @app.post("/due", tags=["Sandbox"], summary="Run the timed work due on the sandbox clock")
    async def due() -> dict[str, Any]:
        """Purges cancelled notes whose time has come, registers after-midnight notes, retries DDS."""
        return await hub.run_due()

    @app.get("/settings", tags=["Sandbox"], summary="The hub's settings")
    def get_settings() -> dict[str, Any]:
        return hub.settings()

    @app.put("/settings", tags=["Sandbox"], summary="Change notes_after_midnight")
    async def put_settings(body: dict[str, Any] = Body(..., examples=[{"notes_after_midnight": True}])) \
            -> dict[str, Any]:
        value = body.get("notes_after_midnight")
        if set(body) != {"notes_after_midnight"} or not isinstance(value, bool):
            raise FhirError(422, Issue("error", "value", "Send {\"notes_after_midnight\": true|false}",
                                       expression="notes_after_midnight", rule="plsp-setting"))
        return hub.set_after_midnight(value)

    return app


def _document_security(app: FastAPI) -> None:
    """The OpenAPI document names the bearer token every face needs (except the sandbox faces)."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version="1.0", description=app.description, routes=app.routes)
            schema.setdefault("components", {})["securitySchemes"] = {"sts": {
                "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "A token from NSP's STS: POST /nsp/sts/token {\"persona\": \"system-lps-skodstrup\", "
                               "\"audience\": \"plsp\"} (a GP system); DDS uses system-dds"}}
            for path, operations in schema["paths"].items():
                if path not in ("/due", "/settings"):
                    for operation in operations.values():
                        operation["security"] = [{"sts": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
