"""The fault switches around an actor's app (:mod:`nsp_sandbox.faults`): for each call, the actor's
switches whose paths the call matches are taken (one of their calls used); ``unavailable`` answers
at once, ``slow`` waits first, and every switch taken is visible to the actor's own code through
:func:`nsp_sandbox.faults.current` while the call is answered."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from nsp_sandbox.faults import CATALOGUE, FaultSwitches, Switch, done, taking

FHIR_JSON = "application/fhir+json"


def matches(switch: Switch, method: str, path: str) -> bool:
    for pattern in switch.paths:
        wanted, _, prefix = pattern.partition(" ")
        if wanted in ("*", method) and path.startswith(prefix):
            return True
    return False


def _relative(scope: Scope) -> str:
    path, root = scope.get("path", ""), scope.get("root_path", "")
    return path[len(root):] or "/" if root and path.startswith(root) else path


def _outcome(switch: Switch, status: int) -> bytes:
    issue = {"severity": "error", "code": "transient" if status >= 500 else "processing",
             "diagnostics": f"Fault injected by the sandbox: {switch.actor}/{switch.name} ({switch.description})"}
    return json.dumps({"resourceType": "OperationOutcome", "issue": [issue]}).encode()


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
        for switch in self.own:
            if matches(switch, method, path) and (options := self.switches.take(*switch.key)) is not None:
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
                    await self._answer(send, switch, options)
                    return
                if switch.effect == "slow":
                    await asyncio.sleep(float(options["seconds"]))
            await self.app(scope, receive, send)
        finally:
            done(token)

    @staticmethod
    async def _answer(send: Send, switch: Switch, options: dict[str, Any]) -> None:
        status = int(options["status"])
        headers = [(b"content-type", FHIR_JSON.encode()), (b"cache-control", b"no-store")]
        if options.get("retry_after"):
            headers.append((b"retry-after", str(options["retry_after"]).encode()))
        body = _outcome(switch, status)
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
