"""Peers reached over real HTTP keep working across event loops (each loop gets its own pool)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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
