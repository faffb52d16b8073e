"""The plugin's sandbox handle over the sandbox in process: the clock, fault switches, tokens, world,
reset and the ready clients each do what the HTTP face they stand for does."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import PATIENT, SOURCE, matches
from hco_flow import SKODSTRUP, order

from sandbox.pytest_plugin import Sandbox, SandboxError

VENDOR_CPR = "1212821234"


def test_the_clock_travels_freezes_thaws_and_goes_back_to_real_time(sandbox: Sandbox) -> None:
    sandbox.clock.travel(datetime(2026, 1, 15, 0, 30, tzinfo=UTC), frozen=True)
    assert sandbox.clock.now() == datetime(2026, 1, 15, 0, 30, tzinfo=UTC)
    assert sandbox.clock.state()["frozen"] is True
    sandbox.clock.thaw()
    assert sandbox.clock.state()["frozen"] is False
    sandbox.clock.travel("2026-03-01T08:00:00+01:00")
    sandbox.clock.freeze()
    assert sandbox.clock.state()["frozen"] is True
    assert abs((sandbox.clock.now() - datetime(2026, 3, 1, 7, tzinfo=UTC)).total_seconds()) < 60
    sandbox.clock.reset()
    assert abs((sandbox.clock.now() - datetime.now(UTC)).total_seconds()) < 60
    assert sandbox.clock.state()["frozen"] is False


def test_a_refused_control_call_raises_with_the_sandboxs_own_outcome(sandbox: Sandbox) -> None:
    with pytest.raises(SandboxError) as naive:
        sandbox.clock.travel(datetime(2026, 1, 15, 0, 30))  # no time zone
    assert naive.value.status == 422 and "now" in str(naive.value)
    with pytest.raises(SandboxError) as unknown:
        sandbox.faults.on("dds", "no-such-switch")
    assert unknown.value.status == 404
    with pytest.raises(SandboxError) as both:
        sandbox.faults.on("dds", "slow", calls=1, until="2027-01-01T00:00:00Z")
    assert both.value.status == 422


def test_control_calls_carry_the_operators_token(sandbox: Sandbox) -> None:
    stranger = Sandbox(sandbox.url, None, http=sandbox.http)
    with pytest.raises(SandboxError) as refused:
        stranger.clock.state()
    assert refused.value.status == 401 and "NSP_SANDBOX_ADMIN_TOKEN" in str(refused.value)
    assert "now" in sandbox.clock.state()


def test_a_token_is_kept_per_persona_and_fetched_again_after_the_clock_passed_it(
        sandbox: Sandbox, provide_bundle: Callable[[], dict[str, Any]]) -> None:
    kept = sandbox.token("gp-skodstrup", "dds")
    assert sandbox.token("gp-skodstrup", "dds") == kept
    assert sandbox.token("gp-skodstrup", "lps") != kept
    # The clock moved behind the handle's back: the kept token has expired on the sandbox clock, DDS
    # answers 401, and the client asks the STS again and is answered.
    moved = sandbox.http.put("/sandbox/clock", json={"now": (datetime.now(UTC) + timedelta(hours=2)).isoformat()},
                             headers=sandbox.operator.headers)
    assert moved.status_code == 200
    assert sandbox.http.get("/dds/fhir/DocumentReference", headers={"Authorization": f"Bearer {kept}"},
                            params={"patient.identifier": f"urn:oid:1.2.208.176.1.2|{PATIENT}",
                                    "status": "current"}).status_code == 401
    assert matches(sandbox.mhd("gp-skodstrup").find(PATIENT, status="current")) == []
    assert sandbox.token("gp-skodstrup", "dds") != kept
    # Moving the clock through the handle forgets every kept token.
    fresh = sandbox.token("gp-skodstrup", "dds")
    sandbox.clock.reset()
    assert sandbox.token("gp-skodstrup", "dds") != fresh


def test_an_unknown_persona_gets_no_token(sandbox: Sandbox) -> None:
    with pytest.raises(SandboxError) as refused:
        sandbox.token("nobody-at-all")
    assert refused.value.status in (400, 404, 422)


def test_mhd_provides_finds_and_retrieves_and_a_fault_acts_for_its_calls(
        sandbox: Sandbox, provide_bundle: Callable[[], dict[str, Any]]) -> None:
    bundle = provide_bundle()
    provided = sandbox.mhd(SOURCE).provide(bundle)
    assert provided.status_code == 200, provided.text
    reader = sandbox.mhd("gp-skodstrup")
    (entry,) = matches(reader.find(PATIENT, status="current"))
    document = reader.retrieve(entry["content"][0]["attachment"]["url"])
    assert document.status_code == 200
    assert document.content == base64.b64decode(bundle["entry"][-1]["resource"]["data"])
    assert reader.read(entry["id"]).json()["id"] == entry["id"]

    switched = sandbox.faults.on("dds", "unavailable", calls=1, retry_after=7)
    assert switched["state"]["on"] is True and switched["state"]["calls_left"] == 1
    unavailable = reader.find(PATIENT, status="current")
    assert unavailable.status_code == 503 and unavailable.headers["Retry-After"] == "7"
    assert sandbox.faults.state("dds", "unavailable") == {"on": False}
    assert reader.find(PATIENT, status="current").status_code == 200

    sandbox.faults.on("dds", "unavailable")
    sandbox.faults.off("dds", "unavailable")
    sandbox.faults.on("dds", "slow", calls=3, seconds=0)
    sandbox.faults.off_all()
    assert [s for s in sandbox.faults.list() if s["state"]["on"]] == []

    deprecated = sandbox.mhd(SOURCE).deprecate(reader.read(entry["id"]).json())
    assert deprecated.status_code == 200, deprecated.text
    assert matches(reader.find(PATIENT, status="current")) == []


def test_the_hco_sender_orders_and_the_gp_inbox_shows_what_arrived(sandbox: Sandbox) -> None:
    sent = sandbox.hco_sender.order(order())
    assert sent.status_code == 201, sent.text
    header_id = sent.json()["id"]
    status = sandbox.hco_sender.wait_for_ack(header_id)
    assert status["ack"] == "ok"
    (received,) = sandbox.gp_inbox.received(header_id).json()
    assert received["verdict"] == "accepted" and received["header_id"] == header_id
    (shown,) = sandbox.gp_inbox.inbox("2509479989").json()
    assert shown["status"] == "new"
    assert SKODSTRUP in {p["sor"] for p in sandbox.gp_inbox.practices().json()}
    retracted = sandbox.hco_sender.retract(header_id, "Forkert borger")
    assert retracted.status_code == 201, retracted.text
    assert sandbox.hco_sender.wait_for_ack(retracted.json()["id"])["ack"] == "ok"
    assert sandbox.gp_inbox.inbox("2509479989").json()[0]["status"] == "cancelled"
    assert sandbox.gp_inbox.deliver() is not None


def test_the_plsp_client_acts_as_the_gp_system_persona(sandbox: Sandbox) -> None:
    card = sandbox.plsp("system-lps-skodstrup").put_card("2509479989", {
        "diagnoses": [{"key": "dx-1", "sks": "DE119a", "icpc2": "T90", "text": "Type 2-diabetes",
                       "status": "current", "recorded": "2019-03-04"}],
        "approval": {"by": {"identifier": "SK7T1", "given": ["Lars"], "family": "Lund"},
                     "at": "2026-05-06T11:20:00+02:00"}})
    assert card["clinic"]["sor"] == SKODSTRUP and card["approved"] is True


def test_reset_empties_the_sandbox_and_loads_the_configured_world_again(
        sandbox: Sandbox, provide_bundle: Callable[[], dict[str, Any]], tmp_path: Path) -> None:
    world = tmp_path / "vendor.yaml"
    world.write_text(f'citizens:\n  - {{cpr: "{VENDOR_CPR}", name: Anna Vendortest, gp: "{SKODSTRUP}"}}\n')
    configured = Sandbox(sandbox.url, sandbox.admin_token, http=sandbox.http, world_files=[world])
    assert configured.world.load({"citizens": [{"cpr": "1111111118", "name": "Jens Jsontest"}]})["loaded"]
    configured.load_world_files()
    assert sandbox.mhd(SOURCE).provide(provide_bundle()).status_code == 200
    emptied = configured.reset()
    assert emptied["actors"]["dds"]
    personas = {p["id"] for p in sandbox.http.get("/nsp/personas").json()}
    assert f"citizen-{VENDOR_CPR}" in personas and "citizen-1111111118" not in personas
    assert matches(sandbox.mhd("gp-skodstrup").find(PATIENT, status="current")) == []


def test_endpoints_are_registered_through_the_control_face(sandbox: Sandbox) -> None:
    sandbox.endpoints.register(SKODSTRUP, url="https://gp.vendor.example/ehmi", hco_version="1.1")
    (skodstrup,) = [e for e in sandbox.endpoints.list() if e["sor"] == SKODSTRUP]
    assert skodstrup["url"] == "https://gp.vendor.example/ehmi" and skodstrup["hco_version"] == "1.1"
    with pytest.raises(SandboxError) as refused:
        sandbox.endpoints.register(SKODSTRUP, colour="blue")
    assert refused.value.status == 422 and "colour" in str(refused.value)
