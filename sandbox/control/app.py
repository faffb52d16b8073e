"""The control face as an app of its own, mounted at ``/sandbox`` by the one-process app."""

from __future__ import annotations

from fastapi import FastAPI, Request

from nsp_sandbox import __version__
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.fhir_http import install_error_handlers
from sandbox.control import clock, remove_metadata, treatment_relations
from sandbox.control.guard import require_operator


def create_app(context: SandboxContext) -> FastAPI:
    app = FastAPI(title="nsp-sandbox control face", version=__version__,
                  description="The sandbox itself: its clock, ITI-62 metadata removal, BRS treatment relations "
                              "(docs/control.md). Operator only: "
                              "NSP_SANDBOX_ADMIN_TOKEN as a bearer token, or a caller on this machine.")
    install_error_handlers(app)

    def operator(request: Request) -> None:
        require_operator(request, context.settings)

    app.include_router(clock.router(context.clock, operator))
    app.include_router(remove_metadata.router(context, operator))
    app.include_router(treatment_relations.router(context, operator))
    return app
