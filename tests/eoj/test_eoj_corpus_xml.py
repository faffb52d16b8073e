"""The replay corpus in FHIR XML (``hco.md`` §7.3): every case also exists as XML, converted from its JSON
form by the project's one FHIR JSON⇄XML converter when it is sent, as ``application/fhir+xml`` (inside
the SBDH envelope when the receiver's endpoint uses one), and the sandbox's GP inbox answers each XML
case exactly as the JSON one."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from face_access import bearer, stranger
from fastapi.testclient import TestClient
from hco_flow import SKODSTRUP, operator, status

from nsp_sandbox.context import SandboxContext

HELD = "correction-of-unknown-original"  # held for its original; refused when the hold ends


def _endpoint(client: TestClient, **change: Any) -> None:
    endpoint = next(e for e in client.get("/eoj/endpoints").json() if e["sor"] == SKODSTRUP)
    response = operator(client).put("/eoj/endpoints", json={**endpoint, **change})
    assert response.status_code == 200, response.text


def _run(client: TestClient, **params: str) -> list[dict[str, Any]]:
    response = client.post("/eoj/corpus/run", params={"receiver": SKODSTRUP, **params})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _answer(result: dict[str, Any]) -> tuple[Any, ...]:
    return result["case"], result["expected"], result["expected_issue"], result["ack"], result["issues"], \
        result["result"]


def _received_as(client: TestClient, result: dict[str, Any]) -> str:
    """The format the GP system received the case's message in (each practice reads its own messages, and
    the official examples keep their receivers: Skødstrup and Agerskov)."""
    rows = [row for gp in ("gp-skodstrup", "gp-agerskov")
            for row in stranger(client).get("/lps/received", params={"header_id": result["message"]},
                                            headers=bearer(client, gp, "lps")).json()]
    (row,) = rows
    return str(row["format"])


def test_the_catalogue_offers_every_case_in_json_and_xml(client: TestClient) -> None:
    cases = client.get("/eoj/corpus").json()
    assert len(cases) > 20
    assert all(c["formats"] == ["json", "xml"] for c in cases), cases


@pytest.mark.parametrize("group", ["examples", "protocol", "testscripts", "faults"])
def test_the_gp_inbox_answers_every_xml_case_as_the_json_one(client: TestClient, context: SandboxContext,
                                                             group: str) -> None:
    results = _run(client, case=group, format="both")
    as_json = [r for r in results if r["format"] == "json"]
    as_xml = [r for r in results if r["format"] == "xml"]
    assert len(as_json) == len(as_xml) == len(results) // 2 and as_json
    assert [_answer(r) for r in as_xml] == [_answer(r) for r in as_json]
    assert all(r["result"] == ("pending" if r["case"] == HELD else "pass") for r in results), results
    held = [r["message"] for r in results if r["case"] == HELD]
    if held:
        context.clock.travel_to(context.clock.now() + timedelta(minutes=context.settings.lps_hold_minutes, seconds=1))
        assert len(operator(client).post("/lps/outbox/deliver").json()["released"]) == 2
        finals = [status(client, header_id) for header_id in held]
        assert [(f["ack"], [c["code"] for i in f["ack_outcome"]["issue"] for c in i["details"]["coding"]])
                for f in finals] == [("fatal-error", ["MSG_NO_EXIST"])] * 2
    assert {_received_as(client, r) for r in as_json} == {"json"}
    assert {_received_as(client, r) for r in as_xml} == {"xml"}


def test_xml_cases_travel_in_the_sbdh_envelope_where_the_endpoint_uses_it(client: TestClient) -> None:
    as_json = _run(client, case="protocol")
    _endpoint(client, envelope="sbdh")
    as_xml = _run(client, case="protocol", format="xml")
    assert [_answer(r) for r in as_xml] == [_answer(r) for r in as_json]
    assert all(r["result"] == "pass" for r in as_xml), as_xml
    for result in as_xml:
        sent = client.get(f"/eoj/hco/{result['message']}").json()
        assert "SBDH envelope" in sent["send_result"] and sent["format"] == "xml"
        assert _received_as(client, result) == "xml"


def test_a_case_runs_alone_in_xml_by_its_suffix(client: TestClient) -> None:
    (result,) = _run(client, case="protocol:ReceiveTestExample5:xml")
    assert (result["case"], result["format"], result["ack"], result["result"]) == \
        ("protocol:ReceiveTestExample5", "xml", "fatal-error", "pass")
    assert "MSG_BAD_FORMAT" in result["issues"] and _received_as(client, result) == "xml"
    (fault,) = _run(client, case="unknown-npu-code", format="xml")
    assert (fault["format"], fault["ack"], fault["result"]) == ("xml", "fatal-error", "pass")


def test_an_unknown_format_is_refused(client: TestClient) -> None:
    response = client.post("/eoj/corpus/run", params={"receiver": SKODSTRUP, "format": "yaml"})
    assert response.status_code == 422
    (issue,) = response.json()["issue"]
    assert issue["expression"] == ["format"] and "both" in issue["diagnostics"]
    assert client.get("/lps/received").json() == []
