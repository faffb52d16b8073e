"""Every time-driven rule follows the sandbox clock as a vendor's test moves it over HTTP
(``PUT /sandbox/clock``, ``DELETE /sandbox/clock``): the HCO policy date, the EOJ's resend after 30
minutes, PLSP's purge of a cancelled note, Min Log's two-year retention and a child turning 15."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from actor_tokens import operator
from fastapi.testclient import TestClient
from hco_flow import dds_entries, send, status, switches
from sts_client import auth

from nsp_sandbox.plsp_client import PlspClient, note

BRUNO = "2509479989"
IDA = "0505239996"  # born 5 May 2023, two custodial parents (docs/nsp.md)
PARENT = "relative-3001749995"


@pytest.fixture
def control(client: TestClient) -> Iterator[TestClient]:
    """The caller that moves the clock: the operator (a caller on this machine); real time again at the end."""
    local = operator(client)
    yield local
    assert local.delete("/sandbox/clock").status_code == 200


def travel(control: TestClient, instant: datetime, *, frozen: bool = False) -> datetime:
    moved = control.put("/sandbox/clock", json={"now": instant.isoformat(), "frozen": frozen})
    assert moved.status_code == 200, moved.text
    return datetime.fromisoformat(moved.json()["now"].replace("Z", "+00:00"))


def later(control: TestClient, **delta: float) -> datetime:
    now = datetime.fromisoformat(control.get("/sandbox/clock").json()["now"].replace("Z", "+00:00"))
    return travel(control, now + timedelta(**delta), frozen=True)


def test_the_policy_date(client: TestClient, control: TestClient) -> None:
    travel(control, datetime(2026, 1, 14, 23, 50, tzinfo=UTC) - timedelta(hours=1), frozen=True)  # 23:50 Danish
    before = send(client)
    assert before["ack"] == "ok" and before["dds"]["entry"] is None and "2026-01-15" in before["dds"]["why_not"]
    travel(control, datetime(2026, 1, 15, 0, 10, tzinfo=UTC) - timedelta(hours=1), frozen=True)  # 00:10 Danish
    after = send(client)
    assert after["dds"]["entry"] is not None
    assert [e["id"] for e in dds_entries(client)] == [after["dds"]["entry"]]


def test_the_resend_after_thirty_minutes(client: TestClient, control: TestClient) -> None:
    travel(control, datetime(2026, 6, 1, 8, 0, tzinfo=UTC), frozen=True)
    switches(client, withhold=True)
    sent = send(client)
    assert sent["ack"] == "pending"
    later(control, minutes=29)
    assert client.post("/eoj/hco/resend-due").json() == []
    later(control, minutes=2)
    assert [m["id"] for m in client.post("/eoj/hco/resend-due").json()] == [sent["id"]]
    assert len(status(client, sent["id"])["resends"]) == 1


def test_the_purge_of_a_cancelled_note(client: TestClient, control: TestClient) -> None:
    travel(control, datetime(2026, 5, 6, 10, 0, tzinfo=UTC), frozen=True)
    gp = PlspClient.for_persona(client, "system-lps-skodstrup")  # type: ignore[arg-type]
    gp.create_note(BRUNO, note("clock-note", "2026-05-05T10:11:00+02:00", "Årskontrol. BT 138/82 mmHg."))
    gp.cancel("clock-note")
    hours = client.get("/plsp/settings").json()["note_purge_hours"]  # 1 by default, at most 24
    later(control, hours=hours, minutes=-1)
    assert gp.note("clock-note")["state"] == "cancelled"
    later(control, minutes=2)
    purged = gp.note("clock-note")
    assert purged["state"] == "purged" and purged["body_html"] is None


def test_min_log_retention(client: TestClient, control: TestClient) -> None:
    now = travel(control, datetime(2026, 6, 1, 8, 0, tzinfo=UTC), frozen=True)
    entry = {"cpr": BRUNO, "time": (now - timedelta(days=700)).isoformat(), "user_name": "Læge Test",
             "activity": "ITI-67 Find Document References"}
    written = client.post("/nsp/minlog/entries", json=entry, headers=auth(client, "system-dds", "nsp"))
    assert written.status_code == 201, written.text

    def names() -> list[str]:
        log = client.get("/nsp/minlog", headers=auth(client, f"citizen-{BRUNO}"))  # a token of the moved clock
        assert log.status_code == 200, log.text
        return [e["user_name"] for e in log.json()]

    assert "Læge Test" in names()
    later(control, days=40)  # the entry is now 740 days old: past the two years
    assert "Læge Test" not in names()


def test_a_child_turning_15(client: TestClient, control: TestClient) -> None:
    params = {"patient.identifier": f"urn:oid:1.2.208.176.1.2|{IDA}", "status": "current"}
    travel(control, datetime(2038, 5, 4, 12, 0, tzinfo=UTC), frozen=True)  # the day before
    assert client.get("/dds/fhir/DocumentReference", params=params, headers=auth(client, PARENT)).status_code == 200
    travel(control, datetime(2038, 5, 5, 12, 0, tzinfo=UTC), frozen=True)  # Ida's 15th birthday
    refused = client.get("/dds/fhir/DocumentReference", params=params, headers=auth(client, PARENT))
    assert refused.status_code == 403 and IDA in refused.text
