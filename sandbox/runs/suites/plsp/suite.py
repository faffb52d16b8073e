"""``gp-system-plsp``: a vendor's GP system sending its diagnosis card (ConditionList) and journal notes (Notes)
to the sandbox's PLSP hub.

The participant works in their GP system as a GP would, step by step as the run instructs; the suite watches
what reaches PLSP and what DDS then serves, and judges the GP system's part of each source rule: approval before
sharing, private diagnoses, the tillægstekst, corrections as new versions, 'do not share' and cancellation —
and that the documents PLSP generates from what it sent are valid MedCom documents.
"""

from __future__ import annotations

import secrets

from sandbox.runs.suite import CaseContext, Suite
from sandbox.runs.suites.plsp.card_cases import CASES as CARD_CASES
from sandbox.runs.suites.plsp.note_cases import CASES as NOTE_CASES
from sandbox.runs.suites.plsp.observe import Parties, Plsp, outcome_text

DESCRIPTION = (
    "The target is the vendor's GP system as PLSP knows it: the id of its system persona at NSP's STS, of kind "
    "gp-system, whose organisation (SOR) is the clinic it acts for — e.g. system-lps-vendor, loaded with "
    "POST /sandbox/world (systems: [{id, name, kind: gp-system, organisation: <clinic SOR>}]). The GP system calls "
    "PLSP's LPS interface (/plsp, docs/plsp.md) with that persona's token (audience plsp); the suite reads PLSP "
    "through the same interface's read faces as that clinic, and DDS (ITI-67, ITI-68) as the test citizen "
    "(option citizen, a citizen of the sandbox's world). The participant follows the instructions in the GP "
    "system: a diagnosis card saved unapproved, approved and corrected; note A written, corrected and marked "
    "'do not share'; note B written and cancelled. Each text to type holds the run's id, so earlier runs on "
    "the same citizen do not count. The last case moves the sandbox clock a day on and puts it back."
)

OPTIONS = {
    "citizen": "CPR number of the test citizen the participant uses in the GP system (required)",
    "timeout_seconds": "how long a case waits for the GP system's step to reach PLSP (default 300)",
    "poll_seconds": "how often a waiting case looks at PLSP and DDS (default 1)",
    "unapproved_wait_seconds": "how long to wait for an unapproved card before taking it that the GP system sends "
                               "the card on approval only, which is allowed (default: timeout_seconds; a GP "
                               "system that sends cards on approval only may set it low)",
}


async def setup(ctx: CaseContext) -> None:
    """Check the target and the citizen, make notes shareable at once, and mark where this run's events begin."""
    cpr = str(ctx.options.get("citizen") or "").strip()
    ctx.check(cpr, "The option 'citizen' is missing: give the CPR number of the test citizen the participant uses "
              "in the GP system")
    systems = (await ctx.actor("nsp", "GET", "/personas", params={"kind": "system"})).json()
    target = next((p for p in systems if p["id"] == ctx.target), None)
    ctx.check(target is not None, f"The target '{ctx.target}' is no system persona at NSP (GET /nsp/personas"
              f"?kind=system has {[p['id'] for p in systems]}); load the GP system with POST /sandbox/world")
    assert target is not None
    ctx.check(target.get("system_kind") == "gp-system" and target.get("organisation"),
              f"The target '{ctx.target}' is a system of kind {target.get('system_kind')} with organisation "
              f"{target.get('organisation')}; PLSP takes GP systems only: a persona of kind gp-system whose "
              "organisation is the clinic's SOR code")
    citizens = (await ctx.actor("nsp", "GET", "/personas", params={"kind": "citizen"})).json()
    citizen = next((p for p in citizens if p.get("cpr") == cpr), None)
    ctx.check(citizen is not None, f"The citizen {cpr} (option citizen) is not in the sandbox's world; load them "
              "with POST /sandbox/world (citizens: [{cpr, name, gp}])")
    assert citizen is not None
    ctx.shared["parties"] = Parties(ctx.target, str(target["organisation"]), str(target["organisation_name"]),
                                    cpr, str(citizen["id"]), str(citizen["name"]))
    ctx.shared["run"] = f"PLSP-{secrets.token_hex(3).upper()}"
    settings = (await ctx.actor("plsp", "GET", "/settings")).json()
    if settings.get("notes_after_midnight"):
        changed = await ctx.actor("plsp", "PUT", "/settings", json={"notes_after_midnight": False})
        ctx.check(changed.status_code == 200, f"PLSP's notes_after_midnight could not be turned off: "
                  f"{outcome_text(changed)}")
        ctx.note("PLSP shared notes only after midnight; the run turned that off (PUT /plsp/settings)")
    ctx.shared["events_at_start"] = len(await Plsp(ctx).events(evidence=True))


SUITE = Suite(
    name="gp-system-plsp",
    title="GP system → PLSP: diagnosis card (ConditionList) and journal notes (Notes)",
    target_kind="gp-system",
    description=DESCRIPTION,
    cases=CARD_CASES + NOTE_CASES,
    options=OPTIONS,
    setup=setup,
)
