"""An actor mounted in the sandbox app but built at its first request (``create_sandbox_app(lazy_actors=True)``).

Building an actor is mostly FastAPI describing its routes (each parameter and answer becomes a pydantic
adapter) and making its tables if missing. One test reaches two or three of the nine faces, so the test
suite's sandbox builds each face when a request first reaches its prefix, in a thread (an actor's build
may wait on the database, and the event loop goes on serving the other actors meanwhile). Built once, the
actor is the same app that ``nsp-sandbox up`` builds at start; ``up`` builds every actor before it says
it is ready, so a fresh sandbox answers every face at once and a build failure stops the start.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import anyio.to_thread
from fastapi import FastAPI


class LazyActor:
    """Pure ASGI: builds the actor with ``build`` at the first HTTP request, then passes every request on."""

    def __init__(self, build: Callable[[], FastAPI]) -> None:
        self._build = build
        self._app: FastAPI | None = None
        self._lock = threading.Lock()

    @property
    def app(self) -> FastAPI:
        """The actor, built now if no request has reached it yet."""
        with self._lock:
            if self._app is None:
                self._app = self._build()
            return self._app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        app = self._app
        if app is None:
            app = await anyio.to_thread.run_sync(lambda: self.app)
        await app(scope, receive, send)


def mounted_app(app: Any) -> Any:
    """What a mount serves: the actor itself where it is a :class:`LazyActor` (built if it was not yet)."""
    return app.app if isinstance(app, LazyActor) else app
