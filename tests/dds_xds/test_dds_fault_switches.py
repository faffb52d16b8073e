"""DDS's fault switches (``GET /sandbox/faults``): XDSRegistryBusy on the XDS.b face, HTTP 503 and slow
answers on both faces — each on for a number of calls, then DDS answers as before."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient
from read_support import GRETHE, as_gp, provide_years
from sts_client import auth
from xds_support import REPOSITORY, find_documents, payload, registry_errors, retrieve, status_word, unique_ids

from nsp_sandbox.xds import namespaces as ns

SEARCH = "/dds/fhir/DocumentReference"
PARAMS = {"patient.identifier": f"urn:oid:1.2.208.176.1.2|{GRETHE}", "status": "current"}


def switch(client: TestClient, name: str, **body: Any) -> None:
    response = client.put(f"/sandbox/faults/dds/{name}", json={"on": True, **body})
    assert response.status_code == 200, response.text


def test_registry_busy_answers_each_xds_transaction_in_its_own_response(client: TestClient) -> None:
    provide_years(client)
    switch(client, "registry-busy", calls=2)
    busy = payload(as_gp(client, find_documents(GRETHE)))
    assert busy.tag == f"{{{ns.QUERY}}}AdhocQueryResponse" and status_word(busy) == "Failure"
    assert [e[:2] for e in registry_errors(busy)] == [("XDSRegistryBusy", "Error")]
    busy_retrieve = payload(as_gp(client, retrieve("urn:uuid:x"), path=REPOSITORY))
    assert busy_retrieve.tag == f"{{{ns.XDSB}}}RetrieveDocumentSetResponse"
    assert [e[0] for e in registry_errors(busy_retrieve)] == ["XDSRegistryBusy"]
    # The MHD face is not the registry's SOAP face: not counted, not refused.
    assert client.get(SEARCH, params=PARAMS, headers=auth(client, "gp-skodstrup")).status_code == 200
    found = payload(as_gp(client, find_documents(GRETHE)))  # the two calls are used up
    assert status_word(found) == "Success" and len(unique_ids(found)) == 2


def test_unavailable_answers_503_on_both_faces(client: TestClient) -> None:
    headers = auth(client, "gp-skodstrup")
    switch(client, "unavailable", calls=2, retry_after=7)
    refused = client.get(SEARCH, params=PARAMS, headers=headers)
    assert refused.status_code == 503 and refused.headers["retry-after"] == "7"
    assert refused.json()["resourceType"] == "OperationOutcome" and "dds/unavailable" in refused.text
    assert as_gp(client, find_documents(GRETHE)).status_code == 503
    assert client.get(SEARCH, params=PARAMS, headers=headers).status_code == 200


def test_slow_holds_the_answer_back(client: TestClient) -> None:
    headers = auth(client, "gp-skodstrup")
    switch(client, "slow", calls=1, seconds=0.6)
    started = time.perf_counter()
    assert client.get(SEARCH, params=PARAMS, headers=headers).status_code == 200
    assert time.perf_counter() - started >= 0.6
    listed = {(s["actor"], s["name"]): s["state"] for s in client.get("/sandbox/faults").json()}
    assert listed["dds", "slow"] == {"on": False}  # its one call is used
