"""Min Log: systems write, citizens (and those acting for them) read newest first; two-year purge."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sts_client import auth

from nsp_sandbox.context import SandboxContext
from services.nsp.models import MinLogEntryRow

BRUNO = "2509479989"


def write(client: TestClient, **fields) -> int:  # type: ignore[no-untyped-def]
    return client.post("/nsp/minlog/entries", headers=auth(client, "system-dds", "nsp"),
                       json={"cpr": BRUNO, "activity": "ITI-67 Find Document References", **fields}).status_code


def test_entries_newest_first_for_the_citizen_and_the_fuldmagt_holder(client: TestClient) -> None:
    assert write(client, time="2026-01-01T10:00:00+00:00", user_name="A") == 201
    assert write(client, time="2026-03-01T10:00:00+00:00", user_name="B", consent_override=True,
                 reason="Akut") == 201
    own = client.get("/nsp/minlog", headers=auth(client, f"citizen-{BRUNO}")).json()
    assert [e["user_name"] for e in own] == ["B", "A"]
    assert own[0]["consent_override"] is True and own[0]["reason"] == "Akut"
    assert own[0]["system_name"] == "DDS — DokumentDelingsServicen"
    proxy = client.get("/nsp/minlog", headers=auth(client, "relative-0505059996"))
    assert proxy.json() == own
    assert client.get("/nsp/minlog", headers=auth(client, "citizen-0602631234")).json() == []
    assert client.get("/nsp/minlog", headers=auth(client, "citizen-0602631234"),
                      params={"cpr": BRUNO}).status_code == 403


def test_only_systems_write_and_entries_are_checked(client: TestClient) -> None:
    gp = auth(client, "gp-skodstrup")
    assert client.post("/nsp/minlog/entries", headers=gp, json={"cpr": BRUNO, "activity": "x"}).status_code == 403
    assert client.get("/nsp/minlog", headers=gp).status_code == 403
    assert write(client, activity="") == 400
    assert write(client, consent_override=True) == 400  # værdispring without its reason
    assert write(client, user_name=5) == 400


def test_entries_older_than_two_years_are_purged(client: TestClient, context: SandboxContext) -> None:
    now = context.clock.now()
    assert write(client, time=(now - timedelta(days=800)).isoformat(), user_name="old") == 201
    assert write(client, time=(now - timedelta(days=700)).isoformat(), user_name="recent") == 201
    reader = auth(client, f"citizen-{BRUNO}")
    assert [e["user_name"] for e in client.get("/nsp/minlog", headers=reader).json()] == ["recent"]
    context.clock.travel_to(now + timedelta(days=40))
    reader = auth(client, f"citizen-{BRUNO}")
    assert client.get("/nsp/minlog", headers=reader).json() == []


def test_writes_purge_what_expired_once_the_clock_has_moved_on(client: TestClient, context: SandboxContext) -> None:
    """Unread entries do not pile up: a write erases the expired ones when the clock moved on since the last purge."""
    now = context.clock.now()
    assert write(client, time=(now - timedelta(days=729)).isoformat(), user_name="nearly two years") == 201
    assert stored_names(context) == ["nearly two years"]
    context.clock.travel_to(now + timedelta(days=2))
    assert write(client, user_name="today") == 201
    assert stored_names(context) == ["today"]


def stored_names(context: SandboxContext) -> list[str]:
    with context.database.session() as session:
        return list(session.scalars(select(MinLogEntryRow.user_name).order_by(MinLogEntryRow.pk)))


def test_the_assistant_and_criticality_fields_are_kept(client: TestClient) -> None:
    assert write(client, person_name="Bruno Elmer", user_name="Birgitte Juul", user_role="Lægesekretær",
                 responsible_user_identifier="SK7T1", responsible_user_name="Lars Lund", consent_override=True,
                 reason="Akut", criticality="høj", organisation_id="52581000016005") == 201
    [entry] = client.get("/nsp/minlog", headers=auth(client, f"citizen-{BRUNO}")).json()
    assert entry["person_name"] == "Bruno Elmer" and entry["criticality"] == "høj"
    assert (entry["responsible_user_identifier"], entry["responsible_user_name"]) == ("SK7T1", "Lars Lund")
    assert entry["pseudonymised"] is False and entry["acting_as"] is None
    assert write(client, acting_as="cousin") == 400


def test_staff_of_a_listed_cvr_are_pseudonymised_for_the_citizen(context: SandboxContext) -> None:
    from sandbox.app import create_sandbox_app

    context.settings = context.settings.model_copy(update={"nsp_pseudonymised_cvrs": ["99000601"]})
    with TestClient(create_sandbox_app(context, warm_packages=False, only={"nsp"}),
                    base_url="http://sandbox.test") as client:
        # Akutafdelingen, Aarhus Universitetshospital sits under Region Midtjylland (CVR 99000601).
        assert write(client, organisation_id="900008000099016", user_identifier="AU5R1", user_name="Rasmus Dahl") == 201
        assert write(client, organisation_id="52581000016005", user_identifier="SK7T1", user_name="Lars Lund") == 201
        gp, hospital = client.get("/nsp/minlog", headers=auth(client, f"citizen-{BRUNO}")).json()
        assert (hospital["user_name"], hospital["user_identifier"], hospital["pseudonymised"]) == (
            "Medarbejder", None, True)
        assert hospital["organisation_id"] == "900008000099016"  # the place stays visible
        assert (gp["user_name"], gp["pseudonymised"]) == ("Lars Lund", False)
