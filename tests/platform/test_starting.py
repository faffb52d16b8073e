"""While the sandbox is being built: ``/health`` answers 503 "starting" at once; any other request is
held and then served by the sandbox, so a client that only waits for the port gets real answers."""

from __future__ import annotations

import asyncio
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
