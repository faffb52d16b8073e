"""A system's STS tokens: fetched once per persona and audience, renewed near expiry on the sandbox clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI, Response

from nsp_sandbox.clock import Clock
from nsp_sandbox.peers import Peers
from nsp_sandbox.system_tokens import StsUnavailable, SystemTokens

START = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def sts(issued: list[tuple[str, str]], *, status: int = 200) -> FastAPI:
    app = FastAPI()

    @app.post("/nsp/sts/token")
    def token(body: dict[str, str], response: Response) -> dict[str, object]:
        response.status_code = status
        issued.append((body["persona"], body["audience"]))
        return {"access_token": f"token-{len(issued)}", "expires_in": 3600}

    return app


def tokens_over(app: FastAPI, clock: Clock) -> SystemTokens:
    peers = Peers({})
    peers.attach(app)
    return SystemTokens(peers, clock)


def test_one_token_per_persona_and_audience_until_near_expiry() -> None:
    issued: list[tuple[str, str]] = []
    clock = Clock()
    clock.freeze(START)
    tokens = tokens_over(sts(issued), clock)

    async def scenario() -> list[str]:
        got = [await tokens.token("system-dds", "nsp"), await tokens.token("system-dds", "nsp"),
               await tokens.token("system-dds", "plsp"), await tokens.token("system-plsp", "nsp")]
        clock.freeze(START + timedelta(minutes=58, seconds=59))  # a minute before expiry: still the same
        got.append(await tokens.token("system-dds", "nsp"))
        clock.freeze(START + timedelta(minutes=59))  # within the last minute: a new one
        got.append(await tokens.token("system-dds", "nsp"))
        clock.freeze(START - timedelta(days=1))  # the clock travelled back before its issue: a new one
        got.append(await tokens.token("system-dds", "nsp"))
        return got

    assert asyncio.run(scenario()) == ["token-1", "token-1", "token-2", "token-3", "token-1", "token-4", "token-5"]
    assert issued[:3] == [("system-dds", "nsp"), ("system-dds", "plsp"), ("system-plsp", "nsp")]


def test_a_refusing_sts_is_reported_not_cached() -> None:
    issued: list[tuple[str, str]] = []
    clock = Clock()
    tokens = tokens_over(sts(issued, status=403), clock)
    for _ in range(2):
        with pytest.raises(StsUnavailable, match="HTTP 403 for persona system-x"):
            asyncio.run(tokens.token("system-x", "dds"))
    assert len(issued) == 2
