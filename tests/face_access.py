"""Checks of who may call a face, shared by the EOJ's and the GP system's access tests: a client with
no token from another machine, a persona's token, and the answers a refused caller must get."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx2 as httpx
from actor_tokens import LOCAL
from fastapi.testclient import TestClient
from sts_client import token

from nsp_sandbox.context import SandboxContext


def stranger(client: TestClient) -> TestClient:
    """The in-process sandbox as a caller from another machine without a token sees it."""
    return TestClient(client.app, base_url=str(client.base_url))


def bearer(client: TestClient, persona: str, audience: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(client, persona, audience)}"}


def assert_needs_token(response: httpx.Response) -> None:
    """401 with the OAuth challenge and an OperationOutcome."""
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["resourceType"] == "OperationOutcome"


def assert_refused(response: httpx.Response, rule: str) -> None:
    """403 with an OperationOutcome naming ``rule``."""
    assert response.status_code == 403, response.text
    outcome: dict[str, Any] = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert rule in response.text


@contextmanager
def admin_token(context: SandboxContext, client: TestClient, value: str = "s3cret") -> Iterator[TestClient]:
    """The same sandbox with ``NSP_SANDBOX_ADMIN_TOKEN`` set, called from this machine."""
    before = context.settings
    context.settings = context.settings.model_copy(update={"admin_token": value})
    try:
        yield TestClient(client.app, base_url=str(client.base_url), client=LOCAL)
    finally:
        context.settings = before
