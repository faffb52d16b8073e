"""How one actor reaches another: base URLs from settings, HTTP clients over them.

Actors talk HTTP only. By default every peer is this same sandbox (``NSP_SANDBOX_NSP_URL`` etc.
unset): requests then go through ``httpx2.ASGITransport`` straight into the sandbox's own root
app, with no socket, so an in-process test client works too. Setting a peer's URL (e.g.
``NSP_SANDBOX_NSP_URL=https://nsp.vendor.example/nsp``) sends real HTTP there instead, so a
vendor's actor can replace the sandbox's.
"""

from __future__ import annotations

import asyncio
import weakref

import httpx2 as httpx
from starlette.types import ASGIApp

IN_PROCESS_ORIGIN = "http://sandbox.internal"


class Peers:
    """Base URLs of the other actors, and one async HTTP client per target kind."""

    def __init__(self, urls: dict[str, str | None]) -> None:
        self._urls = urls
        self._root: ASGIApp | None = None
        self._local: httpx.AsyncClient | None = None
        # A pooled client's connections belong to the event loop that opened them: one per loop.
        self._remote: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary())

    def attach(self, root: ASGIApp) -> None:
        """The sandbox's root app: where in-process peers are reached."""
        self._root = root
        self._local = None

    def url(self, actor: str) -> str:
        """The base URL of ``actor`` (e.g. ``nsp`` → ``http://sandbox.internal/nsp``)."""
        configured = self._urls.get(actor)
        return configured.rstrip("/") if configured else f"{IN_PROCESS_ORIGIN}/{actor}"

    def client(self, actor: str) -> httpx.AsyncClient:
        """An async client for ``actor``: in process unless a URL is configured for it."""
        if self._urls.get(actor):
            return self._remote_client()
        if self._root is None:
            raise RuntimeError(f"no URL is configured for actor '{actor}' and no sandbox app is attached")
        if self._local is None:
            self._local = httpx.AsyncClient(transport=httpx.ASGITransport(app=self._root), timeout=30)
        return self._local

    def client_for_url(self, url: str) -> httpx.AsyncClient:
        """An async client for an absolute URL: in process for this sandbox's own origin, else real HTTP."""
        if url.startswith(IN_PROCESS_ORIGIN + "/"):
            if self._root is None:
                raise RuntimeError(f"{url} is in this sandbox, but no sandbox app is attached")
            if self._local is None:
                self._local = httpx.AsyncClient(transport=httpx.ASGITransport(app=self._root), timeout=30)
            return self._local
        return self._remote_client()

    def _remote_client(self) -> httpx.AsyncClient:
        """The pooled real-HTTP client of the running event loop."""
        loop = asyncio.get_running_loop()
        client = self._remote.get(loop)
        if client is None:
            client = self._remote[loop] = httpx.AsyncClient(timeout=30)
        return client
