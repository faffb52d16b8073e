"""The sandbox's root app hands a request for an actor straight to the actor's mount (``sandbox/root_app.py``): every
answer must be the one the root app gave when each request went through its own stack and router first."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from nsp_sandbox.context import SandboxContext
from sandbox.app import create_sandbox_app
from sandbox.root_app import SandboxApp

# (method, path, body): the actors' answers of every kind, the root app's own routes, and what no actor serves
REQUESTS: list[tuple[str, str, bytes | None]] = [
    ("GET", "/dds/fhir/metadata", None),
    ("GET", "/dds/fhir/metadata?_format=json", None),
    ("GET", "/dds/fhir/DocumentReference?patient.identifier=urn:oid:1.2.208.176.1.2|0101011234", None),
    ("POST", "/dds/fhir", b'{"resourceType": "Bundle", "type": "transaction", "type": "batch"}'),
    ("POST", "/dds/fhir", b"not json"),
    ("GET", "/dds/documents/no-such-entry", None),
    ("DELETE", "/dds/documents/no-such-entry", None),
    ("GET", "/dds/fhir/metadata?x=%01", None),
    ("GET", "/dds/fhir/DocumentReference/%41bc", None),
    ("GET", "/dds/nothing-here", None),
    ("GET", "/dds", None),
    ("GET", "/dds/", None),
    ("GET", "/view/", None),
    ("GET", "/nsp/", None),
    ("GET", "/sandbox/clock", None),
    ("GET", "/", None),
    ("GET", "/health", None),
    ("GET", "/nothing-here", None),
    ("GET", "/ddsx/fhir/metadata", None),
]


def _answer(client: TestClient, method: str, path: str, body: bytes | None) -> tuple[Any, ...]:
    response = client.request(method, path, content=body, follow_redirects=False,
                              headers={"Content-Type": "application/fhir+json"} if body is not None else {})
    headers = {k: v for k, v in response.headers.items() if k not in ("date", "x-request-id")}
    return response.status_code, headers, response.content


@pytest.fixture
def sandbox_app(context: SandboxContext) -> Any:
    app = create_sandbox_app(context, warm_packages=False)
    assert isinstance(app, SandboxApp) and app.direct
    with TestClient(app, base_url="http://sandbox.test") as client:
        yield app, client


@pytest.mark.parametrize(("method", "path", "body"), REQUESTS)
def test_every_answer_is_the_one_the_root_apps_router_gave(sandbox_app: Any, method: str, path: str,
                                                           body: bytes | None) -> None:
    app, client = sandbox_app
    _answer(client, method, path, body)  # anything built at a first request is built
    app.direct = False
    through_router = _answer(client, method, path, body)
    app.direct = True
    assert _answer(client, method, path, body) == through_router


def test_an_actor_mounted_after_the_first_request_is_reached_too(sandbox_app: Any) -> None:
    from fastapi import FastAPI

    app, client = sandbox_app
    assert client.get("/dds/fhir/metadata").status_code == 200
    extra = FastAPI()

    @extra.get("/ping")
    def ping() -> dict[str, str]:
        return {"pong": "yes"}

    app.mount("/extra", extra)
    answer = client.get("/extra/ping")
    assert answer.json() == {"pong": "yes"}
    assert answer.headers["x-content-type-options"] == "nosniff"  # inside the root app's security headers


def test_a_route_before_an_actors_mount_takes_what_it_matches(sandbox_app: Any) -> None:
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    app, client = sandbox_app
    assert client.get("/dds/fhir/metadata").status_code == 200

    def stand_in(_request: Request) -> PlainTextResponse:
        return PlainTextResponse("stand-in", status_code=418)

    app.router.routes.insert(0, Route("/dds/fhir/metadata", stand_in))
    assert client.get("/dds/fhir/metadata").status_code == 418
    assert client.get("/nsp/").status_code == 200  # the other actors are still reached straight
    app.router.routes[0] = Route("/{anything:path}", stand_in)
    assert client.get("/nsp/").status_code == 418


def test_a_root_app_that_traces_or_limits_bodies_passes_every_request_through_its_router() -> None:
    assert SandboxApp(traced=False).direct
    assert not SandboxApp(traced=True).direct
    assert not SandboxApp(traced=False, max_body_size=1000).direct
