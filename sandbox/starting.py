"""The sandbox while it is still being built: an ASGI app that answers at once.

``nsp-sandbox up`` listens before it imports and builds the actors (a few seconds on a loaded
machine), so a caller polling ``GET /health`` gets an answer from the first moment: 503
``{"status": "starting"}`` with ``Retry-After``, until the sandbox app is in place. Any other request
that arrives meanwhile is held until the sandbox is in place and then served by it, as a server that
opened its port only when ready would serve it: a client that waits for the port (``wait-for-it``,
a TCP health probe) and then starts work gets answers, not 503s. A request held for
:data:`HOLD_SECONDS`, or while the build has failed, is answered 503 "starting" after all. Lifespan
events are answered here (the actors have none). This module imports nothing heavy on purpose.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

ASGIApp = Any  # (scope, receive, send) -> awaitable

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
            await _lifespan(receive, send)
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


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
