"""A small conformance suite of the tests' own, run against the sandbox's own actors, and how the tests
register it (``sandbox.runs.suites.all_suites``) and follow a run to its end.

Its target is the sandbox's own DDS (in process: ``http://sandbox.internal/dds``). Its cases:
``personas-listed`` passes (NSP lists personas), ``search-without-token`` fails (it demands a 200 where
DDS answers 401 to a search without a token — the answer is kept as evidence), ``flavour-given`` is
skipped unless the run has the ``flavour`` option, and ``clock-frozen`` asks the participant to freeze the
sandbox clock and waits for it (the interactive kind).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest
import uvicorn
from servers import free_port

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.peers import IN_PROCESS_ORIGIN
from sandbox.app import create_sandbox_app
from sandbox.runs import suites
from sandbox.runs.suite import Case, CaseContext, Suite

TARGET = f"{IN_PROCESS_ORIGIN}/dds"
CPR = "2509479989"


async def personas_listed(ctx: CaseContext) -> None:
    answer = await ctx.actor("nsp", "GET", "/personas")
    ctx.check(answer.status_code == 200 and answer.json(), f"GET /nsp/personas answered {answer.status_code}")
    ctx.note(f"{len(answer.json())} personas")


async def search_without_token(ctx: CaseContext) -> None:
    answer = await ctx.request("GET", f"{ctx.target}/fhir/DocumentReference",
                               params={"patient.identifier": f"urn:oid:1.2.208.176.1.2|{CPR}"})
    ctx.check(answer.status_code == 200, f"ITI-67 without a token answered HTTP {answer.status_code}, not 200")


async def flavour_given(ctx: CaseContext) -> None:
    if "flavour" not in ctx.options:
        ctx.skip("no flavour option in this run")
    ctx.note(f"flavour {ctx.options['flavour']}")


async def clock_frozen(ctx: CaseContext) -> None:
    ctx.instruct("Freeze the sandbox clock: PUT /sandbox/clock {\"frozen\": true}")

    async def frozen() -> bool | None:
        answer = await ctx.actor("sandbox", "GET", "/clock", operator=True)
        return True if answer.json()["frozen"] else None

    await ctx.wait_for(frozen, what="the sandbox clock to be frozen", interval=0.1)


SUITE = Suite(
    name="self-test", title="The sandbox checks itself", target_kind="dds",
    description="A suite of the tests' own against the sandbox's own DDS.",
    cases=(Case("personas-listed", "NSP lists its personas", personas_listed, "nsp.md"),
           Case("search-without-token", "DDS answers a search without a token with 200", search_without_token),
           Case("flavour-given", "A flavour option was given", flavour_given),
           Case("clock-frozen", "The participant freezes the clock", clock_frozen)),
    options={"flavour": "any text, noted"})
NOT_INTERACTIVE = ["personas-listed", "search-without-token", "flavour-given"]


@pytest.fixture(autouse=True)
def self_test_suite(monkeypatch: pytest.MonkeyPatch) -> Suite:
    """The suite offered beside (or instead of) the real ones."""
    offered = [SUITE]
    monkeypatch.setattr(suites, "all_suites", lambda: list(offered))
    return SUITE


def finished(get: Any, run_id: str, timeout: float = 60.0) -> dict[str, Any]:
    """Poll ``GET /sandbox/runs/{id}`` (``get`` is a client's ``get``) until the run is over; its JSON."""
    deadline = time.monotonic() + timeout
    while True:
        answer: httpx.Response = get(f"/sandbox/runs/{run_id}")
        assert answer.status_code == 200, answer.text
        if answer.json()["status"] != "running":
            return answer.json()
        assert time.monotonic() < deadline, f"run still going: {answer.json()}"
        time.sleep(0.05)


@pytest.fixture
def origin(context: SandboxContext) -> Iterator[str]:
    """A running sandbox server on a free port (its database: the test's)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_sandbox_app(context, warm_packages=False), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
