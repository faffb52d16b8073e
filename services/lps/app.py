"""LPS — the GP system emulator, mounted at ``/lps``:

* ``POST /ehmi``              the EHMI inbox: an HCO message in — bare FHIR JSON, or wrapped in an SBDH
                              envelope (XML) addressed ``0088:<GLN>`` of one of its practices — and a
                              MedCom Acknowledgement out (to the message's ``source.endpoint``, the same
                              way the message came); the HTTP answer says what happened
* ``GET  /inbox?cpr=``        what the GP sees: newest versions, corrections marked R, cancellations
* ``GET  /received``          every received transmission with its acknowledgement (for testers)
* ``GET|PUT /switches``       behaviour: mode normal/ok/fatal/transient, withhold, twice, delay_minutes
* ``POST /outbox/deliver``    refuse held corrections whose original did not come in time, and send
                              the delayed acknowledgements that are due (sandbox clock)
* ``GET  /practices``         the GP practices this system receives for
* ``PUT  /return-addresses``  ``{"sor", "url"}``: where acks for a SOR-addressed sender go
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI

from nsp_sandbox import openapi_description as oa
from nsp_sandbox.actor_reset import reset_router
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.fastapi_telemetry import telemetry_options
from nsp_sandbox.fhir_http import install_error_handlers
from services.lps import statistics
from services.lps.access import LpsAccess
from services.lps.inbox import Inbox
from services.lps.models import LpsBase, upgrade
from services.lps.routes import control, inbox
from services.lps.switches import Switches


def create_app(context: SandboxContext) -> FastAPI:
    """The GP system actor over ``context`` (its tables created here if missing)."""
    context.database.create_tables(LpsBase.metadata, upgrade=upgrade)
    switches = Switches(context.database)
    gp_inbox = Inbox(context, switches)

    app = FastAPI(title="LPS — GP system (HomeCareObservation inbox)", docs_url="/docs", openapi_url="/openapi.json",
                  **telemetry_options())
    install_error_handlers(app)

    @app.get("/")
    def index() -> dict[str, Any]:
        return {"actor": "LPS", "faces": ["/ehmi", "/inbox?cpr=", "/received", "/switches", "/outbox/deliver",
                                          "/practices", "/return-addresses"]}

    access = LpsAccess(context, gp_inbox)
    app.include_router(inbox.router(context, gp_inbox), dependencies=[Depends(access.clinic)])
    app.include_router(control.router(context.database, switches, gp_inbox), dependencies=[Depends(access.operator)],
                       responses=oa.operator_errors())
    app.include_router(statistics.router(context.database))
    app.include_router(reset_router("lps", context.database, [LpsBase.metadata], context.settings))
    return app
