"""The fault switches' store (``nsp_sandbox.faults``) and its HTTP face (``/sandbox/faults``): on for a
number of calls or until an instant on the sandbox clock, shared by every process on the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from nsp_sandbox.clock import Clock
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.database import Database
from nsp_sandbox.faults import CATALOGUE, REFRESH_SECONDS, FaultSwitches


def test_a_switch_on_for_calls_is_used_up_call_by_call(context: SandboxContext) -> None:
    switches = FaultSwitches(context.database, context.clock)
    assert switches.take("dds", "slow") is None
    switches.set("dds", "slow", {"on": True, "calls": 2, "seconds": 0.5})
    assert switches.take("dds", "slow") == {"seconds": 0.5}
    assert switches.describe(next(s for s in CATALOGUE if s.key == ("dds", "slow")))["state"] == {
        "on": True, "calls_left": 1, "until": None, "used": 1, "seconds": 0.5}
    assert switches.take("dds", "slow") == {"seconds": 0.5}
    assert switches.take("dds", "slow") is None  # used up: off
    assert switches.describe(next(s for s in CATALOGUE if s.key == ("dds", "slow")))["state"] == {"on": False}


def test_a_switch_on_until_an_instant_follows_the_sandbox_clock(context: SandboxContext) -> None:
    switches = FaultSwitches(context.database, context.clock)
    now = context.clock.now()
    switches.set("eoj", "duplicate", {"on": True, "until": (now + timedelta(hours=1)).isoformat()})
    assert switches.take("eoj", "duplicate") == {}
    assert switches.take("eoj", "duplicate") == {}  # no count: as often as it is asked
    context.clock.travel_to(now + timedelta(hours=1, seconds=1))
    assert switches.take("eoj", "duplicate") is None


def test_every_process_on_the_database_follows_one_switch(context: SandboxContext) -> None:
    """Two stores on one database stand for two worker processes or two containers."""
    first = FaultSwitches(context.database, context.clock)
    second = FaultSwitches(Database.from_url(context.settings.resolved_database_url()), Clock())
    assert second.take("nsp", "sts-refuse") is None
    first.set("nsp", "sts-refuse", {"on": True, "calls": 1})
    second._checked -= REFRESH_SECONDS  # as if REFRESH_SECONDS had passed in the other process
    assert second.take("nsp", "sts-refuse") == {"status": 503, "retry_after": 30}
    first._checked -= REFRESH_SECONDS
    assert first.take("nsp", "sts-refuse") is None  # the other process used the one call


@pytest.fixture
def operator(context: SandboxContext) -> TestClient:
    from sandbox.app import create_sandbox_app

    return TestClient(create_sandbox_app(context, warm_packages=False), base_url="http://sandbox.test",
                      client=("127.0.0.1", 50000))


def test_the_list_names_every_switch_with_its_state(operator: TestClient) -> None:
    listed = operator.get("/sandbox/faults")
    assert listed.status_code == 200, listed.text
    names = {(s["actor"], s["name"]) for s in listed.json()}
    assert names == {s.key for s in CATALOGUE}
    assert {a for a, _ in names} == {"dds", "nsp", "lps", "plsp", "eoj"}
    assert all(s["description"] and s["state"] == {"on": False} for s in listed.json())

    until = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    on = operator.put("/sandbox/faults/dds/unavailable", json={"on": True, "until": until, "retry_after": 5})
    assert on.status_code == 200, on.text
    assert on.json()["state"]["on"] is True and on.json()["state"]["retry_after"] == 5
    assert on.json()["state"]["until"].startswith(until[:16])
    off = operator.put("/sandbox/faults/dds/unavailable", json={"on": False})
    assert off.json()["state"] == {"on": False}


def test_the_gp_inbox_s_own_switches_show_in_the_list_and_go_off_with_the_rest(operator: TestClient) -> None:
    assert operator.put("/lps/switches", json={"withhold": True, "mode": "fatal"}).status_code == 200
    assert operator.put("/sandbox/faults/eoj/resend", json={"on": True}).status_code == 200
    shown = {(s["actor"], s["name"]): s["state"] for s in operator.get("/sandbox/faults").json()}
    assert shown["lps", "withhold"] == {"on": True, "set_by": "PUT /lps/switches"}
    assert shown["lps", "mode-fatal"]["set_by"] == "PUT /lps/switches"
    assert shown["lps", "mode-ok"] == {"on": False}
    assert shown["eoj", "resend"]["on"] is True

    off = operator.delete("/sandbox/faults")
    assert off.status_code == 200, off.text
    assert all(s["state"] == {"on": False} for s in off.json())
    assert operator.get("/lps/switches").json() == {"mode": "normal", "withhold": False, "twice": False,
                                                    "delay_minutes": 0, "receipt": True}


@pytest.mark.parametrize("path, body, field", [
    ("dds/slow", {"on": True, "seconds": "long"}, "seconds"),
    ("dds/slow", {"on": True, "minutes": 3}, "minutes"),
    ("dds/slow", {"on": "yes"}, "on"),
    ("dds/slow", {"on": True, "calls": 0}, "calls"),
    ("dds/slow", {"on": True, "until": "2030-01-01T00:00:00"}, "until"),
    ("dds/slow", {"on": True, "calls": 2, "until": "2030-01-01T00:00:00Z"}, "until"),
    ("nsp/sts-expired-token", {"on": True, "minutes": 5}, "minutes"),
])
def test_bad_bodies_are_refused_naming_the_field(operator: TestClient, path: str, body: dict[str, object],
                                                 field: str) -> None:
    refused = operator.put(f"/sandbox/faults/{path}", json=body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["issue"][0]["expression"] == [field]


def test_an_unknown_switch_is_404(operator: TestClient) -> None:
    assert operator.put("/sandbox/faults/dds/on-fire", json={"on": True}).status_code == 404
    assert operator.put("/sandbox/faults/ehr/slow", json={"on": True}).status_code == 404
