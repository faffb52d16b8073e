"""The operator endpoints the actors serve (``PUT /lps/switches`` & co.) stay where they are, are listed
under ``GET /sandbox`` and answer only the operator, as the control face does; the control face's own
calls to them carry the operator's token."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from nsp_sandbox.context import SandboxContext
from sandbox.app import create_sandbox_app

GUARDED = [("PUT", "/lps/switches", {"twice": True}), ("POST", "/lps/outbox/deliver", None),
           ("PUT", "/eoj/endpoints", {}), ("PUT", "/lps/return-addresses", {}),
           ("POST", "/nsp/sandbox/world", {}), ("POST", "/dds/sandbox/reset", None),
           ("POST", "/eoj/sandbox/reset", None), ("GET", "/dds/requests", None)]


def test_the_control_face_lists_its_calls_and_the_actors_operator_endpoints(client: TestClient) -> None:
    index = client.get("/sandbox")
    assert index.status_code == 200, index.text
    faces = {(f["method"], f["path"]) for f in index.json()["faces"]}
    assert {("POST", "/sandbox/world"), ("PUT", "/sandbox/endpoints/{GLN or SOR}"), ("POST", "/sandbox/reset"),
            ("GET", "/sandbox/faults"), ("PUT", "/sandbox/faults/{actor}/{name}"), ("DELETE", "/sandbox/faults"),
            ("GET", "/sandbox/clock")} <= faces
    operator = {(e["method"], e["path"]) for e in index.json()["operator_endpoints"]}
    assert {("PUT", "/lps/switches"), ("POST", "/lps/outbox/deliver"), ("PUT", "/eoj/endpoints"),
            ("PUT", "/lps/return-addresses")} <= operator


@pytest.fixture
def remote(context: SandboxContext) -> Iterator[TestClient]:
    with TestClient(create_sandbox_app(context, warm_packages=False), client=("192.0.2.10", 50000)) as c:
        yield c


@pytest.mark.parametrize("method, path, body", GUARDED)
def test_a_caller_from_the_network_is_refused(remote: TestClient, method: str, path: str,
                                              body: dict[str, object] | None) -> None:
    refused = remote.request(method, path, json=body)
    assert refused.status_code == 403, refused.text
    assert refused.json()["issue"][0]["details"]["coding"][0]["code"] == "sandbox-operator-loopback"


def test_what_is_not_an_operator_endpoint_is_not_guarded(remote: TestClient) -> None:
    assert remote.get("/lps/switches").status_code == 200
    assert remote.get("/eoj/endpoints").status_code == 200
    assert remote.get("/sandbox").status_code == 403


def test_with_a_token_the_operator_endpoints_and_the_forwarding_control_face(context: SandboxContext) -> None:
    context.settings = context.settings.model_copy(update={"admin_token": "s3cret"})
    operator = {"Authorization": "Bearer s3cret"}
    with TestClient(create_sandbox_app(context, warm_packages=False), client=("192.0.2.10", 50000)) as c:
        assert c.put("/lps/switches", json={"twice": True}).status_code == 401
        persona = c.post("/nsp/sts/token", json={"persona": "gp-skodstrup"}).json()["access_token"]
        assert c.put("/lps/switches", json={"twice": True},
                     headers={"Authorization": f"Bearer {persona}"}).status_code == 401
        assert c.put("/lps/switches", json={"twice": True}, headers=operator).status_code == 200
        # The control face reaches the guarded endpoints with the token: all off includes PUT /lps/switches.
        assert c.delete("/sandbox/faults", headers=operator).status_code == 200
        assert c.get("/lps/switches").json()["twice"] is False
        reset = c.post("/sandbox/reset", headers=operator)
        assert reset.status_code == 200, reset.text
        assert c.get("/sandbox/endpoints", headers=operator).status_code == 200
