"""The diagnosis card through the LPS interface: what is shared, what is withheld and why."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from plsp_support import (
    CL_TYPE,
    CPR,
    OTHER_GP_SYSTEM,
    Reader,
    card,
    copd,
    depression,
    diabetes,
    outcome_rules,
    plsp,
)
from sts_client import auth

from nsp_sandbox.plsp_client import PlspClient, PlspError


def test_an_approved_card_shares_only_diagnoses_on_the_card_and_not_private(gp: PlspClient) -> None:
    status = gp.put_card(CPR, card(diabetes(), copd(), depression(private=True), diabetes(key="dx-off",
                                                                                          on_card=False)))
    assert status["approved"] and status["shared"]
    assert status["shared_diagnoses"] == ["dx-t90", "dx-r95"]
    assert {(w["key"], w["rule"], w["path"]) for w in status["withheld_diagnoses"]} == {
        ("dx-p76", "plsp-dx-private", "diagnoses[2]"), ("dx-off", "plsp-dx-on-card", "diagnoses[3]")}
    rules = {(i["rule"], i["path"]) for i in status["issues"]}
    assert ("plsp-dx-private", "diagnoses[2].private") in rules
    assert ("plsp-dx-on-card", "diagnoses[3].on_card") in rules
    assert ("plsp-dx-internal-note", "diagnoses[1].internal_note") in rules
    events = gp.events(CPR, kind="refused")
    assert {(e["rule"], e["path"]) for e in events} >= {("plsp-dx-private", "diagnoses[2].private"),
                                                        ("plsp-dx-on-card", "diagnoses[3].on_card")}


def test_removing_the_private_mark_shares_the_diagnosis(gp: PlspClient) -> None:
    gp.put_card(CPR, card(diabetes(), depression(private=True)))
    status = gp.put_card(CPR, card(diabetes(), depression()))
    assert status["shared_diagnoses"] == ["dx-t90", "dx-p76"] and status["version"] == 2


def test_a_card_without_approval_is_kept_but_not_shared(gp: PlspClient) -> None:
    status = gp.put_card(CPR, card(diabetes(), approved=False))
    assert not status["approved"] and not status["shared"] and status["dds"]["state"] == "none"
    assert ("plsp-card-approved", "approval") in {(i["rule"], i["path"]) for i in status["issues"]}
    refused = gp.events(CPR, kind="refused")
    assert [e["rule"] for e in refused] == ["plsp-card-approved"]
    assert gp.put_card(CPR, card(diabetes()))["shared"]  # approved later: shared


def test_an_approval_older_than_the_cards_last_change_does_not_cover_it(gp: PlspClient) -> None:
    status = gp.put_card(CPR, card(diabetes(), at="2026-05-06T11:00:00+02:00", updated="2026-05-06T11:30:00+02:00"))
    assert not status["shared"]
    assert ("plsp-card-approval-current", "approval.at") in {(i["rule"], i["path"]) for i in status["issues"]}


def test_an_empty_card_produces_no_document(gp: PlspClient) -> None:
    assert gp.put_card(CPR, card(diabetes()))["shared"]
    status = gp.put_card(CPR, card())
    assert not status["shared"] and status["shared_diagnoses"] == []
    assert "plsp-card-empty" in {i["rule"] for i in status["issues"]}
    only_private = gp.put_card(CPR, card(depression(private=True)))
    assert not only_private["shared"]


def test_only_the_most_recently_updated_card_is_shared(client: TestClient, gp: PlspClient) -> None:
    other = plsp(client, OTHER_GP_SYSTEM)
    gp.put_card(CPR, card(diabetes(), updated="2026-05-06T09:00:00+02:00", at="2026-05-06T09:00:00+02:00"))
    newer = other.put_card(CPR, card(copd(), updated="2026-05-06T10:00:00+02:00", at="2026-05-06T10:00:00+02:00"))
    assert newer["shared"]
    assert not gp.card(CPR)["shared"]
    assert any(e["rule"] == "plsp-card-latest" for e in gp.events(CPR, kind="unshared"))
    listed = Reader(client, f"citizen-{CPR}").search(type_code=CL_TYPE)  # one ConditionList per patient
    assert len(listed) == 1 and listed[0]["id"] == newer["dds"]["entry"]
    again = gp.put_card(CPR, card(diabetes(), updated="2026-05-06T11:00:00+02:00", at="2026-05-06T11:00:00+02:00"))
    assert again["shared"] and not other.card(CPR)["shared"]


def test_a_diagnosis_key_twice_is_refused_with_its_path(gp: PlspClient) -> None:
    with pytest.raises(PlspError) as refused:
        gp.put_card(CPR, card(diabetes(), diabetes()))
    assert refused.value.status == 422
    assert "plsp-dx-key-unique @ diagnoses[1].key" in refused.value.rules()[0]


def test_invalid_input_names_the_element(client: TestClient, clock: object) -> None:
    response = client.put(f"/plsp/patients/{CPR}/conditionlist", headers=auth(client, "system-lps-skodstrup", "plsp"),
                          json={"diagnoses": [{"key": "x", "status": "maybe", "recorded": "2024-01-01"}]})
    assert response.status_code == 422
    assert ("plsp-interface", ["diagnoses[0].status"]) in outcome_rules(response)
    naive = client.put(f"/plsp/patients/{CPR}/conditionlist", headers=auth(client, "system-lps-skodstrup", "plsp"),
                       json={"diagnoses": [], "updated": "2026-05-06T10:00:00"})
    assert naive.status_code == 422 and outcome_rules(naive)[0][1] == ["updated"]


@pytest.mark.parametrize(("cpr", "status"), [("0000000000", 422), ("12345", 422), ("0101013333", 404),
                                             ("0703921VJ5", 422)])
def test_unknown_or_invalid_cpr_is_pd02(gp: PlspClient, cpr: str, status: int) -> None:
    with pytest.raises(PlspError) as refused:
        gp.put_card(cpr, card(diabetes()))
    assert refused.value.status == status and refused.value.rules()[0].startswith("PD02")


def test_only_gp_systems_use_the_interface(client: TestClient, clock: object) -> None:
    for persona in ("system-eoj-aarhus", "system-dds", "gp-skodstrup", f"citizen-{CPR}"):
        response = client.put(f"/plsp/patients/{CPR}/conditionlist", headers=auth(client, persona, "plsp"),
                              json=card(diabetes()))
        assert response.status_code == 403, persona
    wrong_audience = client.put(f"/plsp/patients/{CPR}/conditionlist", json=card(diabetes()),
                                headers=auth(client, "system-lps-skodstrup", "dds"))
    assert wrong_audience.status_code == 401
    assert client.put(f"/plsp/patients/{CPR}/conditionlist", json=card(diabetes())).status_code == 401


def test_the_event_log_is_the_submitting_clinics(client: TestClient, gp: PlspClient) -> None:
    gp.put_card(CPR, card(diabetes()))
    assert [e["kind"] for e in gp.events(CPR)][:1] == ["submitted"]
    assert plsp(client, OTHER_GP_SYSTEM).events(CPR) == []


def test_a_patient_who_does_not_use_the_app_is_shared(client: TestClient, gp: PlspClient) -> None:
    """The MinLæge app is no input of the interface: Emil Elmer (no app use recorded anywhere) is shared."""
    status = gp.put_card("0505059996", card(diabetes()))
    assert status["shared"] and status["dds"]["state"] in ("registered", "pending")
