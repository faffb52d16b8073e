"""Tokens from the sandbox's STS for tests, over HTTP only: ``token`` / ``auth`` for a persona."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx

SOURCE_SYSTEM = "system-eoj-aarhus"  # Aarhus Kommune's EOJ: provides documents
READER = "gp-skodstrup"  # Skødstrup Lægepraksis' GP: reads, with a treatment relation


def token(client: httpx.Client, persona: str, audience: Any = None) -> str:
    """An access token of ``persona`` from ``POST /nsp/sts/token`` (for ``audience`` when given)."""
    body: dict[str, Any] = {"persona": persona}
    if audience is not None:
        body["audience"] = audience
    response = client.post("/nsp/sts/token", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def auth(client: httpx.Client, persona: str, audience: Any = None) -> dict[str, str]:
    """The ``Authorization`` header of ``persona``."""
    return {"Authorization": f"Bearer {token(client, persona, audience)}"}


def add_relation(client: httpx.Client, professional: str, cpr: str, valid_from: str = "2000-01-01",
                 valid_to: str | None = None) -> dict[str, Any]:
    """Register a treatment relation in BRS, as a health-care system does."""
    response = client.post("/nsp/brs/relations", headers=auth(client, SOURCE_SYSTEM, "nsp"), json={
        "professional": professional, "cpr": cpr, "valid_from": valid_from, "valid_to": valid_to})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]
