"""The sandbox while it is still being built: an ASGI app that answers at once.

``nsp-sandbox up`` listens before it imports and builds the actors (a few seconds on a loaded
machine), so a caller polling ``GET /health`` gets an answer from the first moment: 503
``{"status": "starting"}`` with ``Retry-After``, until the sandbox app is in place. Any other request
that arrives meanwhile is held until the sandbox is in place and then served by it, as a server that
opened its port only when ready would serve it: a client that waits for the port (``wait-for-it``,
a TCP health probe) and then starts work gets answers, not 503s. A request held for
:data:`HOLD_SECONDS`, or while the build has failed, is answered 503 "starting" after all.

Lifespan events are answered here, since the server starts before the sandbox exists. At shutdown the
sandbox app, once in place, is run through its own lifespan: its shutdown stops the actors' background
work (DDS's notification sender finishes what it is sending, the request log writes what is queued,
the CPU lane finishes its jobs), which a stopped server otherwise left undone. This module imports
nothing heavy on purpose.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

ASGIApp = Any  # (scope, receive, send) -> awaitable
log = logging.getLogger(__name__)

HOLD_SECONDS = 120.0  # how long a request waits for the sandbox to be built
_POLL_SECONDS = 0.05


class WhileStarting:
    """An ASGI app that is 503 "starting" until :meth:`become` hands it the real one."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None
        self.failed = False

    def become(self, app: ASGIApp) -> None:
        self.app = app

    def give_up(self) -> None:
        """The build failed: held requests are answered 503 at once (the server is stopping)."""
        self.failed = True

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        app = self.app
        if app is None and scope["type"] == "http" and scope.get("path") != "/health":
            app = await self._built()
        if app is not None:
            await app(scope, receive, send)
            return
        if scope["type"] == "http":
            body = json.dumps({"status": "starting", "missing": []}).encode()
            await send({"type": "http.response.start", "status": 503, "headers": [
                (b"content-type", b"application/json"), (b"retry-after", b"1"),
                (b"content-length", str(len(body)).encode()), (b"cache-control", b"no-store")]})
            await send({"type": "http.response.body", "body": body})
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1013})  # try again later


    async def _built(self) -> ASGIApp | None:
        """The sandbox app once it is in place; None when the build failed or took too long."""
        deadline = time.monotonic() + HOLD_SECONDS
        while self.app is None and not self.failed and time.monotonic() < deadline:
            await asyncio.sleep(_POLL_SECONDS)
        return self.app

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.app is not None:
                    await _through_lifespan(self.app)
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _through_lifespan(app: ASGIApp) -> None:
    """Run ``app``'s lifespan from its startup to its shutdown; a failure is logged, and the server stops anyway."""
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    failures: list[str] = []

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        if message["type"].endswith(".failed"):
            failures.append(str(message.get("message", "")))

    try:
        await app({"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}, receive, send)
    except Exception:  # the app's own error at shutdown: said, and the server still stops
        log.exception("the sandbox's shutdown failed")
    for failure in failures:
        log.error("the sandbox's lifespan failed: %s", failure)
