"""Journal notes through the LPS interface: versions, timestamps, blank notes, HTML, do-not-share,
cancel, purge on the sandbox clock and the after-midnight setting."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from plsp_support import CPR, a_note
from sqlalchemy import select

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.plsp_client import PlspClient, PlspError
from services.plsp_hub.models import EventRow, NoteRow


def test_a_note_is_created_and_shared(gp: PlspClient) -> None:
    status = gp.create_note(CPR, a_note())
    assert status["version"] == 1 and status["shared"] and status["state"] == "active"
    assert status["body_html"] == "Årskontrol.<br/>BT 138/82 mmHg."
    assert status["created"] == status["updated"]
    assert status["dds"]["state"] == "registered"


def test_a_key_is_created_once(gp: PlspClient) -> None:
    gp.create_note(CPR, a_note())
    with pytest.raises(PlspError) as refused:
        gp.create_note(CPR, a_note())
    assert refused.value.status == 409 and "plsp-note-key-unique" in refused.value.rules()[0]


@pytest.mark.parametrize("body", ["", "   ", "\r\n\t \r\n", "<p>  </p>", "<p><br/></p>", "<script>alert(1)</script>"])
def test_blank_notes_are_refused(gp: PlspClient, body: str) -> None:
    with pytest.raises(PlspError) as refused:
        gp.create_note(CPR, a_note(body=body, format="html"))
    assert refused.value.status == 422
    assert any(r.startswith("plsp-note-blank @ body") for r in refused.value.rules())
    assert [e["rule"] for e in gp.events(CPR, kind="refused")] == ["plsp-note-blank"]


def test_hostile_html_is_reduced_and_reported(gp: PlspClient) -> None:
    hostile = ('<p onclick="steal()">Godt <b>nyt</b><script>alert(1)</script>'
               '<img src=x onerror=alert(2)><a href="javascript:evil()">link</a>'
               '<style>p{}</style><iframe src="http://x"></iframe><x:i>kursiv</x:i></p>')
    status = gp.create_note(CPR, a_note(body=hostile, format="html"))
    html = status["body_html"]
    for gone in ("script", "onclick", "onerror", "img", "javascript", "style", "iframe", "alert"):
        assert gone not in html, gone
    assert html.startswith("<p>Godt <b>nyt</b>") and "<i>kursiv</i>" in html and "link" in html
    reduced = next(i for i in status["issues"] if i["rule"] == "plsp-note-html-reduced")
    assert reduced["path"] == "body" and "<script>" in reduced["text"] and "onclick attribute" in reduced["text"]
    submitted = gp.events(CPR, kind="submitted")[0]
    assert "<script>" in submitted["details"]["html_removed"]


def test_plain_text_is_never_taken_as_markup(gp: PlspClient) -> None:
    status = gp.create_note(CPR, a_note(body="BT < 140 & puls > 60"))
    assert status["body_html"] == "BT &lt; 140 &amp; puls &gt; 60"


def test_a_correction_is_a_new_version_with_the_same_creation_time(gp: PlspClient) -> None:
    first = gp.create_note(CPR, a_note())
    second = gp.update_note("note-1", {"body": "Årskontrol. Plan: kontrol om 3 mdr.",
                                       "updated": "2026-05-06T07:32:00+02:00"})
    assert second["version"] == 2 and second["created"] == first["created"]
    assert second["updated"] == "2026-05-06T07:32:00+02:00"
    history = [(e["kind"], e["version"]) for e in gp.events(CPR) if e["kind"] == "submitted"]
    assert history == [("submitted", 1), ("submitted", 2)]
    assert second["dds"]["entry"] == first["dds"]["entry"]  # one entry per note; it serves the newest version


def test_the_creation_time_is_immutable(gp: PlspClient) -> None:
    gp.create_note(CPR, a_note())
    with pytest.raises(PlspError) as refused:
        gp.update_note("note-1", {"body": "x", "created": "2026-05-05T10:12:00+02:00",
                                  "updated": "2026-05-06T07:32:00+02:00"})
    assert refused.value.status == 422 and refused.value.rules()[0].startswith("plsp-note-created-immutable @ created")
    same = gp.update_note("note-1", {"body": "x", "created": "2026-05-05T08:11:00Z",
                                     "updated": "2026-05-06T07:32:00+02:00"})
    assert same["version"] == 2  # the same instant in another offset is unchanged


@pytest.mark.parametrize("updated", ["2026-05-05T10:11:00+02:00", "2026-05-04T10:00:00+02:00"])
def test_the_update_time_is_after_the_creation(gp: PlspClient, updated: str) -> None:
    gp.create_note(CPR, a_note())
    with pytest.raises(PlspError) as refused:
        gp.update_note("note-1", {"body": "x", "updated": updated})
    assert refused.value.rules()[0].startswith("plsp-note-updated-after-created @ updated")
    assert gp.note("note-1")["version"] == 1


def test_a_new_note_is_not_updated_before_it_was_created(gp: PlspClient) -> None:
    with pytest.raises(PlspError) as refused:
        gp.create_note(CPR, a_note(updated="2026-05-05T10:00:00+02:00"))
    assert refused.value.rules()[0].startswith("plsp-note-updated-after-created")


def test_do_not_share_and_share_again(gp: PlspClient) -> None:
    shared = gp.create_note(CPR, a_note())
    hidden = gp.do_not_share("note-1")
    assert not hidden["shared"] and hidden["dds"]["state"] == "deprecated"
    again = gp.share("note-1")
    assert again["shared"] and again["dds"]["state"] == "registered"
    assert again["dds"]["entry"] != shared["dds"]["entry"]  # a new entry when shared again
    kinds = [e["kind"] for e in gp.events(CPR)]
    assert kinds.count("shared") == 2 and "unshared" in kinds


def test_a_note_marked_do_not_share_at_creation_never_reaches_dds(gp: PlspClient) -> None:
    status = gp.create_note(CPR, a_note(do_not_share=True))
    assert not status["shared"] and status["dds"]["state"] == "none"
    assert "shared" not in [e["kind"] for e in gp.events(CPR)]


def test_a_cancelled_note_is_purged_on_the_clock(gp: PlspClient, clock: SandboxContext) -> None:
    gp.create_note(CPR, a_note())
    cancelled = gp.cancel("note-1")
    assert cancelled["state"] == "cancelled" and not cancelled["shared"]
    assert cancelled["dds"]["state"] == "deprecated"
    with pytest.raises(PlspError) as refused:
        gp.update_note("note-1", {"body": "x", "updated": "2026-05-06T13:00:00+02:00"})
    assert refused.value.status == 409
    clock.clock.freeze(clock.clock.now() + timedelta(hours=24))
    gp.due()  # (the purge also runs before any request to the hub)
    purged = gp.note("note-1")
    assert purged["state"] == "purged" and purged["body_html"] is None
    with clock.database.session() as s:
        row = s.scalar(select(NoteRow).where(NoteRow.key == "note-1"))
        assert row is not None and row.body_html is None and row.author is None
        texts = [e.text + str(e.details) for e in s.scalars(select(EventRow))]
    assert not any("138/82" in t for t in texts)  # the log keeps no note content
    kinds = [e["kind"] for e in gp.events(CPR)]
    assert kinds.index("cancelled") < kinds.index("purged")


def test_the_purge_also_runs_when_the_hub_is_next_used(gp: PlspClient, clock: SandboxContext) -> None:
    gp.create_note(CPR, a_note())
    gp.cancel("note-1")
    assert gp.note("note-1")["body_html"] is not None  # not yet due
    clock.clock.freeze(clock.clock.now() + timedelta(hours=clock.settings.plsp_note_purge_hours, seconds=1))
    assert gp.note("note-1")["state"] == "purged"


def test_notes_after_midnight(client: TestClient, gp: PlspClient, clock: SandboxContext) -> None:
    assert client.put("/plsp/settings", json={"notes_after_midnight": True}).json()["notes_after_midnight"]
    status = gp.create_note(CPR, a_note())
    assert not status["shared"]
    assert datetime.fromisoformat(status["available_from"]) == datetime.fromisoformat("2026-05-07T00:00:00+02:00")
    assert status["dds"]["state"] == "none"
    clock.clock.freeze(clock.clock.now() + timedelta(hours=12))  # 00:00 Danish time the next day
    gp.due()
    after = gp.note("note-1")
    assert after["shared"] and after["dds"]["state"] == "registered"
    assert client.put("/plsp/settings", json={"notes_after_midnight": "yes"}).status_code == 422


def test_notes_of_another_clinic_are_not_found(client: TestClient, gp: PlspClient) -> None:
    from plsp_support import OTHER_GP_SYSTEM, plsp

    gp.create_note(CPR, a_note())
    with pytest.raises(PlspError) as refused:
        plsp(client, OTHER_GP_SYSTEM).cancel("note-1")
    assert refused.value.status == 404
    assert gp.note("note-1")["state"] == "active"
