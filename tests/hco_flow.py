"""Helpers for the HomeCareObservation tests: orders for the EOJ, reading the GP emulator and DDS."""

from __future__ import annotations

from typing import Any

from actor_tokens import operator
from fastapi.testclient import TestClient
from sts_client import auth

CPR = "2509479989"  # Bruno Elmer, MedCom's receive-test patient
SKODSTRUP = "52581000016005"  # Skødstrup Lægepraksis: the sandbox's GP emulator (and an official example's GP)
AGERSKOV = "73091000016008"


def order(**change: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "cpr": CPR, "family": "Elmer", "given": ["Bruno"], "receiver": SKODSTRUP, "initials": "SDaA",
        "clinical_comment": "Borger afkræftet, drikker sparsomt.",
        "observations": [{"code": "NPU22089", "value": 6.8, "comment": "Ikke fastende"},
                         {"code": "NPU19748", "value": 26},
                         {"code": "MCS88122", "value": 25, "comparator": ">"},
                         {"code": "NPU21578", "value": "Negative"}],
    }
    base.update(change)
    return base


def send(client: TestClient, **change: Any) -> dict[str, Any]:
    response = client.post("/eoj/hco", json=order(**change))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def status(client: TestClient, header_id: str) -> dict[str, Any]:
    response = client.get(f"/eoj/hco/{header_id}")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def switches(client: TestClient, **values: Any) -> None:
    response = operator(client).put("/lps/switches", json=values)
    assert response.status_code == 200, response.text


def dds_entries(client: TestClient, cpr: str = CPR, status_: str = "current") -> list[dict[str, Any]]:
    """The citizen's HCOM entries in DDS with ``status_``, as the citizen finds them (ITI-67)."""
    response = client.get("/dds/fhir/DocumentReference", headers=auth(client, f"citizen-{cpr}"),
                          params={"patient.identifier": f"urn:oid:1.2.208.176.1.2|{cpr}", "status": status_})
    assert response.status_code == 200, response.text
    return [e["resource"] for e in response.json().get("entry", []) if e.get("search", {}).get("mode") == "match"]


def lps_received(client: TestClient, header_id: str) -> list[dict[str, Any]]:
    """What the GP emulator received with MessageHeader.id ``header_id``, with its acknowledgements."""
    response = client.get("/lps/received", params={"header_id": header_id})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def profile_errors(validator: Any, resource: dict[str, Any], profile: str) -> list[str]:
    """The conformance engine's errors for ``resource`` against ``profile``, as ``expression: text``."""
    return [f"{i.expression}: {i.diagnostics}" for i in validator.validate(resource, profile) if i.is_error]
