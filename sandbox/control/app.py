"""The control face as an app of its own, mounted at ``/sandbox`` by the one-process app."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, Request

from nsp_sandbox import __version__, openapi_description
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.fastapi_telemetry import telemetry_options
from nsp_sandbox.fhir_http import install_error_handlers
from sandbox.control import clock, endpoints, faults, remove_metadata, reset, runs, treatment_relations, world
from sandbox.control.guard import require_operator
from sandbox.control.operator_endpoints import OPERATOR_ENDPOINTS

FACES = [
    {"method": "GET", "path": "/sandbox/clock", "description": "the sandbox clock"},
    {"method": "PUT", "path": "/sandbox/clock", "description": "travel to an instant, or freeze"},
    {"method": "DELETE", "path": "/sandbox/clock", "description": "back to real time"},
    {"method": "POST", "path": "/sandbox/world", "description": "load a world file (YAML or JSON)"},
    {"method": "GET", "path": "/sandbox/endpoints", "description": "the endpoint register"},
    {"method": "PUT", "path": "/sandbox/endpoints/{GLN or SOR}", "description": "register a receiver: url, "
     "message_types, hco_version"},
    {"method": "POST", "path": "/sandbox/reset", "description": "empty every actor's data"},
    {"method": "GET", "path": "/sandbox/faults", "description": "every fault switch and its state"},
    {"method": "PUT", "path": "/sandbox/faults/{actor}/{name}", "description": "switch a fault on (for n calls "
     "or until an instant) or off"},
    {"method": "DELETE", "path": "/sandbox/faults", "description": "every fault switch off"},
    {"method": "POST", "path": "/sandbox/dds/remove-metadata", "description": "ITI-62 Remove Metadata"},
    {"method": "GET", "path": "/sandbox/suites", "description": "the conformance suites (docs/runs.md)"},
    {"method": "POST", "path": "/sandbox/runs", "description": "run a suite against a vendor's system: suite, "
     "target, options, cases"},
    {"method": "GET", "path": "/sandbox/runs", "description": "the conformance runs, newest first"},
    {"method": "GET", "path": "/sandbox/runs/{id}", "description": "a run: verdict, cases with evidence, "
     "instructions"},
    {"method": "GET", "path": "/sandbox/runs/{id}/report.html", "description": "a run's printable report"},
    {"method": "GET", "path": "/sandbox/runs/{id}/junit.xml", "description": "a run's JUnit XML report"},
]


def create_app(context: SandboxContext) -> FastAPI:
    app = FastAPI(title="nsp-sandbox control face", version=__version__,
                  description="The sandbox itself: its clock, world, endpoint register, reset, fault switches, "
                              "ITI-62 metadata removal, BRS treatment relations (docs/control.md) and conformance "
                              "runs (docs/runs.md). Operator "
                              "only: NSP_SANDBOX_ADMIN_TOKEN as a bearer token, or a caller on this machine.",
                  responses=openapi_description.operator_errors(), **telemetry_options())
    install_error_handlers(app)

    def operator(request: Request) -> None:
        require_operator(request, context.settings)

    @app.get("/", dependencies=[Depends(operator)])
    def index() -> dict[str, Any]:
        """The control face's own calls, and the operator endpoints the actors serve (guarded the same way)."""
        return {"faces": FACES, "operator_endpoints": [
            {"method": e.method, "path": e.path, "description": e.description} for e in OPERATOR_ENDPOINTS],
            "docs": "docs/control.md"}

    app.include_router(clock.router(context.clock, operator))
    app.include_router(world.router(context, operator))
    app.include_router(endpoints.router(context, operator))
    app.include_router(reset.router(context, operator))
    app.include_router(faults.router(context, operator))
    app.include_router(remove_metadata.router(context, operator))
    app.include_router(treatment_relations.router(context, operator))
    app.include_router(runs.router(context, operator))
    return app
