"""For tests that start a real sandbox server: a free local port to run it on, and one HTTP client to call it.

``HTTP`` stands in for ``httpx.get(...)`` & co.: each of those makes a client, and making a client loads the
machine's CA certificates (tens of milliseconds of CPU), which a health poll every fraction of a second repeats
for nothing — the sandboxes here are served over plain HTTP. Like those calls, ``HTTP`` opens a connection per
request (``Connection: close``): nothing is kept open to a server a test stops or kills. ``TLS`` is the one
context for the tests' own clients (``httpx.Client(verify=TLS, ...)``)."""

from __future__ import annotations

import socket
import ssl

import httpx2 as httpx

TLS = ssl.create_default_context()
HTTP = httpx.Client(timeout=5, verify=TLS, headers={"Connection": "close"})


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
