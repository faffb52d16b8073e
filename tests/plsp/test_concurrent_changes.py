"""A GP system's changes of one note or card sent at the same moment: each is a version of its own. The hub
reads, numbers and writes a version on a worker thread, one at a time in the process."""

from __future__ import annotations

import asyncio
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from plsp_support import CL_TYPE, CPR, GP, GP_SYSTEM, NOTE_TYPE, Reader, a_note, card, copd, diabetes
from sts_client import auth

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.plsp_client import PlspClient
from services.plsp_hub import dds_registration

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dds"))
from served import Racers, serve, two_workers

WIDTH = 5


def test_corrections_sent_at_once_each_get_a_version_of_their_own(context: SandboxContext) -> None:
    with serve(context) as base_url, Racers(base_url, WIDTH) as racers, httpx.Client(base_url=base_url,
                                                                                     timeout=60) as one:
        gp = PlspClient.for_persona(one, GP_SYSTEM)
        gp.create_note(CPR, a_note())
        headers = auth(one, GP_SYSTEM, "plsp")
        corrections_at_once(racers, gp, headers)


def test_corrections_sent_at_once_to_two_workers_each_get_a_version_of_their_own(
        context: SandboxContext, database_url: str) -> None:
    """Two sandboxes on one database, as ``up --workers 2`` runs: neither's lock holds the other back, so the
    database decides which correction builds on which."""
    with two_workers(context, database_url) as (first, second), httpx.Client(base_url=first, timeout=60) as one:
        gp = PlspClient.for_persona(one, GP_SYSTEM)
        gp.create_note(CPR, a_note())
        headers = auth(one, GP_SYSTEM, "plsp")
        with Racers([first, second], WIDTH + 1) as racers:
            # a new note created at once through both: one is taken, the others find its key taken
            created = racers.race([lambda c: c.post(f"/plsp/patients/{CPR}/notes", headers=headers,
                                                    json=a_note("note-2"))] * (WIDTH + 1))
            assert sorted(a.status_code for a in created) == [201] + [409] * WIDTH, [a.text for a in created]
            corrections_at_once(racers, gp, headers)


def test_a_first_card_sent_at_once_to_two_workers_is_one_entry_in_dds(context: SandboxContext,
                                                                       database_url: str) -> None:
    """Each worker plans the patient's DDS entries after its version is kept; two plans at once must not both
    find no entry and both add one: DDS would then hold two current ConditionLists of one clinic."""
    with two_workers(context, database_url) as (first, second), httpx.Client(base_url=first, timeout=60) as one, \
            Racers([first, second], WIDTH + 1) as racers:
        headers = auth(one, GP_SYSTEM, "plsp")
        cards = racers.race([lambda c: c.put(f"/plsp/patients/{CPR}/conditionlist", headers=headers,
                                             json=card(diabetes()))] * (WIDTH + 1))
        assert [a.status_code for a in cards] == [200] * (WIDTH + 1), [a.text for a in cards]
        current = Reader(one, GP).search(type_code=CL_TYPE)  # type: ignore[arg-type]
        assert len(current) == 1, [r["id"] for r in current]
        gp = PlspClient.for_persona(one, GP_SYSTEM)
        assert gp.events(CPR, kind="dds-retry") == []  # registered once, never sent twice
        assert gp.events(CPR, kind="shared")[0]["details"]["dds_entry"] == current[0]["id"]


def corrections_at_once(racers: Racers, gp: PlspClient, headers: dict[str, str]) -> None:
    """Corrections of note-1, then new versions of the clinic's card, each sent by every one of ``racers`` at
    once: each taken one is a version of its own, numbered in turn."""
    width = racers.width
    answers = racers.race([lambda c, n=n: c.put("/plsp/notes/note-1", headers=headers, json={
        "body": f"Årskontrol. Rettelse {n}.", "updated": f"2026-05-06T07:3{n}:00+02:00"}) for n in range(width)])
    # each answers the note as it is when answered (a later correction may be in by then); a correction
    # older than one already in is refused (plsp-note-updated-after-created)
    assert all(a.status_code in (200, 422) for a in answers), [a.text for a in answers]
    taken = sum(a.status_code == 200 for a in answers)
    submitted = [e["version"] for e in gp.events(CPR, kind="submitted") if e["subject"] == "note:note-1"]
    assert taken and submitted == list(range(1, 2 + taken))  # no version number twice
    assert gp.note("note-1")["version"] == 1 + taken

    gp.put_card(CPR, card(diabetes()))
    cards = racers.race([lambda c, n=n: c.put(f"/plsp/patients/{CPR}/conditionlist", headers=headers,
                                              json=card(diabetes(), copd()) if n % 2 else card(diabetes()))
                         for n in range(width)])
    assert [a.status_code for a in cards] == [200] * width, [a.text for a in cards]
    versions = [e["version"] for e in gp.events(CPR, kind="submitted") if e["subject"] == "conditionlist"]
    assert versions == list(range(1, 2 + width))


def test_a_note_marked_not_to_be_shared_while_dds_registers_it_is_withdrawn(
        context: SandboxContext, monkeypatch: pytest.MonkeyPatch) -> None:
    """The GP marks a new note "not to be shared" while DDS is still registering its entry: the mark's plan finds
    the entry not in DDS yet and drops it, and the registration then lands. The entry is withdrawn at once; DDS
    never goes on listing a note the practice said not to share."""
    registering, released = threading.Event(), threading.Event()
    real_door = dds_registration.door

    def held_door(*args: Any) -> Any:
        inner = real_door(*args)

        class Held:
            async def register(self, entry: dict[str, Any], **kwargs: Any) -> str:
                found = await inner.register(entry, **kwargs)  # DDS has it now; the hub does not know yet
                registering.set()
                await asyncio.to_thread(released.wait, 30)
                return found

            def __getattr__(self, name: str) -> Any:
                return getattr(inner, name)

        return Held()

    monkeypatch.setattr(dds_registration, "door", held_door)
    with serve(context) as base_url, httpx.Client(base_url=base_url, timeout=60) as one, \
            httpx.Client(base_url=base_url, timeout=60) as other, ThreadPoolExecutor(1) as pool:
        created = pool.submit(PlspClient.for_persona(one, GP_SYSTEM).create_note, CPR, a_note())
        assert registering.wait(30)
        marked = PlspClient.for_persona(other, GP_SYSTEM).do_not_share("note-1")
        assert not marked["shared"]
        released.set()
        created.result(timeout=30)
        gp = PlspClient.for_persona(other, GP_SYSTEM)
        assert gp.note("note-1")["dds"]["state"] == "deprecated"
        assert Reader(other, GP).search(type_code=NOTE_TYPE) == []  # type: ignore[arg-type]
        assert [e["kind"] for e in gp.events(CPR)][-2:] == ["shared", "unshared"]
