"""The synthetic Danish world shipped with NSP, as ``GET /nsp/personas`` and the registers show it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from nsp_sandbox.cpr import birth_date
from services.nsp.world import age_at, shipped_world

MEDCOM_CPRS = ("2509479989", "0703921VJ5", "0602631234", "0505059996", "0201919990", "1502829995",
               "3001749995", "0505239996")


@pytest.fixture
def personas(client: TestClient) -> dict[str, dict]:
    response = client.get("/nsp/personas")
    assert response.status_code == 200
    return {p["id"]: p for p in response.json()}


def test_every_persona_has_the_fields_clients_rely_on(personas: dict[str, dict]) -> None:
    for persona in personas.values():
        assert {"id", "kind", "name", "cpr", "acts_for", "organisation", "authorisation", "relations"} <= set(persona)
        assert persona["kind"] in ("citizen", "relative", "professional", "assistant", "system")
    kinds = {p["kind"] for p in personas.values()}
    assert kinds == {"citizen", "relative", "professional", "assistant", "system"}


def test_every_cpr_of_the_medcom_examples_is_a_citizen(personas: dict[str, dict]) -> None:
    citizens = {p["cpr"]: p for p in personas.values() if p["kind"] == "citizen"}
    assert set(MEDCOM_CPRS) <= set(citizens)
    assert citizens["0703921VJ5"]["ecpr"] is True
    assert citizens["0201919990"]["name_and_address_protected"] is True
    assert "address" not in citizens["0201919990"]
    assert citizens["2509479989"]["address"]
    assert citizens["1010401230"]["deceased"] == "2025-11-02"


def test_the_child_under_15_has_two_custodial_parents(personas: dict[str, dict], client: TestClient) -> None:
    child = "0505239996"
    assert age_at(child, datetime.now(UTC).date()) < 15
    parents = [p for p in personas.values() if p["kind"] == "relative" and child in p["acts_for"]]
    assert sorted(p["cpr"] for p in parents) == ["1502829995", "3001749995"]
    assert all(child in p["children_in_custody"] for p in parents)


def test_the_fuldmagt_holder_acts_for_the_grantor(personas: dict[str, dict]) -> None:
    proxy = personas["relative-0505059996"]
    # Erik Vestergaard (died 2025-11-02) gave Emil a fuldmagt too: it lapsed with his death.
    assert proxy["acts_for"] == ["2509479989"] and proxy["power_of_attorney_from"] == ["2509479989"]
    assert proxy["acting_as"] == {"2509479989": "fuldmagt"}
    assert personas["relative-0511699884"]["power_of_attorney_scopes"] == {"1911629885": "prøvesvar"}
    assert personas["relative-1502829995"]["acting_as"] == {"0201919990": "fuldmagt", "0505239996": "parent"}
    assert personas["relative-1911629885"]["acting_as"] == {"2701779899": "guardian"}


def test_a_fuldmagt_lapses_when_the_grantor_dies(client: TestClient, context) -> None:  # type: ignore[no-untyped-def]
    context.clock.travel_to(datetime(2025, 10, 1, tzinfo=UTC))
    alive = {p["id"]: p for p in client.get("/nsp/personas").json()}["relative-0505059996"]
    assert alive["acts_for"] == ["1010401230", "2509479989"]
    context.clock.travel_to(datetime(2025, 11, 2, 12, tzinfo=UTC))
    dead = {p["id"]: p for p in client.get("/nsp/personas").json()}["relative-0505059996"]
    assert dead["acts_for"] == ["2509479989"]


def test_an_assistant_acts_for_a_responsible_professional(personas: dict[str, dict], client: TestClient) -> None:
    assistant = personas["secretary-skodstrup"]
    assert assistant["responsible"] == "SK7T1" and assistant["responsible_name"] == "Lars Lund"
    assert assistant["authorisation"] is None and assistant["organisation"] == "52581000016005"


def test_organisations_form_a_sor_tree(client: TestClient) -> None:
    aarhus = client.get("/nsp/organisations/937961000016000").json()
    assert aarhus["name"] == "Aarhus Kommune" and aarhus["parent"] is None
    assert "1144561000016002" in aarhus["sub_units"]
    team = client.get("/nsp/organisations/900001000099016").json()
    assert team["ancestors"] == ["1144561000016002", "937961000016000"]
    assert client.get("/nsp/organisations/52581000016005").json()["name"] == "Skødstrup Lægepraksis"
    kinds = {client.get(f"/nsp/organisations/{sor}").json()["kind"] for sor in (
        "900004000099016", "900008000099016", "73091000016008")}
    assert kinds == {"acute-team", "hospital-department", "gp-clinic"}
    assert client.get("/nsp/organisations/123").status_code == 404


def test_professionals_work_somewhere_and_treat_their_gp_patients(personas: dict[str, dict]) -> None:
    gp = personas["gp-skodstrup"]
    assert gp["authorisation"] and gp["organisation"] == "52581000016005" and gp["role"] == "Læge"
    listed = {p["cpr"] for p in personas.values() if p["kind"] == "citizen" and p["gp"] == "52581000016005"}
    assert listed <= set(gp["relations"]) and "2509479989" in listed
    assert personas["doctor-auh-acute"]["relations"] == []
    assert "0602631234" in personas["nurse-aarhus-acute"]["relations"]


def test_document_source_systems(personas: dict[str, dict]) -> None:
    systems = {p["system_kind"] for p in personas.values() if p["kind"] == "system"}
    assert {"eoj", "gp-system", "plsp"} <= systems
    assert personas["system-eoj-aarhus"]["organisation"] == "937961000016000"


def test_cpr_birth_dates_follow_the_century_rule() -> None:
    assert birth_date("2509479989").year == 1947
    assert birth_date("0505239996").year == 2023
    assert birth_date("0505059996").year == 2005
    assert birth_date("1010401230").year == 1940
    world = shipped_world()
    assert all(p.authorisation for p in world.professionals.values())
