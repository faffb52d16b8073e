"""NSP's fault switches (``GET /sandbox/faults``): the STS refuses, or issues tokens that have already
expired — for a number of calls, then it issues good tokens again."""

from __future__ import annotations

from datetime import datetime

import jwt
from fastapi.testclient import TestClient
from lxml import etree

from nsp_sandbox.dgws.faults import read_fault

SEARCH = "/dds/fhir/DocumentReference"
PARAMS = {"patient.identifier": "urn:oid:1.2.208.176.1.2|2509479989", "status": "current"}


def test_the_sts_refuses_for_its_calls_then_issues_again(client: TestClient) -> None:
    on = client.put("/sandbox/faults/nsp/sts-refuse", json={"on": True, "calls": 2})
    assert on.status_code == 200, on.text
    refused = client.post("/nsp/sts/token", json={"persona": "gp-skodstrup"})
    assert refused.status_code == 503 and refused.headers["retry-after"] == "30"
    assert "nsp/sts-refuse" in refused.json()["issue"][0]["diagnostics"]
    assert client.post("/nsp/sts/idcard", json={"persona": "gp-skodstrup"}).status_code == 503
    assert client.get("/nsp/personas").status_code == 200  # only the STS refuses
    assert client.post("/nsp/sts/token", json={"persona": "gp-skodstrup"}).status_code == 200


def test_an_expired_token_is_refused_where_it_is_used(client: TestClient) -> None:
    on = client.put("/sandbox/faults/nsp/sts-expired-token", json={"on": True, "calls": 1, "minutes": 20})
    assert on.status_code == 200, on.text
    stale = client.post("/nsp/sts/token", json={"persona": "gp-skodstrup"}).json()["access_token"]
    claims = jwt.decode(stale, options={"verify_signature": False})
    clock = client.get("/sandbox/clock").json()
    now = datetime.fromisoformat(clock["now"].replace("Z", "+00:00")).timestamp()
    assert claims["exp"] < now - 9 * 60 and claims["iat"] < now - 19 * 60
    expired = client.get(SEARCH, params=PARAMS, headers={"Authorization": f"Bearer {stale}"})
    assert expired.status_code == 401 and "expired" in expired.text
    fresh = client.post("/nsp/sts/token", json={"persona": "gp-skodstrup"}).json()["access_token"]
    assert client.get(SEARCH, params=PARAMS, headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


def test_the_refusing_sts_answers_a_soap_client_with_a_dgws_fault(client: TestClient) -> None:
    """WS-Trust is SOAP: the refusal is a SOAP fault the client can read, not a FHIR OperationOutcome."""
    assert client.put("/sandbox/faults/nsp/sts-refuse", json={"on": True, "calls": 1}).status_code == 200
    envelope = (b'<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
                b"<soap:Header/><soap:Body/></soap:Envelope>")
    refused = client.post("/nsp/sts/services/NewSecurityTokenService", content=envelope,
                          headers={"Content-Type": "text/xml; charset=utf-8"})
    assert refused.status_code == 503 and refused.headers["content-type"].startswith("text/xml")
    assert refused.headers["retry-after"] == "30"
    fault = read_fault(refused.content)
    assert fault is not None and fault.code == "processing_problem" and "nsp/sts-refuse" in fault.message
    assert etree.fromstring(refused.content).findtext(".//faultcode") == "soap:Server"
    after = client.post("/nsp/sts/services/NewSecurityTokenService", content=envelope,
                        headers={"Content-Type": "text/xml; charset=utf-8"})
    assert after.status_code == 500 and read_fault(after.content) is not None  # the STS's own refusal of it
    assert "nsp/sts-refuse" not in after.text
