"""The ``eoj`` suite: a vendor's EOJ (municipal EHR) sends HomeCareObservation messages to the sandbox's
GP system (hco.md §7.2). Each case says which message to send (``ctx.instruct``), waits for it at the
GP inbox (``GET /lps/received``: the suite's citizen, from the EOJ under test, arrived after the
instruction) and checks it: content, the GP inbox's own validation and acknowledgement, the correction
chain, the order of new → modified → retracted, the SBDH envelope, a resend after a withheld
acknowledgement, and the DDS copy (ITI-67/68 as the citizen)."""

from __future__ import annotations

import asyncio
from typing import Any

from sandbox.runs.suite import Case, CaseContext, Suite
from sandbox.runs.suites.eoj import dds
from sandbox.runs.suites.eoj.content import (
    Message,
    Result,
    chain_problems,
    envelope_problems,
    initials_problems,
    report_problems,
    result_problems,
)
from sandbox.runs.suites.eoj.inbox import arrival, call_as, citizen, gp_reader, mark, practice
from sandbox.runs.suites.eoj.steps import accepted_problems, need, resend_case, setup

INITIALS = "SDaA"
COMMENT = "Borger afkræftet, drikker sparsomt."
CRP, GLUCOSE = "C-reactive protein", "glucose"
NEW_RESULTS = [Result("NPU19748", 26, "mg/L", name=CRP),
               Result("NPU22089", 6.8, "mmol/L", comment="Ikke fastende", name=GLUCOSE),
               Result("MCS88122", 25, comparator=">", name="respiration frequency per minute"),
               Result("NPU21578", "Negative", name="urine nitrite")]
MODIFIED_COMMENT = "Borger afkræftet; CRP målt igen efter en time."
MODIFIED_RESULTS = [Result("NPU19748", 31, "mg/L", name=CRP), *NEW_RESULTS[1:]]
REASON = "Sendt på forkert CPR-nummer"
UNKNOWN_RESULTS = [Result("NPU22089", 5.9, "mmol/L", name=GLUCOSE)]
REFUSED_RESULTS = [Result("NPU19748", 12, "mg/L", name=CRP)]


def _results(results: list[Result]) -> str:
    return "; ".join(r.said() for r in results)


async def _new_message(ctx: CaseContext, key: str, results: list[Result], ask: str, *,
                       initials: str | None = INITIALS, clinical: str | None = COMMENT,
                       refused: bool = False) -> Message:
    """Ask for a new message, wait for it, keep it as ``key`` and check what it must carry."""
    gp = await practice(ctx)
    before = await mark(ctx)
    who = f"the requesting GP's initials {initials!r}" if initials else "no initials (data-absent-reason 'unknown')"
    ctx.instruct(f"{ask}{' ' if ask else ''}Send a new HomeCareObservation message (Provenance.activity "
                 f"new-message) from your EOJ ({ctx.target}) to {gp.said()}, with {who}, about the citizen with "
                 f"CPR {citizen(ctx)}: "
                 f"{_results(results)} — status final, not interpreted (NI), sampled now"
                 + (f", with the clinical comment {clinical!r}" if clinical else "")
                 + (", and the citizen's refusal to share (DiagnosticReport.meta.security R)." if refused else "."))
    row = await arrival(ctx, before, f"the new message of case {ctx.case.name}", "new-message")
    ctx.shared[key] = row
    m = Message(row["message"])
    problems = (envelope_problems(m, citizen(ctx), ctx.target, gp) + initials_problems(m, initials)
                + report_problems(m, "new-message", clinical, refused) + result_problems(m, results, ctx.now()))
    ctx.check(not problems, "; ".join(problems))
    return m


async def new_message_content(ctx: CaseContext) -> None:
    await _new_message(ctx, "new", NEW_RESULTS, "")


async def new_message_accepted(ctx: CaseContext) -> None:
    row = need(ctx, "new", "new-message-content")
    problems = accepted_problems(row)
    ctx.check(not problems, "; ".join(problems))


async def _correction(ctx: CaseContext, key: str, activity: str, role: str, earlier_keys: tuple[str, ...],
                      ask: str) -> Message:
    earlier = [need(ctx, k, "the case that sent it") for k in earlier_keys]
    before = await mark(ctx)
    ctx.instruct(ask)
    row = await arrival(ctx, before, f"the {activity} of case {ctx.case.name}", activity)
    ctx.shared[key] = row
    original = Message(earlier[0]["message"])
    m = Message(row["message"])
    problems = chain_problems(m, [r["header_id"] for r in earlier], role, earlier[0]["sender_sor"], original.cpr())
    if row["bundle_id"] in {r["bundle_id"] for r in earlier}:
        problems.append(f"Bundle.id {row['bundle_id']} was used before; expected a new one")
    problems += accepted_problems(row)
    ctx.check(not problems, "; ".join(problems))
    return m


async def modified_message(ctx: CaseContext) -> None:
    new = need(ctx, "new", "new-message-content")
    m = await _correction(ctx, "modified", "modified-message", "revision", ("new",), (
        f"Modify the message you sent in case new-message-content (MessageHeader.id {new['header_id']}): CRP "
        f"(NPU19748) is now 31 mg/L, the clinical comment is now {MODIFIED_COMMENT!r}; everything else as it was. "
        "Send it as a modified-message whose Provenance names that message (entity.what, role revision)."))
    problems = report_problems(m, "modified-message", MODIFIED_COMMENT) + result_problems(m, MODIFIED_RESULTS,
                                                                                         ctx.now())
    ctx.check(not problems, "; ".join(problems))


async def retract_message(ctx: CaseContext) -> None:
    modified = need(ctx, "modified", "modified-message")
    m = await _correction(ctx, "retracted", "retract-message", "removal", ("new", "modified"), (
        f"Retract (cancel) the message you modified in case modified-message (MessageHeader.id "
        f"{modified['header_id']}) with the reason {REASON!r}: a retract-message whose Provenance names the "
        "message it cancels (entity.what, role removal), the reason in DiagnosticReport.conclusion."))
    conclusion = m.first("DiagnosticReport").get("conclusion")
    ctx.check(conclusion == REASON, f"DiagnosticReport.conclusion is {conclusion!r}; expected the reason {REASON!r}")


async def gp_view_chain(ctx: CaseContext) -> None:
    """What the GP sees: one chain, cancelled with the reason, its versions new → modified → retracted."""
    rows = [need(ctx, k, "the case that sent it") for k in ("new", "modified", "retracted")]
    answer = await call_as(ctx, await gp_reader(ctx), "lps", "GET", "/inbox", params={"cpr": citizen(ctx)})
    ctx.check(answer is not None and answer.status_code == 200, "GET /lps/inbox did not answer 200")
    chain = next((c for c in answer.json() if c.get("message") == rows[0]["header_id"]), None)
    ctx.check(chain is not None, f"the GP inbox shows no chain starting at {rows[0]['header_id']}")
    order = [(h.get("id"), h.get("activity")) for h in chain["history"]]
    wanted = [(r["header_id"], r["activity"]) for r in rows]
    ctx.check(order == wanted, f"the GP inbox holds the chain as {order}; expected {wanted} (new before "
              "modified before retracted, each naming the one before)")
    ctx.check(chain.get("status") == "cancelled" and chain.get("cancellation_reason") == REASON,
              f"the GP inbox shows the chain {chain.get('status')!r} with reason {chain.get('cancellation_reason')!r};"
              f" expected 'cancelled' with {REASON!r}")


async def initials_unknown(ctx: CaseContext) -> None:
    await _new_message(ctx, "unknown", UNKNOWN_RESULTS, "The requesting GP's initials are not known.",
                       initials=None, clinical=None)
    problems = accepted_problems(ctx.shared["unknown"])
    ctx.check(not problems, "; ".join(problems))


async def refused_consent(ctx: CaseContext) -> None:
    await _new_message(ctx, "refused", REFUSED_RESULTS, "The citizen has refused sharing.", refused=True)
    row = ctx.shared["refused"]
    problems = accepted_problems(row)
    ctx.check(not problems, "; ".join(problems))
    await dds.can_read(ctx)  # the message was right and acknowledged; whether DDS has it needs the citizen's token
    grace = float(ctx.options.get("dds_grace_seconds", 10))
    await asyncio.sleep(grace)
    for status in ("current", "superseded", "entered-in-error"):
        entry = await dds.entry_for(ctx, row["header_id"], status)
        ctx.check(entry is None, f"DDS holds DocumentReference/{entry and entry.get('id')} ({status}) for the message "
                  f"{row['header_id']}, whose citizen refused sharing; expected no DDS copy at all")


async def _dds_entry(ctx: CaseContext, key: str, status: str, case: str) -> dict[str, Any]:
    row = need(ctx, key, case)
    await dds.can_read(ctx)

    async def probe() -> dict[str, Any] | None:
        return await dds.entry_for(ctx, row["header_id"], status)

    entry = await ctx.wait_for(probe, what=f"a {status} HCOM DocumentReference in DDS for CPR {citizen(ctx)} "
                               f"holding the message {row['header_id']}")
    ctx.note(f"DDS entry DocumentReference/{entry.get('id')} ({status}) holds {row['header_id']}")
    problems = dds.metadata_problems(entry)
    ctx.check(not problems, "; ".join(problems))
    return entry


async def dds_copy_new(ctx: CaseContext) -> None:
    await _dds_entry(ctx, "new", "current", "new-message-content")


async def dds_copy_modified(ctx: CaseContext) -> None:
    await _dds_entry(ctx, "modified", "current", "modified-message")
    await _dds_entry(ctx, "new", "superseded", "new-message-content")


async def dds_copy_retracted(ctx: CaseContext) -> None:
    await _dds_entry(ctx, "modified", "entered-in-error", "modified-message")


async def sbdh_envelope(ctx: CaseContext) -> None:
    """The envelope each message came in, as option ``envelope`` asks (the GP inbox already refused any
    envelope whose header did not match its message with 400, so what arrived enveloped was consistent)."""
    wanted = str(ctx.options.get("envelope", "any"))
    rows = [ctx.shared[k] for k in ("new", "modified", "retracted", "unknown", "refused") if k in ctx.shared]
    if not rows:
        ctx.skip("no message of this run arrived")
    seen = {r["header_id"]: r["envelope"] for r in rows}
    if wanted == "any" and "sbdh" not in seen.values():
        ctx.skip(f"no message came in an SBDH envelope ({seen}); set option envelope 'sbdh' to require one")
    wrong = {h: e for h, e in seen.items() if wanted != "any" and e != wanted}
    ctx.check(not wrong, f"messages arrived with envelope {wrong}; expected {wanted!r} for every message")
    ctx.note(f"envelopes: {seen}; the GP inbox answered each in kind")


SUITE = Suite(
    name="eoj",
    title="A vendor's EOJ sends HomeCareObservation messages to the sandbox's GP system",
    target_kind="eoj",
    description=(
        "target: the EOJ under test, as the SOR code (at least 11 digits) or GLN (13 digits; a 13-digit "
        "target is read as a GLN) of its producer organisation (the acute team, MessageHeader.sender). Each "
        "case instructs the participant to send a message for the suite's citizen to one practice of the "
        "sandbox's GP system (its SOR, GLN, ydernummer and EHMI endpoint /lps/ehmi are said in each "
        "instruction), waits for it at the GP inbox and checks it: the values asked for, codes, units, "
        "comparators, status final, NI, timestamps, initials or 'unknown', ProducentID KAF, sender and "
        "receiver identifiers; the GP inbox's validation and acknowledgement (ok); the correction chain and "
        "the order new → modified → retracted; the SBDH envelope; the DDS copy (ITI-67/68 as the citizen): "
        "HCOM, superseded when modified, deprecated when retracted, none for refused consent; optionally a "
        "resend after a withheld acknowledgement."),
    cases=(
        Case("new-message-content", "A new message carries the results, people and identifiers asked for",
              new_message_content, "hco.md §1, §7.1; MedCom send test protocol S1, S1.A2, S1.A3"),
        Case("new-message-accepted", "The GP inbox validated the new message and acknowledged it ok",
              new_message_accepted, "hco.md §4.1, §7.1; MedCom send test protocol (prerequisite: acknowledgement)"),
        Case("dds-copy-new", "The new message is shared to DDS as a current HCOM entry", dds_copy_new,
              "hco.md §5; docs/hco.md Sharing to DDS"),
        Case("modified-message", "A modification names the original, keeps sender and CPR, carries the changes",
              modified_message, "hco.md §3 (S.CORR), §7.1 layer 3"),
        Case("dds-copy-modified", "The modification replaces the DDS entry: new current, original superseded",
              dds_copy_modified, "hco.md §3 (Sandbox), §5"),
        Case("retract-message", "A retraction names the message it cancels and gives the reason",
              retract_message, "hco.md §3 (S.CANC), §7.1 layer 3"),
        Case("dds-copy-retracted", "The retraction deprecates the chain's DDS entry", dds_copy_retracted,
              "hco.md §3 (Sandbox), §5; docs/hco.md Sharing to DDS"),
        Case("gp-view-chain", "The GP sees one chain, new before modified before retracted, cancelled",
              gp_view_chain, "hco.md §3 (R.CORR, R.CANC), §7.2"),
        Case("initials-unknown", "Without the GP's initials the receiver says data-absent-reason unknown",
              initials_unknown, "hco.md §1.7; MedCom receive test protocol Example 2"),
        Case("refused-consent", "Refused consent is labelled R, acknowledged, and never shared to DDS",
              refused_consent, "hco.md §5 (consent); docs/hco.md DDS guards every HCOM"),
        Case("sbdh-envelope", "Messages come in the SBDH envelope the option asks for", sbdh_envelope,
              "hco.md §4.3, §7.1 layer 1"),
        Case("ack-withheld-resend", "Without an acknowledgement the EOJ resends: same MessageHeader.id, new Bundle.id",
              resend_case, "hco.md §4.2 (MedCom governance 043), §7.2"),
    ),
    options={
        "citizen": "CPR the participant's messages are about (default 2509479989, Bruno Elmer); the DDS cases "
                   "need one of NSP's citizens",
        "receiver": "SOR code or GLN of the sandbox GP practice to address (default 52581000016005, Skødstrup "
                    "Lægepraksis; GET /lps/practices lists them)",
        "ack_url": "where the GP system sends acknowledgements for the target's SOR code, when its messages' "
                   "source.endpoint is a SOR address (registered with PUT /lps/return-addresses)",
        "envelope": "'sbdh', 'none' or 'any' (default): the envelope every message must arrive in",
        "clock_cases": "true: run ack-withheld-resend, moving the sandbox clock past the 30-minute "
                       "acknowledgement timeout (only for an EOJ that follows the sandbox clock); else skipped",
        "dds_grace_seconds": "how long refused-consent waits before it checks DDS has no copy (default 10)",
        "timeout_seconds": "how long each case waits for a message or a DDS entry (default 300)",
    },
    setup=setup,
)
