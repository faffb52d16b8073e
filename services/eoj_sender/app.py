"""EOJ — the municipal EHR of an acute team (e.g. Cura), mounted at ``/eoj``:

* ``POST /hco``                 a simple order → a complete HCO 1.2 message, sent to the requesting GP
* ``POST /hco/{id}/modify``     a ``modified-message`` of it (Provenance revision → the previous message)
* ``POST /hco/{id}/retract``    a ``retract-message`` with the reason in DiagnosticReport.conclusion
* ``POST /hco/{id}/resend``     resend after the acknowledgement timeout (at most twice)
* ``POST /hco/resend-due``      resend every overdue message
* ``GET  /hco/{id}``            the message chain, acknowledgement state, resends, envelope receipts and DDS copy
* ``POST /hco/{id}/share``      provide the DDS copy again (DDS was unreachable or refused it)
* ``GET  /hco/{id}/dds-envelope`` the DDS copy as EHMI sends it (SBDH with XDS_METADATA)
* ``POST /messages``            send a ready-made HCO Bundle as is (``?receiver=`` SOR/GLN to override)
* ``POST /ehmi``                where MedCom Acknowledgements (FHIR JSON, or in an SBDH envelope) and envelope
                                receipts arrive
* ``GET  /acks``                every acknowledgement that arrived, as read (``?message=``, ``?since=``)
* ``GET|PUT /endpoints``        the endpoint register (EER-like)
* ``GET  /corpus``              the replay corpus: official examples and faults, each with its expected ack
* ``POST /corpus/run?receiver=`` send it to a GP system and compare the acknowledgements

``{id}`` is the message's MessageHeader.id. Errors are FHIR OperationOutcomes.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI

from nsp_sandbox import openapi_description as oa
from nsp_sandbox.actor_reset import reset_router
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.fastapi_telemetry import telemetry_options
from nsp_sandbox.fhir_http import install_error_handlers
from services.eoj_sender import statistics
from services.eoj_sender.access import EojAccess
from services.eoj_sender.endpoint_register import EndpointRegister
from services.eoj_sender.models import EojBase, upgrade
from services.eoj_sender.nsp_registers import NspRegisters
from services.eoj_sender.outbox import Outbox
from services.eoj_sender.routes import corpus, endpoints, messages, orders
from services.eoj_sender.sharing import Sharing


def create_app(context: SandboxContext) -> FastAPI:
    """The EOJ actor over ``context`` (its tables created here if missing)."""
    context.database.create_tables(EojBase.metadata, upgrade=upgrade)
    register = EndpointRegister(context)
    nsp = NspRegisters(context)
    outbox = Outbox(context, register, Sharing(context, nsp), nsp)

    app = FastAPI(title="EOJ — municipal EHR (HomeCareObservation sender)", docs_url="/docs",
                  openapi_url="/openapi.json", **telemetry_options())
    install_error_handlers(app)

    @app.get("/")
    def index() -> dict[str, Any]:
        return {"actor": "EOJ", "faces": ["/hco", "/hco/{id}", "/hco/{id}/modify", "/hco/{id}/retract",
                                          "/hco/{id}/resend", "/hco/{id}/share", "/hco/{id}/dds-envelope",
                                          "/hco/resend-due", "/messages", "/ehmi",
                                          "/acks", "/endpoints"]}

    access = EojAccess(context)
    staff = [Depends(access.staff)]
    app.include_router(orders.router(outbox), dependencies=staff, responses=oa.errors(401, 403, 503))
    app.include_router(messages.router(context, outbox), dependencies=staff)
    app.include_router(corpus.router(context, outbox), dependencies=staff, responses=oa.errors(401, 403, 503))
    app.include_router(endpoints.router(register), dependencies=[Depends(access.operator)],
                       responses=oa.operator_errors())
    app.include_router(statistics.router(context))
    # The control face's reset: the endpoint register is seeded again as at the first start.
    app.include_router(reset_router("eoj", context.database, [EojBase.metadata], context.settings,
                                    after=register.seed_again))
    return app
