"""The test suite's sandbox builds each actor at the first request to it (``create_sandbox_app(lazy_actors=True)``,
``sandbox/lazy_actor.py``): it must be the same sandbox as the one ``nsp-sandbox up`` builds at start."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import httpx2 as httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from nsp_sandbox.context import SandboxContext
from sandbox.app import create_sandbox_app
from sandbox.lazy_actor import LazyActor, mounted_app


def test_the_lazy_sandbox_describes_and_serves_what_the_eager_one_does(context: SandboxContext) -> None:
    eager = create_sandbox_app(context, warm_packages=False)
    lazy = create_sandbox_app(context, warm_packages=False, lazy_actors=True)
    assert [getattr(r, "path", None) for r in lazy.routes] == [getattr(r, "path", None) for r in eager.routes]
    with TestClient(lazy, base_url="http://sandbox.test") as client:
        described = client.get("/openapi.json").json()  # builds every actor to describe it
        assert client.get("/dds/fhir/metadata").json()["resourceType"] == "CapabilityStatement"
    with TestClient(eager, base_url="http://sandbox.test") as client:
        assert client.get("/openapi.json").json() == described
    assert any(path.startswith("/view/") for path in described["paths"])


def test_an_actor_is_built_once_however_many_requests_reach_it_first() -> None:
    builds: list[str] = []

    def build() -> FastAPI:
        builds.append(threading.current_thread().name)
        time.sleep(0.05)  # a build takes its time: the other first requests arrive meanwhile
        app = FastAPI()

        @app.get("/ping")
        def ping() -> dict[str, str]:
            return {"pong": "yes"}

        return app

    actor = LazyActor(build)

    async def first_requests() -> list[Any]:
        transport = httpx.ASGITransport(app=actor)
        async with httpx.AsyncClient(transport=transport, base_url="http://actor.test") as client:
            return list(await asyncio.gather(*(client.get("/ping") for _ in range(5))))

    answers = asyncio.run(first_requests())
    assert [a.json() for a in answers] == [{"pong": "yes"}] * 5
    assert len(builds) == 1 and builds[0] != threading.main_thread().name  # built off the event loop
    assert mounted_app(actor) is mounted_app(actor)
    assert len(builds) == 1


def test_a_build_that_failed_is_tried_again_at_the_next_request() -> None:
    attempts: list[int] = []

    def build() -> FastAPI:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("the database was away")
        app = FastAPI()

        @app.get("/ping")
        def ping() -> dict[str, str]:
            return {"pong": "yes"}

        return app

    root = FastAPI()
    root.mount("/actor", LazyActor(build))
    with TestClient(root, raise_server_exceptions=False) as client:
        assert client.get("/actor/ping").status_code == 500
        assert client.get("/actor/ping").json() == {"pong": "yes"}
    assert len(attempts) == 2
