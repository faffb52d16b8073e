"""While the sandbox is being built: ``/health`` answers 503 "starting" at once; any other request is
held and then served by the sandbox, so a client that only waits for the port gets real answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2 as httpx
import pytest
from fastapi import FastAPI

from sandbox import starting
from sandbox.starting import WhileStarting


def _built() -> FastAPI:
    app = FastAPI()

    @app.get("/dds/fhir/metadata")
    def metadata() -> dict[str, Any]:
        return {"resourceType": "CapabilityStatement"}

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ready"}

    return app


def _client(shell: WhileStarting) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=shell), base_url="http://sandbox")


def test_health_answers_starting_at_once_and_a_request_is_held_until_the_sandbox_is_in_place() -> None:
    async def scenario() -> None:
        shell = WhileStarting()
        async with _client(shell) as client:
            health = await client.get("/health")
            assert health.status_code == 503 and health.json()["status"] == "starting"
            assert health.headers["retry-after"] == "1"
            held = asyncio.create_task(client.get("/dds/fhir/metadata"))
            await asyncio.sleep(0.2)
            assert not held.done()  # waiting for the sandbox, not answered 503
            shell.become(_built())
            answer = await asyncio.wait_for(held, timeout=5)
            assert answer.status_code == 200 and answer.json() == {"resourceType": "CapabilityStatement"}
            assert (await client.get("/health")).status_code == 200

    asyncio.run(scenario())


def test_a_held_request_is_answered_starting_when_the_build_fails() -> None:
    async def scenario() -> None:
        shell = WhileStarting()
        async with _client(shell) as client:
            held = asyncio.create_task(client.get("/dds/fhir/metadata"))
            await asyncio.sleep(0.1)
            shell.give_up()
            answer = await asyncio.wait_for(held, timeout=5)
            assert answer.status_code == 503 and answer.json()["status"] == "starting"

    asyncio.run(scenario())


def test_a_request_is_held_no_longer_than_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(starting, "HOLD_SECONDS", 0.2)

    async def scenario() -> None:
        async with _client(WhileStarting()) as client:
            answer = await asyncio.wait_for(client.get("/dds/fhir/metadata"), timeout=5)
            assert answer.status_code == 503

    asyncio.run(scenario())


def _lifespan_of(shell: WhileStarting) -> list[str]:
    """Drive ``shell``'s lifespan as a server does (startup, then shutdown); the messages it answered."""
    answered: list[str] = []
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        answered.append(message["type"])

    asyncio.run(shell({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send))
    return answered


def test_at_shutdown_the_sandbox_in_place_runs_its_own_lifespan_to_its_end() -> None:
    """The server starts before the sandbox exists, so the shell answers the lifespan; at shutdown the sandbox app's
    own shutdown (the actors' background work stopped: sender, request log, lane) must still run."""
    ran: list[str] = []

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        ran.append("startup")
        yield
        ran.append("shutdown")

    shell = WhileStarting()
    shell.become(FastAPI(lifespan=lifespan))
    assert _lifespan_of(shell) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert ran == ["startup", "shutdown"]

    assert _lifespan_of(WhileStarting()) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]  # none built

    @asynccontextmanager
    async def failing(_app: FastAPI) -> AsyncIterator[None]:
        yield
        raise RuntimeError("a background thread would not stop")

    broken = WhileStarting()
    broken.become(FastAPI(lifespan=failing))
    assert _lifespan_of(broken) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]  # stops anyway
