"""The hub's statistics face (``GET /plsp/statistics``) after GP systems hand it cards and notes
through the LPS interface: counts per clinic and per GP system, shared (registered in DDS) or not,
open without a token, and never a CPR number, a note's text or a diagnosis."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from plsp_support import CLINIC, CPR, GP_SYSTEM, OTHER_GP_SYSTEM, a_note, card, diabetes, plsp

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.plsp_client import PlspClient

TESTCENTER = "325381000016008"


def _stats(client: TestClient) -> dict[str, Any]:
    response = client.get("/plsp/statistics")
    assert response.status_code == 200, response.text
    for secret in (CPR, "Årskontrol", "Type 2-diabetes", "DE119a"):
        assert secret not in response.text
    return response.json()  # type: ignore[no-any-return]


def _system(stats: dict[str, Any], persona: str) -> dict[str, Any]:
    return next(r for r in stats["by_gp_system"] if r["persona"] == persona)


def test_no_cards_or_notes_yet(client: TestClient, clock: SandboxContext) -> None:
    stats = _stats(client)
    assert stats["by_clinic"] == []
    assert set(stats["totals"].values()) == {0}
    assert GP_SYSTEM in {r["persona"] for r in stats["by_gp_system"]}  # every GP system NSP knows, with zeroes
    assert stats["gp_systems"] == "known"


def test_cards_and_notes_per_clinic_and_gp_system(client: TestClient, gp: PlspClient) -> None:
    assert gp.put_card(CPR, card(diabetes()))["shared"]
    gp.create_note(CPR, a_note("note-1"))
    gp.create_note(CPR, a_note("note-2"))
    gp.create_note(CPR, a_note("note-3", do_not_share=True))
    gp.create_note(CPR, a_note("note-4"))
    gp.cancel("note-4")

    stats = _stats(client)
    skodstrup = {"cards": 1, "cards_shared": 1, "notes": 4, "notes_shared": 2, "notes_not_shared": 1,
                 "notes_cancelled": 1, "notes_purged": 0}
    assert stats["by_clinic"] == [{"sor": CLINIC, "name": "Skødstrup Lægepraksis", **skodstrup}]
    assert _system(stats, GP_SYSTEM) == {"persona": GP_SYSTEM, "name": "GP system, Skødstrup Lægepraksis",
                                         "clinic_sor": CLINIC, **skodstrup}
    assert set(_system(stats, OTHER_GP_SYSTEM).values()) - {OTHER_GP_SYSTEM, TESTCENTER,
                                                            "GP system, MedCom Testcenter"} == {0}
    assert stats["totals"] == skodstrup

    other = plsp(client, OTHER_GP_SYSTEM)
    other.create_note(CPR, a_note("note-1"))
    stats = _stats(client)
    assert _system(stats, OTHER_GP_SYSTEM)["notes"] == 1
    assert [r["sor"] for r in stats["by_clinic"]] == [TESTCENTER, CLINIC]
    assert stats["totals"]["notes"] == 5
