"""Peers reached over real HTTP keep working across event loops (each loop gets its own pool); a peer in
process is reached without any module looked up again."""

from __future__ import annotations

import asyncio
import importlib.abc
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from nsp_sandbox.peers import Peers


class _Hello(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the client pools the connection

    def do_GET(self) -> None:
        body = b'{"hello": "peer"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture()
def peer_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/nsp"
    finally:
        server.shutdown()
        server.server_close()


def test_a_remote_peer_is_reachable_from_one_event_loop_after_another(peer_url: str) -> None:
    peers = Peers({"nsp": peer_url})

    async def fetch() -> dict[str, str]:
        response = await peers.client("nsp").get(f"{peers.url('nsp')}/")
        return response.json()  # type: ignore[no-any-return]

    # A test client without a lifespan runs every request on a new loop; a server runs one loop.
    assert asyncio.run(fetch()) == {"hello": "peer"}
    assert asyncio.run(fetch()) == {"hello": "peer"}


class _Spy(importlib.abc.MetaPathFinder):
    """Notes every module Python looks for (and finds none itself)."""

    def __init__(self) -> None:
        self.sought: list[str] = []

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        self.sought.append(fullname)
        return None


def test_an_in_process_call_finds_every_module_it_needs_already_loaded() -> None:
    """The in-process client's transport asks for ``sniffio`` at each request: were it missing,
    Python would search every folder of ``sys.path`` for it at every call between actors."""

    async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"hello"})

    peers = Peers({})
    peers.attach(hello)

    async def call() -> str:
        response = await peers.client("nsp").get(f"{peers.url('nsp')}/")
        return response.text

    async def calls() -> list[str]:
        first = await call()  # whatever the first call imports, it imports once
        spy = _Spy()
        sys.meta_path.insert(0, spy)
        try:
            second = await call()
        finally:
            sys.meta_path.remove(spy)
        assert spy.sought == []
        return [first, second]

    assert asyncio.run(calls()) == ["hello", "hello"]
