"""The operator endpoints the actors serve under their own paths, and their guard.

They stay where they are (``PUT /lps/switches`` …) and are listed under ``GET /sandbox``; the one-process
app guards them with the control face's guard (:func:`sandbox.control.guard.require_operator`) before
the actor sees the call, so an actor never needs to know who the operator is.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from nsp_sandbox.config import Settings
from nsp_sandbox.fhir_http import outcome_response
from nsp_sandbox.outcome import FhirError
from sandbox.control.guard import require_operator


@dataclass(frozen=True)
class OperatorEndpoint:
    method: str
    path: str  # the full path; a trailing ``/`` matches everything below it
    description: str

    def matches(self, method: str, path: str) -> bool:
        if method != self.method:
            return False
        return path.startswith(self.path) if self.path.endswith("/") else path == self.path


OPERATOR_ENDPOINTS: tuple[OperatorEndpoint, ...] = (
    OperatorEndpoint("PUT", "/lps/switches", "the GP inbox's behaviour switches (mode, withhold, twice, "
                     "delay_minutes); also shown in GET /sandbox/faults"),
    OperatorEndpoint("POST", "/lps/outbox/deliver", "the GP inbox sends its delayed acknowledgements that are due "
                     "and refuses held corrections whose original did not come"),
    OperatorEndpoint("PUT", "/eoj/endpoints", "the endpoint register, as the EOJ takes it (PUT /sandbox/endpoints/"
                     "{GLN or SOR} is the control face's form)"),
    OperatorEndpoint("PUT", "/lps/return-addresses", "where the GP inbox sends acknowledgements for a "
                     "SOR-addressed sender"),
    OperatorEndpoint("POST", "/nsp/sandbox/world", "NSP loads a world file (POST /sandbox/world hands it over)"),
    *(OperatorEndpoint("POST", f"/{actor}/sandbox/reset", f"empties the {actor} actor's data (POST /sandbox/reset "
                       "calls every actor's)") for actor in ("dds", "nsp", "plsp", "eoj", "lps", "view")),
)


class OperatorGuard:
    """Pure ASGI middleware of the one-process app: the operator endpoints answer only the operator."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method, path = scope["method"], scope["path"]
            if any(e.matches(method, path) for e in OPERATOR_ENDPOINTS):
                try:
                    require_operator(Request(scope), self.settings)
                except FhirError as refused:
                    await outcome_response(refused.status, refused.issues, refused.headers)(scope, receive, send)
                    return
        await self.app(scope, receive, send)
