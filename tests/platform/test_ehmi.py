"""The EHMI receive step (``nsp_sandbox.ehmi``): a message arrives bare or in an SBDH envelope; the
envelope is read, its receiver checked against the receiver's own GLNs (when it names them) before
its consistency with the message, and every refusal is a 400 OperationOutcome."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from nsp_sandbox.ehmi import receive
from nsp_sandbox.fhir_http import install_error_handlers
from nsp_sandbox.hco_sbdh import wrap
from nsp_sandbox.hco_terms import GLN_SYSTEM, gln_check_digit

SENDER = "579000012345" + gln_check_digit("579000012345")
RECEIVER = "579000054321" + gln_check_digit("579000054321")
ELSEWHERE = "579000099999" + gln_check_digit("579000099999")
XML = {"Content-Type": "application/xml"}


def _message(receiver_gln: str = RECEIVER) -> dict[str, Any]:
    def organisation(id_: str, gln: str) -> dict[str, Any]:
        return {"fullUrl": f"urn:uuid:{id_}", "resource": {"resourceType": "Organization", "id": id_,
                                                           "identifier": [{"system": GLN_SYSTEM, "value": gln}]}}

    header = {"resourceType": "MessageHeader", "id": "header-1",
              "eventCoding": {"code": "homecareobservation-message"},
              "sender": {"reference": "Organization/from"},
              "destination": [{"receiver": {"reference": "Organization/to"}}]}
    return {"resourceType": "Bundle", "id": "bundle-1", "type": "message",
            "entry": [{"resource": header}, organisation("from", SENDER), organisation("to", receiver_gln)]}


def _client(own_glns: set[str] | None) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/ehmi")
    async def ehmi(request: Request) -> dict[str, Any]:
        bundle, envelope = await receive(request, 1024 * 1024, own_glns=(lambda: own_glns) if own_glns else None,
                                         receivers="a practice here")
        return {"bundle_id": bundle["id"], "envelope": envelope.to_json() if envelope else None}

    return TestClient(app)


def _rules(response: Any) -> list[str]:
    return [i["details"]["coding"][0]["code"] for i in response.json()["issue"]]


@pytest.mark.parametrize("own", [None, {RECEIVER}])
def test_a_bare_message_or_an_envelope_gives_the_bundle(own: set[str] | None) -> None:
    client = _client(own)
    bare = client.post("/ehmi", json=_message(), headers={"Content-Type": "application/fhir+json"})
    assert bare.status_code == 200, bare.text
    assert bare.json() == {"bundle_id": "bundle-1", "envelope": None}
    wrapped = client.post("/ehmi", content=wrap(_message(), datetime.now(UTC))[0], headers=XML)
    assert wrapped.status_code == 200, wrapped.text
    assert wrapped.json()["bundle_id"] == "bundle-1"
    assert wrapped.json()["envelope"]["receiver"] == f"0088:{RECEIVER}"


def test_the_receiver_is_checked_against_its_own_glns_before_consistency() -> None:
    raw, _ = wrap(_message(ELSEWHERE), datetime.now(UTC))
    inconsistent = raw.replace(b"header-1", b"header-2", 1)  # the envelope's MESSAGEIDENTIFIER only
    response = _client({RECEIVER}).post("/ehmi", content=inconsistent, headers=XML)
    assert response.status_code == 400
    (issue,) = response.json()["issue"]
    assert issue["details"]["coding"][0]["code"] == "ehmi-sbdh-receiver"
    assert issue["diagnostics"] == f"The envelope is addressed to 0088:{ELSEWHERE}, which is not a practice here"
    assert issue["expression"] == ["StandardBusinessDocument/StandardBusinessDocumentHeader/Receiver/Identifier"]


def test_without_own_glns_any_receiver_is_taken_but_the_envelope_must_match_the_message() -> None:
    client = _client(None)
    raw, _ = wrap(_message(ELSEWHERE), datetime.now(UTC))
    assert client.post("/ehmi", content=raw, headers=XML).status_code == 200
    refused = client.post("/ehmi", content=raw.replace(b"header-1", b"header-2", 1), headers=XML)
    assert refused.status_code == 400
    assert _rules(refused) == ["ehmi-sbdh-consistent"]


def test_what_is_not_an_envelope_is_refused() -> None:
    response = _client({RECEIVER}).post("/ehmi", content=b"<not-closed", headers=XML)
    assert response.status_code == 400
    assert _rules(response) == ["ehmi-sbdh-xml"]
