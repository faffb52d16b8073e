"""The fault switches around an actor's app (:mod:`nsp_sandbox.faults`): for each call, the actor's
switches whose paths the call matches are taken (one of their calls used); ``unavailable`` answers
at once, ``slow`` waits first, and every switch taken is visible to the actor's own code through
:func:`nsp_sandbox.faults.current` while the call is answered.

An ``unavailable`` answer speaks the door's language: a FHIR OperationOutcome to a REST call, a DGWS
SOAP fault (``processing_problem``, ``text/xml``) to a SOAP call (WS-Trust at the STS, XDS.b at DDS),
so a SOAP client reads why, with the status the switch gives (503 by default, as a service that is
down answers; 500 is the plain SOAP fault status)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from nsp_sandbox.dgws.faults import CONTENT_TYPE as SOAP_FAULT_TYPE
from nsp_sandbox.dgws.faults import DgwsFault, fault_envelope
from nsp_sandbox.faults import CATALOGUE, FaultSwitches, Switch, done, taking

FHIR_JSON = "application/fhir+json"
SOAP_TYPES = (b"text/xml", b"application/soap+xml", b"multipart/related")  # SOAP 1.1, SOAP 1.2, MTOM


def matches(switch: Switch, method: str, path: str) -> bool:
    for pattern in switch.paths:
        wanted, _, prefix = pattern.partition(" ")
        if wanted in ("*", method) and path.startswith(prefix):
            return True
    return False


def _relative(scope: Scope) -> str:
    path, root = scope.get("path", ""), scope.get("root_path", "")
    return path[len(root):] or "/" if root and path.startswith(root) else path


def _diagnostics(switch: Switch) -> str:
    return f"Fault injected by the sandbox: {switch.actor}/{switch.name} ({switch.description})"


def _outcome(switch: Switch, status: int) -> bytes:
    issue = {"severity": "error", "code": "transient" if status >= 500 else "processing",
             "diagnostics": _diagnostics(switch)}
    return json.dumps({"resourceType": "OperationOutcome", "issue": [issue]}).encode()


def _is_soap(scope: Scope) -> bool:
    """Whether the call is a SOAP request, by its Content-Type."""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return value.lower().lstrip().startswith(SOAP_TYPES)
    return False


class FaultInjection:
    """Pure ASGI middleware: the switches of ``actor`` applied to its calls."""

    def __init__(self, app: ASGIApp, switches: FaultSwitches, actor: str) -> None:
        self.app = app
        self.switches = switches
        self.actor = actor
        self.own = [s for s in CATALOGUE if s.actor == actor and s.paths]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.own:
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], _relative(scope)
        taken: dict[tuple[str, str], dict[str, Any]] = {}
        for switch in self.own:  # the switches read and taken off the event loop (FaultSwitches.taken)
            if matches(switch, method, path) and (options := await self.switches.taken(*switch.key)) is not None:
                taken[switch.key] = options
        if not taken:
            await self.app(scope, receive, send)
            return
        token = taking(taken)
        try:
            for switch in self.own:
                options = taken.get(switch.key)
                if options is None:
                    continue
                if switch.effect == "unavailable":
                    await self._answer(send, switch, options, soap=_is_soap(scope))
                    return
                if switch.effect == "slow":
                    await asyncio.sleep(float(options["seconds"]))
            await self.app(scope, receive, send)
        finally:
            done(token)

    @staticmethod
    async def _answer(send: Send, switch: Switch, options: dict[str, Any], *, soap: bool) -> None:
        status = int(options["status"])
        if soap:
            body = fault_envelope(DgwsFault("processing_problem", _diagnostics(switch)))
            media_type = SOAP_FAULT_TYPE
        else:
            body, media_type = _outcome(switch, status), FHIR_JSON
        headers = [(b"content-type", media_type.encode()), (b"cache-control", b"no-store")]
        if options.get("retry_after"):
            headers.append((b"retry-after", str(options["retry_after"]).encode()))
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
