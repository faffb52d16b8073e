"""The endpoint register's message types are enforced (EHMI EER payloadType): the EOJ sends an HCO only
to an endpoint that takes ``homecareobservation-message``, else refuses with MedCom's
``MSG_RECEIVER_UNABLE_TO_RECEIVE_MSG_TYPE``; an unknown receiver names ``MSG_Receiver_Identifier_UNKNOWN``."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from hco_flow import SKODSTRUP, order, send, status

MEDCOM = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-acknowledgement-error-codes"


def _codes(response: Any) -> set[tuple[str, str]]:
    return {(c["system"], c["code"]) for i in response.json()["issue"] for c in i["details"]["coding"]}


def _register(client: TestClient, types: list[str]) -> None:
    endpoint = next(e for e in client.get("/eoj/endpoints").json() if e["sor"] == SKODSTRUP)
    response = client.put("/eoj/endpoints", json={**endpoint, "message_types": types})
    assert response.status_code == 200 and response.json()["message_types"] == types


def test_an_endpoint_that_does_not_take_hco_is_refused_with_the_medcom_code(client: TestClient) -> None:
    bundle = status(client, send(client)["id"])["bundle"]
    _register(client, ["carecommunication-message"])
    refused = client.post("/eoj/hco", json=order())
    assert refused.status_code == 422, refused.text
    assert (MEDCOM, "MSG_RECEIVER_UNABLE_TO_RECEIVE_MSG_TYPE") in _codes(refused)
    assert refused.json()["issue"][0]["expression"] == ["receiver"]
    assert "carecommunication-message" in refused.json()["issue"][0]["diagnostics"]
    ready = client.post("/eoj/messages", json={**bundle, "id": "8f0e6a9c-1111-4c8d-9e7f-2a3b4c5d6e7f"},
                        headers={"Content-Type": "application/fhir+json"})
    assert ready.status_code == 422 and (MEDCOM, "MSG_RECEIVER_UNABLE_TO_RECEIVE_MSG_TYPE") in _codes(ready)
    assert len(client.get("/lps/received").json()) == 1  # nothing more reached the GP
    _register(client, ["carecommunication-message", "homecareobservation-message"])
    assert send(client)["ack"] == "ok"


def test_an_unknown_receiver_names_the_medcom_code(client: TestClient) -> None:
    refused = client.post("/eoj/hco", json=order(receiver="12345678901234"))
    assert refused.status_code == 422
    assert (MEDCOM, "MSG_Receiver_Identifier_UNKNOWN") in _codes(refused)
