"""The EOJ's and the GP system's statistics faces (``GET /eoj/statistics``, ``GET /lps/statistics``)
after driving the HomeCareObservation flow the real way: messages per sending municipality,
results per analysis per ISO week in Danish time, acknowledgements by outcome, DDS copies and why
not — and never a CPR number."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from hco_flow import CPR, SKODSTRUP, send, switches

from nsp_sandbox.context import SandboxContext

AARHUS = "937961000016000"  # Aarhus Kommune: the EOJ persona's municipality (its acute team sends)
# Sunday 23:30 UTC is Monday 00:30 in Denmark: ISO week 46 there, week 45 in UTC.
SUNDAY_NIGHT = datetime(2026, 11, 8, 23, 30, tzinfo=UTC)


def _stats(client: TestClient, actor: str) -> dict[str, Any]:
    response = client.get(f"/{actor}/statistics")
    assert response.status_code == 200, response.text
    assert CPR not in response.text  # never a CPR number in a statistic
    return response.json()  # type: ignore[no-any-return]


def test_nothing_sent_yet_is_all_zeroes(client: TestClient) -> None:
    eoj = _stats(client, "eoj")
    assert eoj["messages"] == {"total": 0, "by_activity": {}}
    assert eoj["by_municipality"] == [] and eoj["by_analysis_week"] == []
    assert eoj["acknowledgements"] == [{"outcome": o, "messages": 0} for o in ("ok", "error", "fatal", "none")]
    assert eoj["dds"] == {"shared": 0, "not_shared": 0, "not_shared_by_reason": []}
    assert _stats(client, "lps")["received"] == 0


def test_counts_after_the_flow(client: TestClient, context: SandboxContext) -> None:
    context.clock.freeze(SUNDAY_NIGHT)
    first = send(client)
    assert client.post(f"/eoj/hco/{first['id']}/modify", json={
        "observations": [{"code": "NPU19748", "value": 62}]}).status_code == 201
    assert client.post(f"/eoj/hco/{first['id']}/retract", json={"reason": "Cancellation due to incorrect CPR-number"}
                       ).status_code == 201
    send(client, refused_consent=True)
    switches(client, mode="fatal")
    send(client, observations=[{"code": "NPU19748", "value": 3}])
    switches(client, mode="normal", withhold=True)
    send(client, observations=[{"code": "NPU19748", "value": 4}])

    eoj = _stats(client, "eoj")
    assert eoj["messages"] == {"total": 6, "by_activity": {"modified-message": 1, "new-message": 4,
                                                           "retract-message": 1}}
    # a modification carries every result again: 4 (new) + 4 (modified) + 4 (refused consent) + 1 + 1
    assert eoj["by_municipality"] == [{"sor": AARHUS, "municipality": "Aarhus Kommune", "messages": 6,
                                       "results": 14}]
    crp = next(r for r in eoj["by_analysis_week"] if r["code"] == "NPU19748")
    assert crp["week"] == "2026-W46" and crp["results"] == 5
    assert crp["system"] == "urn:oid:1.2.208.176.2.1" and "C-reaktivt protein" in crp["display"]
    assert {r["week"] for r in eoj["by_analysis_week"]} == {"2026-W46"}
    assert {r["code"] for r in eoj["by_analysis_week"]} == {"NPU19748", "NPU22089", "MCS88122", "NPU21578"}
    assert eoj["acknowledgements"] == [{"outcome": "ok", "messages": 4}, {"outcome": "error", "messages": 0},
                                       {"outcome": "fatal", "messages": 1}, {"outcome": "none", "messages": 1}]
    # the new message, its modification (which replaced it), and the refused and the unanswered one: the DDS
    # copy goes with the message, whatever the GP answers
    assert eoj["dds"]["shared"] == 4
    assert {r["reason"]: r["messages"] for r in eoj["dds"]["not_shared_by_reason"]} == {
        "retraction": 1, "refused-consent": 1}

    lps = _stats(client, "lps")
    assert lps["received"] == 6
    assert lps["by_practice"] == [{"sor": SKODSTRUP, "messages": 6}]
    assert {r["outcome"]: r["messages"] for r in lps["acknowledgements_sent"]} == {"ok": 5, "error": 0, "fatal": 1}


def test_a_transient_error_counts_as_error_until_resent(client: TestClient) -> None:
    switches(client, mode="transient")
    send(client)
    eoj = _stats(client, "eoj")
    assert {r["outcome"]: r["messages"] for r in eoj["acknowledgements"]}["error"] == 1
    assert eoj["dds"]["shared"] == 1 and eoj["dds"]["not_shared_by_reason"] == []  # shared with the message
