"""The diagnosis-card cases of ``gp-system-plsp``: approval, the private diagnosis, the tillægstekst, the
generated ConditionList's profile, and a corrected diagnosis.

The participant puts three diagnoses on the test citizen's card (one of them private, one with a tillægstekst),
saves it unapproved, approves it, then corrects one diagnosis. Each case watches what reaches PLSP (the clinic's
event log and card status) and what DDS serves (ITI-67, and ITI-68 — which makes PLSP generate the document).
"""

from __future__ import annotations

from typing import Any

from sandbox.runs.suite import Case, CaseContext, CaseFailed
from sandbox.runs.suites.plsp.observe import (
    CONDITIONLIST_TYPE,
    Dds,
    Parties,
    Plsp,
    Script,
    conditions_coded,
    describe,
    paths_holding,
    poll_seconds,
    resources,
    validation_errors,
)

DIAGNOSES = ("(1) 'Type 2-diabetes', ICPC-2 T90, SKS DE119A, status Aktuel; (2) 'Kronisk obstruktiv lungesygdom', "
             "ICPC-2 R95, SKS DJ449, status Relevant, onset 2003-01-01, ended 2023-03-03, with the tillægstekst "
             "'{tillaeg}'; (3) 'Depression', ICPC-2 P76, SKS DF339, status Aktuel, marked Privat")
SETTLE_SECONDS = 10.0
SHAREABLE = (("T90", "DE119", "Type 2-diabetes"), ("R95", "DJ449", "Kronisk obstruktiv lungesygdom"))


def card_events(events: list[dict[str, Any]], since: int) -> list[dict[str, Any]]:
    """The cards PLSP received from the clinic after event ``since``."""
    return [e for e in events[since:] if e["kind"] == "submitted" and e["subject"] == "conditionlist"]


def approver(approval: dict[str, Any]) -> str:
    by = approval.get("by") or {}
    return f"{' '.join(by.get('given', []))} {by.get('family', '')} ({by.get('identifier', '?')})".strip()


def in_step(status: dict[str, Any] | None) -> bool:
    """Whether PLSP's DDS entry for the card is what its card status says: registered exactly when the card is
    shared, and neither pending nor withdrawing. Just after PLSP keeps a new version of the card it has not planned
    the entry yet: an unapproved card then still shows the earlier version's entry as registered."""
    if status is None:
        return True
    state = status["dds"]["state"]
    return state not in ("pending", "withdrawing") and (state == "registered") == bool(status["shared"])


async def settled_entries(ctx: CaseContext) -> list[dict[str, Any]]:
    """The clinic's current ConditionList entries in DDS once PLSP has brought DDS in step with the card it holds
    (:func:`in_step`; at most ``SETTLE_SECONDS``)."""
    plsp = Plsp(ctx)

    async def settled() -> bool | None:
        return True if in_step(await plsp.card(evidence=False)) else None

    try:
        await ctx.wait_for(settled, what="PLSP to bring DDS in step", timeout=SETTLE_SECONDS,
                           interval=poll_seconds(ctx))
    except CaseFailed:
        ctx.note(f"PLSP's DDS entry for the card was still changing after {SETTLE_SECONDS} s")
    return await Dds(ctx).entries(CONDITIONLIST_TYPE)


async def unapproved_card_not_shared(ctx: CaseContext) -> None:
    who, plsp, script = Parties.of(ctx), Plsp(ctx), Script.of(ctx)
    start = len(await plsp.events())
    ctx.instruct(f"Open citizen {who.cpr} ({who.citizen}) in the GP system and put these diagnoses on the "
                 f"diagnosis card: {DIAGNOSES.format(tillaeg=script.tillaegstekst)}. Save the card but do NOT "
                 "approve it yet (the next step approves it).")

    async def received() -> dict[str, Any] | None:
        found = card_events(await plsp.events(), start)
        return found[0] if found else None

    wait = float(ctx.options.get("unapproved_wait_seconds", ctx.options.get("timeout_seconds", 300)))
    try:
        first = await ctx.wait_for(received, what="an unapproved card at PLSP", timeout=wait,
                                   interval=poll_seconds(ctx))
    except CaseFailed:
        ctx.note(f"PLSP received no card within {wait:g} s of saving it unapproved: the GP system sends the card "
                 "on approval only, which is allowed — nothing unapproved reached PLSP")
        return
    entries = await settled_entries(ctx)
    listed = ", ".join(f"DocumentReference/{e['id']}" for e in entries)
    approval = (first.get("details") or {}).get("approval")
    if approval:
        ctx.fail(f"PLSP received the card for {who.cpr} (version {first['version']}) already approved — approval "
                 f"by {approver(approval)} at {approval.get('at')} — although the GP had not approved it: the GP "
                 "system must send an approval only when the GP approves the card (conditionlist-notes.md §5.1, "
                 "S1), since PLSP shares an approved card at once"
                 + (f"; DDS already lists it: {listed}" if entries else ""))
    status = await plsp.card()
    ctx.check(status is not None and not status["approved"],
              f"PLSP's card for {who.cpr} is approved (version {status and status['version']}) although the GP "
              "has not approved it: an approval was sent with a later version of the card")
    assert status is not None
    ctx.check(not entries, f"DDS lists a current ConditionList from {who.clinic} for {who.cpr} ({listed}) while "
              f"the card PLSP holds (version {status['version']}) is not approved: nothing unapproved may be shared")
    ctx.note(f"PLSP keeps the unapproved card (version {status['version']}) and shares nothing")


async def approved_card_after(ctx: CaseContext, since: int, what: str) -> None:
    """Wait until PLSP has received an approved card after event ``since`` and shares it (DDS entry registered);
    on time-out fail saying what PLSP holds and why it does not share it."""
    plsp = Plsp(ctx)

    async def shared() -> dict[str, Any] | None:
        if not any((e.get("details") or {}).get("approval") for e in card_events(await plsp.events(), since)):
            return None
        status = await plsp.card(evidence=False)
        return status if status and status["approved"] and status["dds"]["state"] == "registered" else None

    try:
        await ctx.wait_for(shared, what=what, interval=poll_seconds(ctx))
    except CaseFailed as exc:
        status = await plsp.card()
        refused = [f"{e['rule']}: {e['text']}" for e in (await plsp.events(evidence=True))[since:]
                   if e["kind"] == "refused" and str(e["rule"]).startswith("plsp-card-")][-3:]
        seen = "no card" if status is None else (
            f"version {status['version']}, approved {status['approved']}, shared {status['shared']}, DDS entry "
            f"{status['dds']['state']}; why the card is not shared: {refused or 'no refusal'}")
        raise CaseFailed(f"{exc}. PLSP has {seen}: the GP system must send the whole card with its approval "
                         "(approval.by, approval.at at or after the card's last change) when the GP approves it") \
            from None


async def approved_card_shared(ctx: CaseContext) -> None:
    who, plsp, dds = Parties.of(ctx), Plsp(ctx), Dds(ctx)
    ctx.instruct(f"Now approve the diagnosis card of citizen {who.cpr} in the GP system, as the GP does.")
    since = int(ctx.shared.get("events_at_start", 0))

    await approved_card_after(ctx, since, f"an approved card for {who.cpr} at PLSP, shared in DDS")
    status = await plsp.card()
    assert status is not None
    entries = await dds.entries(CONDITIONLIST_TYPE)
    ctx.check([e["id"] for e in entries] == [status["dds"]["entry"]],
              f"DDS lists {[e['id'] for e in entries]} as the clinic's current ConditionList entries for {who.cpr}; "
              f"expected exactly PLSP's entry {status['dds']['entry']}")
    document = await dds.document(status["dds"]["entry"])
    ctx.shared["conditionlist"] = {"entry": status["dds"]["entry"], "document": document}
    for icpc2, sks, text in SHAREABLE:
        ctx.check(conditions_coded(document, icpc2, sks),
                  f"The ConditionList DDS serves for {who.cpr} has no Condition coded ICPC-2 {icpc2} / SKS-D {sks} "
                  f"('{text}'), a shareable diagnosis on the approved card; PLSP withheld: "
                  f"{[(w['key'], w['rule'], w['reason']) for w in status['withheld_diagnoses']] or 'nothing'}")


async def shared_conditionlist(ctx: CaseContext) -> dict[str, Any]:
    """The ConditionList of this run's approved card, as DDS serves it now."""
    held = ctx.shared.get("conditionlist")
    if held is None:
        raise CaseFailed("No ConditionList of the approved card is shared (case approved-card-shared), so this "
                         "cannot be judged")
    return await Dds(ctx).document(held["entry"])


async def private_diagnosis_not_shared(ctx: CaseContext) -> None:
    who = Parties.of(ctx)
    document = await shared_conditionlist(ctx)
    leaked = conditions_coded(document, "P76", "DF339")
    leaked += [(p, c) for p, c in resources(document, "Condition")
               if c.get("code", {}).get("text") == "Depression" and (p, c) not in leaked]
    status = await Plsp(ctx).card()
    if leaked:
        ctx.fail(f"The ConditionList DDS serves for {who.cpr} holds the diagnosis the GP marked Privat: "
                 f"{'; '.join(describe(p, c) for p, c in leaked)}. The GP system sent it to PLSP as shareable; "
                 "a private diagnosis must be sent with \"private\": true (PLSP withholds it, rule plsp-dx-private) "
                 "or not at all")
    withheld = [w for w in (status or {}).get("withheld_diagnoses", []) if w["rule"] == "plsp-dx-private"]
    ctx.note(f"PLSP withholds as private: {[w['key'] for w in withheld]}" if withheld else
             "The GP system did not send the private diagnosis to PLSP at all")


async def internal_note_not_shared(ctx: CaseContext) -> None:
    who, script = Parties.of(ctx), Script.of(ctx)
    document = await shared_conditionlist(ctx)
    where = paths_holding(document, script.tillaegstekst)
    ctx.check(not where, f"The tillægstekst '{script.tillaegstekst}' of ICPC-2 R95 is in the ConditionList DDS "
              f"serves for {who.cpr}, at {', '.join(where)}: a tillægstekst is the clinic's own note and is never "
              "shared — send it as diagnoses[].internal_note (PLSP keeps it, rule plsp-dx-internal-note), never in "
              "the diagnosis text")
    since = int(ctx.shared.get("events_at_start", 0))
    kept = [e for e in (await Plsp(ctx).events(evidence=True))[since:] if e["rule"] == "plsp-dx-internal-note"]
    ctx.note("PLSP received the tillægstekst as the diagnosis' internal note and kept it back" if kept else
             "The GP system did not send the tillægstekst to PLSP")


async def condition_note_not_shared(ctx: CaseContext) -> None:
    who = Parties.of(ctx)
    document = await shared_conditionlist(ctx)
    with_note = [f"{path}.note" for path, condition in resources(document, "Condition") if "note" in condition]
    ctx.check(not with_note, f"The ConditionList DDS serves for {who.cpr} has {', '.join(with_note)}: "
              "Condition.note (tillægstekst) must not be shared in a ConditionList (MedCom send test protocol "
              "1.0.1; TestScript NoteText-Not-Present)")


async def conditionlist_valid(ctx: CaseContext) -> None:
    who = Parties.of(ctx)
    document = await shared_conditionlist(ctx)
    errors = await validation_errors(ctx, document)
    ctx.check(not errors, f"The ConditionList DDS serves for {who.cpr} is not valid against its MedCom profile "
              f"({len(errors)} errors): " + "; ".join(errors[:10]))


async def diagnosis_correction_replaces(ctx: CaseContext) -> None:
    who, plsp, dds, script = Parties.of(ctx), Plsp(ctx), Dds(ctx), Script.of(ctx)
    start = len(await plsp.events())
    earlier = (ctx.shared.get("conditionlist") or {}).get("entry")
    ctx.instruct(f"Correct the diagnosis 'Type 2-diabetes' (ICPC-2 T90) on the card of citizen {who.cpr}: change "
                 f"its text to '{script.corrected_diagnosis}' by editing that diagnosis (do not add a new one), "
                 "then approve the card again.")

    await approved_card_after(ctx, start, f"the corrected, approved card for {who.cpr} at PLSP, shared in DDS")
    entries = await dds.entries(CONDITIONLIST_TYPE)
    ctx.check(len(entries) == 1, f"DDS lists {len(entries)} current ConditionList entries from {who.clinic} for "
              f"{who.cpr} ({[e['id'] for e in entries]}); the patient has one ConditionList, the current card")
    document = await dds.document(entries[0]["id"])
    t90 = conditions_coded(document, "T90", "DE119")
    ctx.check(len(t90) == 1, f"The ConditionList DDS serves for {who.cpr} after the correction holds "
              f"{len(t90)} Conditions coded ICPC-2 T90: {'; '.join(describe(p, c) for p, c in t90) or 'none'}. "
              "The correction must replace the diagnosis: send the changed diagnosis with its earlier key "
              "(diagnoses[].key), not as a new diagnosis beside it")
    text = t90[0][1].get("code", {}).get("text")
    ctx.check(text == script.corrected_diagnosis, f"{t90[0][0]}.code.text is '{text}' after the correction; "
              f"expected '{script.corrected_diagnosis}' (the document shows only the current version)")
    if earlier and earlier != entries[0]["id"]:
        kept = await dds.entry(earlier)
        ctx.check(kept is not None, f"DDS no longer has the earlier entry DocumentReference/{earlier}")
        ctx.note(f"The corrected card has a new entry; the earlier one is {kept and kept.get('status')}")
    versions = [e["version"] for e in card_events(await plsp.events(evidence=True), 0)]
    ctx.note(f"PLSP's event log keeps every version of the card: {versions}")


CASES = (
    Case("unapproved-card-not-shared", "An unapproved diagnosis card is not shared", unapproved_card_not_shared,
         "conditionlist-notes.md §5.1 (S1: the GP approves the card, then it is shared); docs/plsp.md "
         "plsp-card-approved"),
    Case("approved-card-shared", "After approval the card is shared: DDS serves its ConditionList",
         approved_card_shared, "conditionlist-notes.md §5.1 (S1); docs/plsp.md, On-demand sharing through DDS"),
    Case("private-diagnosis-not-shared", "A diagnosis marked Privat is never shared", private_diagnosis_not_shared,
         "conditionlist-notes.md §5.1 Excluded; MedCom ConditionList send test protocol S1(3); plsp-dx-private"),
    Case("internal-note-not-shared", "The tillægstekst (internal note) is not shared", internal_note_not_shared,
         "conditionlist-notes.md §5.1 Tillægstekst; docs/plsp.md plsp-dx-internal-note"),
    Case("condition-note-not-shared", "The ConditionList has no Condition.note", condition_note_not_shared,
         "MedCom ConditionList send test protocol 1.0.1; TestScript NoteText-Not-Present"),
    Case("conditionlist-valid", "The ConditionList DDS serves is valid against MedCom ConditionList 1.0.1",
         conditionlist_valid, "medcom.fhir.dk.conditionlist 1.0.1 medcom-conditionlist-bundle ($validate)"),
    Case("diagnosis-correction-replaces", "A corrected diagnosis replaces the earlier one in the ConditionList",
         diagnosis_correction_replaces, "conditionlist-notes.md §5.1 Updates and deletes; send test protocol "
         "S1(4)–S1(5)"),
)
