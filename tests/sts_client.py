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


_REGISTRARS: dict[str, str] = {}  # professional → system (the shipped world's, the same in every sandbox)


def registrar(client: httpx.Client, professional: str) -> str:
    """The system that registers ``professional``'s treatment relations: one with the right
    ``brs-register`` whose organisation is the professional's or above it in the SOR tree."""
    if professional in _REGISTRARS:
        return _REGISTRARS[professional]
    personas = {p["id"]: p for p in client.get("/nsp/personas").json()}
    sor = personas[professional]["organisation"]
    tree = [sor, *client.get(f"/nsp/organisations/{sor}").json()["ancestors"]]
    for system in personas.values():
        if system["kind"] == "system" and "brs-register" in system["rights"] and system["organisation"] in tree:
            _REGISTRARS[professional] = str(system["id"])
            return _REGISTRARS[professional]
    raise AssertionError(f"no system registers treatment relations for {professional}")


def add_relation(client: httpx.Client, professional: str, cpr: str, valid_from: str = "2000-01-01",
                 valid_to: str | None = None) -> dict[str, Any]:
    """Register a treatment relation in BRS, as the professional's own health-care system does."""
    response = client.post("/nsp/brs/relations", headers=auth(client, registrar(client, professional), "nsp"), json={
        "professional": professional, "cpr": cpr, "valid_from": valid_from, "valid_to": valid_to})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]
