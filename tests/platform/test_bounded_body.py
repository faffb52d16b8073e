"""Request bodies are read with bounded memory: streamed into a spooled temporary file (on disk past
1 MB), and reading stops at the limit, keeping only the body's beginning for whoever answers it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.requests import Request

from nsp_sandbox.fhir_http import HEAD_BYTES, SPOOL_IN_MEMORY, BodyTooLarge, read_body

CHUNK = 64 * 1024


def _request(chunks: int, pulled: list[int], declared: int | None = None) -> Request:
    """A request whose body arrives in ``chunks`` chunks of 64 KiB; ``pulled`` counts those read."""
    async def receive() -> dict[str, Any]:
        pulled.append(1)
        more = len(pulled) < chunks
        return {"type": "http.request", "body": bytes([len(pulled) % 256]) * CHUNK, "more_body": more}

    headers = [(b"content-length", str(declared).encode())] if declared is not None else []
    return Request({"type": "http", "method": "POST", "headers": headers}, receive)


def test_a_body_within_the_limit_is_read_whole() -> None:
    pulled: list[int] = []
    body = asyncio.run(read_body(_request(40, pulled), 40 * CHUNK))  # 2.5 MB: past the in-memory part
    assert len(body) == 40 * CHUNK > SPOOL_IN_MEMORY and len(pulled) == 40
    assert body[:CHUNK] == bytes([1]) * CHUNK and body[-CHUNK:] == bytes([40]) * CHUNK


def test_reading_stops_at_the_limit_and_keeps_the_beginning() -> None:
    pulled: list[int] = []
    with pytest.raises(BodyTooLarge) as refused:
        asyncio.run(read_body(_request(1000, pulled), 10 * CHUNK))  # a 64 MB body against a 640 KB limit
    assert len(pulled) == 11  # not one chunk more than needed to know it is too large
    assert refused.value.status == 413 and refused.value.max_bytes == 10 * CHUNK
    assert len(refused.value.head) == HEAD_BYTES and refused.value.head[:CHUNK] == bytes([1]) * CHUNK


def test_a_declared_length_over_the_limit_reads_only_the_beginning() -> None:
    pulled: list[int] = []
    with pytest.raises(BodyTooLarge) as refused:
        asyncio.run(read_body(_request(1000, pulled, declared=1000 * CHUNK), 10 * CHUNK))
    assert len(pulled) == HEAD_BYTES // CHUNK and len(refused.value.head) == HEAD_BYTES
