"""The sandbox while it is still being built: an ASGI app that answers at once.

``nsp-sandbox up`` listens before it imports and builds the actors (a few seconds on a loaded
machine), so a caller polling ``GET /health`` gets an answer from the first moment: 503
``{"status": "starting"}`` with ``Retry-After``, for every path, until the sandbox app is in place;
from then on every request goes to it. Lifespan events are answered here (the actors have none).
This module imports nothing heavy on purpose.
"""

from __future__ import annotations

import json
from typing import Any

ASGIApp = Any  # (scope, receive, send) -> awaitable


class WhileStarting:
    """An ASGI app that is 503 "starting" until :meth:`become` hands it the real one."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    def become(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        app = self.app
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


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
