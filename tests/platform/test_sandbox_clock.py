"""The sandbox clock over HTTP (``/sandbox/clock``): one clock for every actor and every process on the
database, guarded so that only the operator moves it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from nsp_sandbox.clock import REFRESH_SECONDS, Clock
from nsp_sandbox.clock_store import DatabaseClockStore
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.database import Database
from sandbox.app import create_sandbox_app

LOCAL = ("127.0.0.1", 50000)


@pytest.fixture
def operator(context: SandboxContext) -> Iterator[TestClient]:
    """The sandbox as a caller on this machine sees it."""
    with TestClient(create_sandbox_app(context, warm_packages=False), base_url="http://sandbox.test",
                    client=LOCAL) as c:
        yield c


def test_travel_freeze_and_back_to_real_time(operator: TestClient, context: SandboxContext) -> None:
    moved = operator.put("/sandbox/clock", json={"now": "2026-01-14T23:30:00+01:00"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["frozen"] is False and moved.json()["offset_seconds"] < -1e6
    assert abs(context.clock.now() - datetime(2026, 1, 14, 22, 30, tzinfo=UTC)) < timedelta(seconds=5)

    frozen = operator.put("/sandbox/clock", json={"now": "2026-01-15T00:30:00+01:00", "frozen": True}).json()
    assert frozen == {**frozen, "now": "2026-01-14T23:30:00Z", "frozen": True}
    assert operator.get("/sandbox/clock").json()["now"] == "2026-01-14T23:30:00Z"

    real = operator.delete("/sandbox/clock").json()
    assert real["frozen"] is False and abs(real["offset_seconds"]) < 5


def test_a_moved_clock_moves_token_expiry(operator: TestClient) -> None:
    """Every actor reads the one clock: a token from now has expired a day later."""
    token = operator.post("/nsp/sts/token", json={"persona": "gp-skodstrup"}).json()["access_token"]
    search = "/dds/fhir/DocumentReference?patient.identifier=urn:oid:1.2.208.176.1.2|2509479989"
    assert operator.get(search, headers={"Authorization": f"Bearer {token}"}).status_code != 401
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert operator.put("/sandbox/clock", json={"now": later}).status_code == 200
    expired = operator.get(search, headers={"Authorization": f"Bearer {token}"})
    assert expired.status_code == 401 and "expired" in expired.text


@pytest.mark.parametrize("body, field", [({"now": "2026-01-15T00:30:00"}, "now"), ({"now": "tomorrow"}, "now"),
                                         ({"now": 5}, "now"), ({"frozen": "yes"}, "frozen"),
                                         ({"now": "2026-01-15T00:30:00Z", "offset": 3}, "offset")])
def test_bad_bodies_are_refused_naming_the_field(operator: TestClient, body: dict[str, object], field: str) -> None:
    refused = operator.put("/sandbox/clock", json=body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["issue"][0]["expression"] == [field]


def test_only_callers_on_this_machine_without_a_token(context: SandboxContext) -> None:
    """A caller from the network (a peer address that is not loopback)."""
    with TestClient(create_sandbox_app(context, warm_packages=False), client=("192.0.2.10", 50000)) as remote:
        assert remote.get("/sandbox/clock").status_code == 403
        assert remote.put("/sandbox/clock", json={"now": "2030-01-01T00:00:00Z"}).status_code == 403


def test_with_a_token_only_the_token_opens_it(context: SandboxContext) -> None:
    context.settings = context.settings.model_copy(update={"admin_token": "s3cret"})
    with TestClient(create_sandbox_app(context, warm_packages=False), client=LOCAL) as local:
        assert local.get("/sandbox/clock").status_code == 401
        persona = local.post("/nsp/sts/token", json={"persona": "gp-skodstrup"}).json()["access_token"]
        assert local.get("/sandbox/clock", headers={"Authorization": f"Bearer {persona}"}).status_code == 401
        assert local.get("/sandbox/clock", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_a_clock_moved_before_the_sandbox_starts_stays_where_it_was(context: SandboxContext) -> None:
    context.clock.freeze(datetime(2027, 3, 1, 8, 0, tzinfo=UTC))
    with TestClient(create_sandbox_app(context, warm_packages=False), client=LOCAL) as local:
        assert local.get("/sandbox/clock").json()["now"] == "2027-03-01T08:00:00Z"


def test_every_process_on_the_database_follows_one_move(context: SandboxContext) -> None:
    """Two clocks sharing one database stand for two worker processes or two containers."""
    first, second = Clock(), Clock()
    first.share(DatabaseClockStore(context.database))
    second.share(DatabaseClockStore(Database.from_url(context.settings.resolved_database_url())))
    first.freeze(datetime(2030, 6, 1, 12, 0, tzinfo=UTC))
    second._checked -= REFRESH_SECONDS  # as if REFRESH_SECONDS had passed in the other process
    assert second.now() == datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
    first.reset()
    second._checked -= REFRESH_SECONDS
    assert abs(second.now() - datetime.now(UTC)) < timedelta(seconds=5)
