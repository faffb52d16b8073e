"""EOJ — the municipal EHR of an acute team (e.g. Cura), mounted at ``/eoj``:

* ``POST /hco``                 a simple order → a complete HCO 1.2 message, sent to the requesting GP
* ``POST /hco/{id}/modify``     a ``modified-message`` of it (Provenance revision → the previous message)
* ``POST /hco/{id}/retract``    a ``retract-message`` with the reason in DiagnosticReport.conclusion
* ``POST /hco/{id}/resend``     resend after the acknowledgement timeout (at most twice)
* ``POST /hco/resend-due``      resend every overdue message
* ``GET  /hco/{id}``            the message chain, acknowledgement state, resends and DDS entry
* ``POST /messages``            send a ready-made HCO Bundle as is (``?receiver=`` SOR/GLN to override)
* ``POST /ehmi``                where MedCom Acknowledgements arrive (FHIR JSON, or in an SBDH envelope)
* ``GET|PUT /endpoints``        the endpoint register (EER-like)
* ``GET  /corpus``              the replay corpus: official examples and faults, each with its expected ack
* ``POST /corpus/run?receiver=`` send it to a GP system and compare the acknowledgements

``{id}`` is the message's MessageHeader.id. Errors are FHIR OperationOutcomes.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.fhir_http import install_error_handlers, read_body, read_fhir_json, read_json_object
from nsp_sandbox.hco_sbdh import EnvelopeError, consistency, is_sbdh, unwrap
from nsp_sandbox.outcome import FhirError, Issue
from services.eoj_sender import corpus_run
from services.eoj_sender.endpoint_register import EndpointRegister
from services.eoj_sender.models import EojBase
from services.eoj_sender.nsp_registers import NspRegisters
from services.eoj_sender.order import Modification, Order, Retraction
from services.eoj_sender.outbox import Outbox
from services.eoj_sender.sharing import Sharing

M = TypeVar("M", bound=BaseModel)
MAX_ORDER = 150 * 1024 * 1024  # a message is at most 100 MB; base64 attachments grow by a third


def create_app(context: SandboxContext) -> FastAPI:
    context.database.create_tables(EojBase.metadata)
    register = EndpointRegister(context)
    nsp = NspRegisters(context)
    outbox = Outbox(context, register, Sharing(context, nsp), nsp)

    app = FastAPI(title="EOJ — municipal EHR (HomeCareObservation sender)", docs_url="/docs",
                  openapi_url="/openapi.json")
    install_error_handlers(app)

    @app.get("/")
    def index() -> dict[str, Any]:
        return {"actor": "EOJ", "faces": ["/hco", "/hco/{id}", "/hco/{id}/modify", "/hco/{id}/retract",
                                          "/hco/{id}/resend", "/hco/resend-due", "/messages", "/ehmi",
                                          "/endpoints"]}

    @app.post("/hco", status_code=201)
    async def new_message(request: Request) -> dict[str, Any]:
        return await outbox.send_order(await _model(request, Order))

    @app.post("/hco/resend-due")
    async def resend_due() -> list[dict[str, Any]]:
        return [_brief(m) for m in await outbox.resend_due()]

    @app.get("/hco/{header_id}")
    def message_status(header_id: str) -> dict[str, Any]:
        return outbox.status(header_id)

    @app.post("/hco/{header_id}/modify", status_code=201)
    async def modify(header_id: str, request: Request) -> dict[str, Any]:
        return await outbox.modify(header_id, await _model(request, Modification))

    @app.post("/hco/{header_id}/retract", status_code=201)
    async def retract(header_id: str, request: Request) -> dict[str, Any]:
        return await outbox.retract(header_id, await _model(request, Retraction))

    @app.post("/hco/{header_id}/resend")
    async def resend(header_id: str) -> dict[str, Any]:
        return await outbox.resend(header_id)

    @app.post("/messages", status_code=201)
    async def send_ready(request: Request, receiver: str | None = None) -> dict[str, Any]:
        bundle, _ = await read_fhir_json(request, context.settings.max_body_bytes)
        try:
            return await outbox.send_ready(bundle, receiver)
        except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:
            raise unreadable(exc, "an HCO message") from None

    @app.post("/ehmi")
    async def acknowledgement(request: Request) -> JSONResponse:
        if is_sbdh(request.headers.get("content-type", "")):
            try:
                envelope = unwrap(await read_body(request, context.settings.max_body_bytes))
            except EnvelopeError as exc:
                raise FhirError(400, exc.issues) from None
            problems = consistency(envelope)
            if problems:
                raise FhirError(400, problems)
            bundle = envelope.bundle
        else:
            bundle, _ = await read_fhir_json(request, context.settings.max_body_bytes)
        try:
            return JSONResponse(await outbox.receive_ack(bundle), status_code=202)
        except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:
            raise unreadable(exc, "a MedCom Acknowledgement") from None

    @app.get("/corpus")
    def corpus() -> list[dict[str, Any]]:
        return corpus_run.catalogue(context.packages)

    @app.post("/corpus/run")
    async def run_corpus(receiver: str, case: str | None = None) -> list[dict[str, Any]]:
        """Send the replay corpus (or ``case``: a fault's name, ``examples`` or ``faults``) to ``receiver``."""
        return await corpus_run.run(outbox, context.packages, receiver, case)

    @app.get("/endpoints")
    def endpoints() -> list[dict[str, Any]]:
        return register.all()

    @app.put("/endpoints")
    async def put_endpoint(request: Request) -> dict[str, Any]:
        body = await read_json_object(request, MAX_ORDER)
        return register.put(body)

    return app


def unreadable(exc: Exception, what: str) -> FhirError:
    return FhirError(422, Issue("error", "structure", f"The body cannot be read as {what} ({type(exc).__name__})",
                                expression="Bundle", rule="message-readable"))


def _brief(status: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in status.items() if k != "bundle"}


async def _model(request: Request, model: type[M]) -> M:
    body = await read_json_object(request, MAX_ORDER)
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise FhirError(422, [Issue("error", "invalid", f"{err['msg']}",
                                    expression=".".join(str(p) for p in err["loc"]) or None, rule="eoj-order")
                              for err in exc.errors()]) from None
