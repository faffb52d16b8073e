"""Each source rule names itself where its effect shows: the answer's 409, the event log, the 410 the
hub gives DDS for a withdrawn entry, and the status of that entry in DDS (``entered-in-error`` for a
cancelled note, ``superseded`` otherwise)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from plsp_support import CL_TYPE, CPR, NOTE_TYPE, OTHER_GP_SYSTEM, Reader, a_note, card, copd, diabetes, plsp
from sts_client import auth

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.plsp_client import PlspClient, PlspError


def served_to_dds(client: TestClient, status: dict[str, Any]) -> tuple[int, list[str]]:
    """What the hub answers DDS for the entry in ``status``: the HTTP status and the rules of its outcome."""
    url = status["dds"]["retrieve_url"].replace("http://sandbox.internal", "")
    response = client.get(url, headers=auth(client, "system-dds", "plsp"))
    rules = [c["code"] for i in response.json().get("issue", []) for c in i.get("details", {}).get("coding", [])
             ] if response.status_code != 200 else []
    return response.status_code, rules


def dds_statuses(client: TestClient, type_code: str) -> dict[str, str]:
    """The status of each of the patient's entries in DDS, by id (as the citizen finds them)."""
    citizen = Reader(client, f"citizen-{CPR}")
    return {r["id"]: r["status"] for status in ("current", "superseded", "entered-in-error")
            for r in citizen.search(status=status, type_code=type_code)}


def rule_events(gp: PlspClient, rule: str) -> list[tuple[str, str | None]]:
    return [(e["kind"], e["version"]) for e in gp.events(CPR) if e["rule"] == rule]


def test_do_not_share_is_logged_and_withdraws_the_entry_as_superseded(client: TestClient, gp: PlspClient) -> None:
    hidden_at_once = gp.create_note(CPR, a_note("note-2", do_not_share=True))
    assert not hidden_at_once["shared"]
    assert rule_events(gp, "plsp-note-do-not-share") == [("refused", 1)]
    shared = gp.create_note(CPR, a_note())
    gp.do_not_share("note-1")
    assert served_to_dds(client, shared) == (410, ["plsp-note-do-not-share"])
    assert dds_statuses(client, NOTE_TYPE)[shared["dds"]["entry"]] == "superseded"
    gp.share("note-1")
    assert rule_events(gp, "plsp-note-do-not-share") == [  # the clinic's mark, DDS's withdrawal, the removal
        ("refused", 1), ("unshared", 1), ("unshared", None), ("submitted", 1)]
    assert gp.note("note-1")["shared"]


def test_a_cancelled_note_is_withdrawn_as_entered_in_error_and_not_changed_again(
        client: TestClient, gp: PlspClient, clock: SandboxContext) -> None:
    status = gp.create_note(CPR, a_note())
    gp.cancel("note-1")
    cancelled = [e for e in gp.events(CPR) if e["rule"] == "plsp-note-cancelled"]
    assert [e["kind"] for e in cancelled] == ["cancelled", "unshared"]  # the clinic's, then DDS's withdrawal
    due = clock.clock.now() + timedelta(hours=clock.settings.plsp_note_purge_hours)
    assert datetime.fromisoformat(cancelled[0]["details"]["purge_due"]) == due
    assert served_to_dds(client, status) == (410, ["plsp-note-cancelled"])
    assert dds_statuses(client, NOTE_TYPE)[status["dds"]["entry"]] == "entered-in-error"
    for change in (lambda: gp.update_note("note-1", {"body": "x", "updated": "2026-05-06T13:00:00+02:00"}),
                   lambda: gp.do_not_share("note-1"), lambda: gp.share("note-1")):
        with pytest.raises(PlspError) as refused:
            change()
        assert refused.value.status == 409
        assert [r.partition(":")[0] for r in refused.value.rules()] == ["plsp-note-cancelled @ key"]
    assert gp.cancel("note-1")["state"] == "cancelled"  # cancelling again changes nothing
    assert len(rule_events(gp, "plsp-note-cancelled")) == 2


def test_the_purge_is_logged_with_its_rule(gp: PlspClient, clock: SandboxContext) -> None:
    gp.create_note(CPR, a_note())
    gp.update_note("note-1", {"body": "Rettet.", "updated": "2026-05-06T07:32:00+02:00"})
    gp.cancel("note-1")
    clock.clock.freeze(clock.clock.now() + timedelta(hours=24))
    assert gp.note("note-1")["state"] == "purged"  # (the purge runs before any request to the hub)
    purged = [e for e in gp.events(CPR) if e["rule"] == "plsp-note-purge"]
    assert [(e["kind"], e["version"]) for e in purged] == [("purged", 2)]
    assert "all 2 version(s)" in purged[0]["text"]
    assert gp.due()["purged"] == 0 and len(rule_events(gp, "plsp-note-purge")) == 1  # once


def test_a_withdrawn_conditionlist_names_its_rule(client: TestClient, gp: PlspClient) -> None:
    first = gp.put_card(CPR, card(diabetes(), updated="2026-05-06T09:00:00+02:00", at="2026-05-06T09:00:00+02:00"))
    newer = plsp(client, OTHER_GP_SYSTEM).put_card(CPR, card(copd(), updated="2026-05-06T10:00:00+02:00",
                                                             at="2026-05-06T10:00:00+02:00"))
    assert served_to_dds(client, first) == (410, ["plsp-card-latest"])
    assert dds_statuses(client, CL_TYPE)[first["dds"]["entry"]] == "superseded"
    unapproved = plsp(client, OTHER_GP_SYSTEM).put_card(CPR, card(copd(), approved=False,
                                                                  updated="2026-05-06T11:00:00+02:00"))
    assert not unapproved["shared"]
    assert served_to_dds(client, newer) == (410, ["plsp-card-approved"])
    assert "plsp-card-empty" in {i["rule"] for i in gp.put_card(CPR, card())["issues"]}
