"""The HomeCareObservation flow end to end: the EOJ sends over HTTP to the GP emulator, the GP
acknowledges, the EOJ shares to DDS; modifications replace, retractions deprecate, refused consent
is never published, and nothing is published before the policy date without consent."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from hco_flow import CPR, dds_entries, send, status
from sts_client import auth

from nsp_sandbox.config import Strictness
from nsp_sandbox.context import SandboxContext


def _title(entry: dict) -> str:  # type: ignore[type-arg]
    return str(entry["content"][0]["attachment"]["title"])


def test_new_modify_retract_leave_dds_and_the_gp_in_the_right_states(client: TestClient) -> None:
    first = send(client)
    assert first["ack"] == "ok"
    assert first["dds"]["entry"] is not None and first["dds"]["why_not"] is None
    (current,) = dds_entries(client)
    assert current["id"] == first["dds"]["entry"]
    assert current["type"]["coding"][0]["code"] == "HCOM"
    assert current["content"][0]["format"]["code"] == "urn:ad:dk:medcom:msg:hco-v1.2:full"
    assert first["id"] in _title(current)
    # The shared document is the message Bundle itself (ITI-68).
    document = client.get(current["content"][0]["attachment"]["url"], headers=auth(client, f"citizen-{CPR}"))
    assert document.status_code == 200 and document.json()["id"] == first["bundle_id"]

    modified = client.post(f"/eoj/hco/{first['id']}/modify",
                           json={"observations": [{"code": "NPU22089", "value": 7.1}]}).json()
    assert modified["ack"] == "ok"
    (current,) = dds_entries(client)
    (superseded,) = dds_entries(client, status_="superseded")
    assert current["id"] == modified["dds"]["entry"] and modified["id"] in _title(current)
    assert superseded["id"] == first["dds"]["entry"]
    assert current["relatesTo"][0]["code"] == "replaces"

    retracted = client.post(f"/eoj/hco/{first['id']}/retract", json={}).json()
    assert retracted["ack"] == "ok"
    assert retracted["dds"]["entry"] is None
    assert modified["dds"]["entry"] in retracted["dds"]["why_not"]
    assert dds_entries(client) == []
    assert [e["id"] for e in dds_entries(client, status_="entered-in-error")] == [modified["dds"]["entry"]]
    assert [e["id"] for e in dds_entries(client, status_="superseded")] == [first["dds"]["entry"]]

    chain = status(client, first["id"])["chain"]
    assert [(m["activity"], m["ack"]) for m in chain] == [
        ("new-message", "ok"), ("modified-message", "ok"), ("retract-message", "ok")]
    (gp,) = client.get("/lps/inbox", params={"cpr": CPR}).json()
    assert gp["status"] == "cancelled" and len(gp["history"]) == 3


def test_refused_consent_is_never_published(client: TestClient) -> None:
    refused = send(client, refused_consent=True)
    assert refused["ack"] == "ok"
    assert refused["dds"]["entry"] is None
    assert "refused consent" in refused["dds"]["why_not"]
    modified = client.post(f"/eoj/hco/{refused['id']}/modify", json={"clinical_comment": "Tilføjelse"}).json()
    assert modified["dds"]["entry"] is None and "refused consent" in modified["dds"]["why_not"]
    for state in ("current", "superseded", "entered-in-error"):
        assert dds_entries(client, status_=state) == []
    (gp,) = client.get("/lps/inbox", params={"cpr": CPR}).json()
    assert gp["refused_consent"] is True  # the GP who asked always sees the results


def test_before_the_policy_date_nothing_is_published(client: TestClient, context: SandboxContext) -> None:
    context.clock.travel_to(datetime(2026, 1, 14, 12, 0, tzinfo=UTC))
    without = send(client)
    assert without["ack"] == "ok" and without["dds"]["entry"] is None
    assert without["dds"]["state"] == "not-shared" and "2026-01-15" in without["dds"]["why_not"]
    # The order's consent is not in the message: the EOJ provides it, and DDS itself refuses an HCOM
    # before the policy date (dds_rules_hco_consent, default reject).
    with_consent = send(client, consent=True)
    assert with_consent["dds"]["entry"] is None and with_consent["dds"]["state"] == "refused"
    assert "policy date" in with_consent["dds"]["why_not"]
    context.settings.dds_rules_hco_consent = Strictness.WARNING  # DDS only warns: the consented copy is taken
    warned = send(client, consent=True)
    assert warned["dds"]["entry"] is not None
    modified = client.post(f"/eoj/hco/{warned['id']}/modify", json={"clinical_comment": "x"}).json()
    assert modified["dds"]["entry"] is not None  # a modification of a consented message keeps its consent
    assert {e["id"] for e in dds_entries(client)} == {modified["dds"]["entry"]}


@pytest.mark.parametrize(("utc", "shared"), [
    (datetime(2026, 1, 14, 22, 55, tzinfo=UTC), False),  # 23:55 on 14 January in Copenhagen
    (datetime(2026, 1, 14, 23, 5, tzinfo=UTC), True),  # 00:05 on 15 January in Copenhagen, still the 14th in UTC
])
def test_the_policy_date_is_judged_in_danish_time(client: TestClient, context: SandboxContext, utc: datetime,
                                                  shared: bool) -> None:
    context.clock.travel_to(utc)
    sent = send(client)
    assert (sent["dds"]["entry"] is not None) is shared, sent["dds"]


def test_the_policy_date_is_a_setting(client: TestClient, context: SandboxContext) -> None:
    context.settings.hco_policy_date = datetime(2030, 1, 1).date()
    later = send(client)
    assert later["dds"]["entry"] is None and "2030-01-01" in later["dds"]["why_not"]


def test_an_ecpr_patient_reaches_the_gp_but_not_dds(client: TestClient) -> None:
    sent = send(client, cpr="0703921VJ5", family="Hansen", given=["Peter"])
    assert sent["ack"] == "ok"
    assert sent["dds"]["entry"] is None and "eCPR" in sent["dds"]["why_not"]
    assert len(client.get("/lps/inbox", params={"cpr": "0703921VJ5"}).json()) == 1
