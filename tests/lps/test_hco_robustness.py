"""Damaged messages and acknowledgements never break either emulator: each gets an answer (an
acknowledgement when the sender can be found, else an OperationOutcome), never a 5xx."""

from __future__ import annotations

import copy
import random
from typing import Any

from fastapi.testclient import TestClient
from hco_flow import send

FHIR = {"Content-Type": "application/fhir+json"}
JUNK: list[Any] = [None, 1, "s", [], {}, [1], {"a": 1}]


def _mutate(resource: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    out = copy.deepcopy(resource)
    node: Any = out
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node))) if isinstance(node, list) else []
        if not keys:
            return out
        key = rng.choice(keys)
        if rng.random() < 0.3 or not isinstance(node[key], dict | list):
            node[key] = rng.choice(JUNK)
            return out
        node = node[key]


def test_damaged_input_gets_an_answer_never_a_server_error(client: TestClient) -> None:
    sent = send(client)
    message = sent["bundle"]
    ack = client.get("/lps/received").json()[0]["ack"]
    rng = random.Random(5)
    for _ in range(40):
        for path, original in (("/lps/ehmi", message), ("/eoj/messages", message), ("/eoj/ehmi", ack)):
            response = client.post(path, json=_mutate(original, rng), headers=FHIR)
            assert response.status_code < 500, (path, response.text)
            if response.status_code >= 400:
                assert response.json()["resourceType"] == "OperationOutcome"


def test_a_damaged_message_with_a_readable_header_is_acknowledged_negatively(client: TestClient) -> None:
    sent = send(client)
    damaged = copy.deepcopy(sent["bundle"])
    damaged["id"] = "6f1d3c1e-0000-4000-8000-000000000001"
    damaged["entry"][0]["resource"]["id"] = "6f1d3c1e-0000-4000-8000-000000000002"
    patient = next(e["resource"] for e in damaged["entry"] if e["resource"]["resourceType"] == "Patient")
    patient["identifier"] = "2509479989"
    response = client.post("/lps/ehmi", json=damaged, headers=FHIR)
    assert response.status_code == 202, response.text
    assert response.json()["ack"] == "fatal-error"
