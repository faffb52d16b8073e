"""A sandbox served over real sockets for the DDS concurrency tests, and many requests sent at once.

``serve`` runs the sandbox app under uvicorn in a thread (as ``tests/e2e`` does); ``race`` sends
requests from as many threads, each with its own HTTP connection, released together by a barrier
so they reach DDS at the same moment.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx2 as httpx
import uvicorn
from servers import TLS, free_port

from nsp_sandbox.clock import Clock
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.database import Database
from sandbox.app import create_sandbox_app


@contextmanager
def serve(context: SandboxContext, only: set[str] | None = None) -> Iterator[str]:
    """The sandbox over ``context`` listening on a free local port; answers its base URL."""
    port = free_port()
    app = create_sandbox_app(context, warm_packages=False, only=only)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the sandbox did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def two_workers(context: SandboxContext, database_url: str) -> Iterator[tuple[str, str]]:
    """Two sandboxes on ``context``'s database, each served, as ``up --workers 2`` runs them: one database, two
    processes' memory (their own locks and caches); their base URLs."""
    other = SandboxContext(context.settings, Clock(), Database.from_url(database_url))
    other._packages, other._validator = context._packages, context._validator
    try:
        with serve(context) as first, serve(other) as second:
            yield first, second
    finally:
        other.database.engine.dispose()


class Racers:
    """``width`` HTTP clients on their own threads, kept open over many rounds; given several base URLs (one
    sandbox's workers), the clients take them in turn."""

    def __init__(self, base_url: str | list[str], width: int) -> None:
        self.width = width
        bases = [base_url] if isinstance(base_url, str) else base_url
        self.clients = [httpx.Client(verify=TLS, base_url=bases[n % len(bases)], timeout=60) for n in range(width)]
        self.pool = ThreadPoolExecutor(max_workers=width)

    def race(self, calls: list[Callable[[httpx.Client], httpx.Response]]) -> list[httpx.Response]:
        """Send ``calls`` (one per client) together; answer the responses in the same order."""
        assert len(calls) == self.width
        barrier = threading.Barrier(self.width)

        def run(index: int) -> httpx.Response:
            barrier.wait()
            return calls[index](self.clients[index])

        return list(self.pool.map(run, range(self.width)))

    def close(self) -> None:
        self.pool.shutdown()
        for client in self.clients:
            client.close()

    def __enter__(self) -> Racers:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
