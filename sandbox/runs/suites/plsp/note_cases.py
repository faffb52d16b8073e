"""The journal-note cases of ``gp-system-plsp``: a shared note and its Notes document's profile, a correction,
'do not share', cancellation and the purge of a cancelled note's content.

The participant writes note A, corrects it and marks it 'do not share'; then writes note B and cancels it.
Notes are found at PLSP by the texts the instructions give (each holds the run's id), through the clinic's
event log and note status; what DDS serves is read as the citizen (ITI-67, and ITI-68 for the document PLSP
generates). The purge case moves the sandbox clock a day on and puts it back as it was.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.runs.suite import Case, CaseContext, CaseFailed
from sandbox.runs.suites.plsp.observe import (
    NOTES_TYPE,
    Dds,
    Parties,
    Plsp,
    Script,
    note_text,
    outcome_text,
    poll_seconds,
    validation_errors,
)


def _state(note: dict[str, Any]) -> str:
    return (f"note '{note['key']}' version {note['version']}: state {note['state']}, do_not_share "
            f"{note['do_not_share']}, available from {note['available_from']}, DDS entry {note['dds']['state']}")


async def shared_note(ctx: CaseContext, mark: str) -> dict[str, Any]:
    """The note holding ``mark`` once PLSP shares it and DDS lists it (its status, kept as evidence)."""
    plsp = Plsp(ctx)

    async def shared() -> dict[str, Any] | None:
        return next((n for n in await plsp.notes_holding(mark)
                     if n["shared"] and n["dds"]["state"] == "registered"), None)

    try:
        found = await ctx.wait_for(shared, what=f"a shared note holding '{mark}' at PLSP", interval=poll_seconds(ctx))
    except CaseFailed as exc:
        seen = "; ".join(_state(n) for n in await plsp.notes_holding(mark)) or "PLSP received no such note"
        raise CaseFailed(f"{exc}. {seen}") from None
    return await plsp.note(found["key"])


async def note_shared(ctx: CaseContext) -> None:
    who, dds, script = Parties.of(ctx), Dds(ctx), Script.of(ctx)
    ctx.instruct(f"Write a journal note for citizen {who.cpr} with the text '{script.note_a}' and save it as a "
                 "note to be shared.")
    note = await shared_note(ctx, script.note_a_mark)
    entry = note["dds"]["entry"]
    listed = [e["id"] for e in await dds.entries(NOTES_TYPE)]
    ctx.check(entry in listed, f"DDS does not list note '{note['key']}' (DocumentReference/{entry}) as a current "
              f"Notes entry of {who.clinic} for {who.cpr}")
    document = await dds.document(entry)
    text = note_text(document)
    ctx.check(script.note_a in text, f"The Notes document DDS serves for note '{note['key']}' "
              f"(DocumentReference/{entry}) does not hold '{script.note_a}': its note text is '{text[:200]}'")
    ctx.shared["note_a"] = {"key": note["key"], "entry": entry}


async def _note_a(ctx: CaseContext) -> dict[str, Any]:
    held = ctx.shared.get("note_a")
    if held is None:
        raise CaseFailed("Note A is not shared (case note-shared), so this cannot be judged")
    return dict(held)


async def notes_valid(ctx: CaseContext) -> None:
    note_a = await _note_a(ctx)
    document = await Dds(ctx).document(note_a["entry"])
    errors = await validation_errors(ctx, document)
    ctx.check(not errors, f"The Notes document DDS serves for note '{note_a['key']}' (DocumentReference/"
              f"{note_a['entry']}) is not valid against its MedCom profile ({len(errors)} errors): "
              + "; ".join(errors[:10]))


async def note_correction_replaces(ctx: CaseContext) -> None:
    who, plsp, dds, script = Parties.of(ctx), Plsp(ctx), Dds(ctx), Script.of(ctx)
    note_a = await _note_a(ctx)
    ctx.instruct(f"Correct the note '{script.note_a}' of citizen {who.cpr}: change its text to "
                 f"'{script.note_a_corrected}' as a correction of that same note (not as a new note), and save it.")

    async def corrected() -> list[dict[str, Any]] | None:
        return await plsp.notes_holding(script.note_a_corrected) or None

    holding = await ctx.wait_for(corrected, what=f"the corrected note at PLSP ('{script.note_a_corrected}')",
                                 interval=poll_seconds(ctx))
    others = [n for n in holding if n["key"] != note_a["key"]]
    if others:
        original = await plsp.note(note_a["key"])
        still = (f"still shared as DocumentReference/{note_a['entry']}" if original["shared"]
                 else f"state {original['state']}")
        ctx.fail(f"The correction reached PLSP as a new note (key '{others[0]['key']}', version "
                 f"{others[0]['version']}) beside the original note (key '{note_a['key']}', version "
                 f"{original['version']}, {still}): a corrected note must be sent as a new version of the same note "
                 f"(PUT /plsp/notes/{note_a['key']} with the new body, the creation time unchanged and a later "
                 "update time), so that only the newest version is shared")
    note = await plsp.note(note_a["key"])
    ctx.check(note["version"] >= 2, f"Note '{note['key']}' is at version {note['version']} after the correction")
    mine = []
    for entry in await dds.entries(NOTES_TYPE):
        response = await dds.retrieve(entry["id"])
        if response.status_code == 200 and script.note_a_mark in note_text(response.json()):
            mine.append((entry["id"], note_text(response.json())))
    ctx.check([e for e, _ in mine] == [note["dds"]["entry"]],
              f"DDS lists {len(mine)} current Notes entries holding note A for {who.cpr} "
              f"({[e for e, _ in mine]}); expected only note '{note['key']}''s entry {note['dds']['entry']}")
    text = mine[0][1]
    ctx.check(script.note_a_corrected in text and script.note_a not in text,
              f"The Notes document DDS serves for note '{note['key']}' holds '{text[:200]}'; expected only the "
              f"current version '{script.note_a_corrected}'")
    versions = [e["version"] for e in await plsp.events(evidence=True)
                if e["kind"] == "submitted" and e["subject"] == f"note:{note['key']}"]
    ctx.check(1 in versions, f"PLSP's event log has no version 1 of note '{note['key']}' (versions {versions})")
    ctx.note(f"PLSP's event log keeps every version of the note: {versions}")


async def _withdrawn(ctx: CaseContext, entry: str, label: str, wanted: tuple[str, ...]) -> str:
    """Wait until DDS no longer has ``entry`` as current; check it is not retrievable; its status."""
    dds = Dds(ctx)

    async def gone() -> str | None:
        current = {e["id"] for e in await dds.entries(NOTES_TYPE, evidence=False)}
        return "gone" if entry not in current else None

    await ctx.wait_for(gone, what=f"DDS to stop listing {label} (DocumentReference/{entry}) as current",
                       interval=poll_seconds(ctx))
    reference = await dds.entry(entry)
    status = str((reference or {}).get("status"))
    ctx.check(status in wanted, f"DocumentReference/{entry} ({label}) has status {status} in DDS; expected "
              f"{' or '.join(wanted)}")
    response = await dds.retrieve(entry)
    ctx.check(response.status_code == 404, f"DDS still answers ITI-68 for {label} (DocumentReference/{entry}) "
              f"with HTTP {response.status_code}; expected 404: the note is no longer provided "
              f"({outcome_text(response)})")
    return status


async def note_do_not_share(ctx: CaseContext) -> None:
    who, plsp, script = Parties.of(ctx), Plsp(ctx), Script.of(ctx)
    note_a = await _note_a(ctx)
    ctx.instruct(f"Mark the note '{script.note_a_corrected}' of citizen {who.cpr} 'Må ikke deles' (do not share) "
                 "in the GP system.")

    async def marked() -> dict[str, Any] | None:
        return next((n for n in await plsp.notes_holding(script.note_a_mark) if n["do_not_share"]), None)

    try:
        found = await ctx.wait_for(marked, what="'do not share' on note A at PLSP", interval=poll_seconds(ctx))
    except CaseFailed as exc:
        seen = "; ".join(_state(n) for n in await plsp.notes_holding(script.note_a_mark))
        raise CaseFailed(f"{exc}. PLSP has {seen or 'no note A'}: the GP system must tell PLSP at once "
                         f"(POST /plsp/notes/{note_a['key']}/do-not-share)") from None
    note = await plsp.note(found["key"])
    ctx.check(note["state"] == "active" and not note["shared"], f"After 'do not share' PLSP has {_state(note)}")
    status = await _withdrawn(ctx, note["dds"]["entry"] or note_a["entry"], f"note '{note['key']}'",
                              ("superseded", "entered-in-error"))
    ctx.note(f"The note's DDS entry is {status}; the note is kept at PLSP and can be shared again")


async def note_cancel_stops_sharing(ctx: CaseContext) -> None:
    who, plsp, script = Parties.of(ctx), Plsp(ctx), Script.of(ctx)
    ctx.instruct(f"Write another journal note for citizen {who.cpr} with the text '{script.note_b}' and save it "
                 "as a note to be shared.")
    note = await shared_note(ctx, script.note_b)
    entry = note["dds"]["entry"]
    ctx.instruct(f"Now delete (cancel) the note '{script.note_b}' in the GP system.")

    async def cancelled() -> dict[str, Any] | None:
        status = await plsp.note(note["key"], evidence=False)
        return status if status["state"] in ("cancelled", "purged") else None

    try:
        await ctx.wait_for(cancelled, what=f"the cancellation of note '{note['key']}' at PLSP",
                           interval=poll_seconds(ctx))
    except CaseFailed as exc:
        raise CaseFailed(f"{exc}. PLSP has {_state(await plsp.note(note['key']))}: the GP system must send the "
                         f"cancellation (POST /plsp/notes/{note['key']}/cancel) when the note is deleted") from None
    ctx.shared["note_b"] = note["key"]
    await _withdrawn(ctx, entry, f"the cancelled note '{note['key']}'", ("entered-in-error",))


async def cancelled_note_purged(ctx: CaseContext) -> None:
    plsp = Plsp(ctx)
    key = ctx.shared.get("note_b")
    if key is None:
        ctx.fail("No note was cancelled (case note-cancel-stops-sharing), so the purge cannot be judged")
    before = await plsp.note(str(key))
    ctx.check(before["state"] in ("cancelled", "purged"), f"Note '{key}' is not cancelled: {_state(before)}")
    clock = (await ctx.actor("sandbox", "GET", "/clock", operator=True)).json()
    later = datetime.fromisoformat(clock["now"].replace("Z", "+00:00")) + timedelta(hours=24, minutes=1)
    try:
        moved = await ctx.actor("sandbox", "PUT", "/clock", operator=True,
                                json={"now": later.isoformat(), "frozen": clock["frozen"]})
        ctx.check(moved.status_code == 200, f"The sandbox clock could not be moved: HTTP {moved.status_code} "
                  f"{outcome_text(moved)}")
        due = await ctx.actor("plsp", "POST", "/due")
        ctx.check(due.status_code == 200, f"PLSP's timed work (POST /plsp/due) answered HTTP {due.status_code}")
        after = await plsp.note(str(key))
        ctx.check(after["state"] == "purged" and after["body_html"] is None,
                  f"24 hours and a minute after note '{key}' was cancelled (sandbox clock moved to "
                  f"{later.isoformat()}), PLSP still holds its content ({_state(after)}, body "
                  f"{len(after['body_html'] or '')} characters): a cancelled note is deleted within 24 hours")
    finally:
        await _restore_clock(ctx, clock)


async def _restore_clock(ctx: CaseContext, before: dict[str, Any]) -> None:
    """Put the sandbox clock back as ``before`` (GET /sandbox/clock) had it: frozen there, real time, or running
    at the same offset from real time."""
    if before["frozen"]:
        response = await ctx.actor("sandbox", "PUT", "/clock", operator=True,
                                   json={"now": before["now"], "frozen": True})
    elif abs(float(before["offset_seconds"])) < 1:
        response = await ctx.actor("sandbox", "DELETE", "/clock", operator=True)
    else:
        now = datetime.now(UTC) + timedelta(seconds=float(before["offset_seconds"]))
        response = await ctx.actor("sandbox", "PUT", "/clock", operator=True,
                                   json={"now": now.isoformat(), "frozen": False})
    if response.status_code != 200:
        ctx.note(f"The sandbox clock could not be put back: HTTP {response.status_code} {outcome_text(response)}")


CASES = (
    Case("note-shared", "A journal note is shared: DDS serves its Notes document", note_shared,
         "conditionlist-notes.md §5.2 (Shared Notes S1)"),
    Case("notes-valid", "The Notes document DDS serves is valid against MedCom Notes 1.0.0", notes_valid,
         "medcom.fhir.dk.notes 1.0.0 medcom-notes-bundle ($validate)"),
    Case("note-correction-replaces", "A corrected note replaces the earlier version; only the newest is shared",
         note_correction_replaces, "conditionlist-notes.md §5.2 S1.A1, §3.7; docs/plsp.md (corrections are new "
         "versions)"),
    Case("note-do-not-share", "A note marked 'do not share' stops being shared at once", note_do_not_share,
         "conditionlist-notes.md §5.2 S1.A4; docs/plsp.md plsp-note-do-not-share"),
    Case("note-cancel-stops-sharing", "A cancelled note stops being shared at once", note_cancel_stops_sharing,
         "conditionlist-notes.md §5.2 C1.A1; docs/plsp.md plsp-note-cancelled"),
    Case("cancelled-note-purged", "A cancelled note's content is deleted within 24 hours (sandbox clock)",
         cancelled_note_purged, "conditionlist-notes.md §5.2 C1.A1; docs/plsp.md plsp-note-purge"),
)
