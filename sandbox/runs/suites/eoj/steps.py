"""The ``eoj`` suite's setup, the GP inbox's verdict on a message, and the resend case (which moves the
sandbox clock and withholds the GP inbox's acknowledgement, and puts both back)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from nsp_sandbox import fhir_shape as shape
from sandbox.runs.suite import CaseContext
from sandbox.runs.suites.eoj.content import Message, Result, result_problems
from sandbox.runs.suites.eoj.inbox import arrival, citizen, gp_reader, mark, practice, target_is_gln

ENVELOPES = ("any", "sbdh", "none")
ACK_TIMEOUT = timedelta(minutes=31)  # past MedCom's 30-minute acknowledgement timeout
RESEND_RESULTS = [Result("NPU22089", 7.2, "mmol/L", name="glucose")]


def yes(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1", "yes")


async def operator_put(ctx: CaseContext, actor: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = await ctx.actor(actor, "PUT", path, operator=True, json=body)
    ctx.check(answer.status_code == 200, f"PUT /{actor}{path} answered {answer.status_code}: {answer.text[:300]}")
    return dict(answer.json())


async def setup(ctx: CaseContext) -> None:
    """Check the target and options, find the practice and its reader, register the ack return address."""
    target = ctx.target
    ctx.check(target.isdigit() and len(target) >= 11,
              f"target {target!r} is neither a SOR code (at least 11 digits) nor a GLN (13 digits) of the EOJ's "
              "producer organisation")
    envelope = str(ctx.options.get("envelope", "any"))
    ctx.check(envelope in ENVELOPES, f"option envelope is {envelope!r}; expected one of {', '.join(ENVELOPES)}")
    await practice(ctx)
    await gp_reader(ctx)
    ack_url = ctx.options.get("ack_url")
    if ack_url:
        ctx.check(not target_is_gln(ctx), "option ack_url registers a return address by SOR code: give the "
                  "target as the EOJ's SOR code")
        await operator_put(ctx, "lps", "/return-addresses", {"sor": target, "url": str(ack_url)})


def need(ctx: CaseContext, key: str, case: str) -> dict[str, Any]:
    """A message an earlier case of this run received; skip when it did not come."""
    if key not in ctx.shared:
        ctx.skip(f"needs the message of {case}, which did not arrive in this run")
    return dict(ctx.shared[key])


def verdict(row: dict[str, Any]) -> tuple[str, str]:
    """What the GP inbox acknowledged: ``response.code`` and ``response.identifier`` of its acknowledgement."""
    header = shape.obj((shape.resources(row.get("ack")) or [{}])[0])
    response = shape.obj(header.get("response"))
    return shape.text(response.get("code")), shape.text(response.get("identifier"))


def accepted_problems(row: dict[str, Any]) -> list[str]:
    """MedCom validity as the GP inbox judged it: accepted, acknowledged ok for this MessageHeader.id."""
    code, identifier = verdict(row)
    problems = []
    if row.get("verdict") not in ("accepted", "duplicate") or code != "ok":
        findings = "; ".join(f"{i.get('msg_code')} at {', '.join(i.get('expression') or [])}: "
                             f"{shape.obj(i.get('details')).get('text') or i.get('diagnostics')}"
                             for i in row.get("issues") or [] if i.get("severity") in ("error", "fatal"))
        problems.append(f"the GP inbox answered the message {row.get('header_id')} {row.get('verdict')!r} with "
                        f"acknowledgement {code or 'none yet'!r}; expected accepted and 'ok'"
                        + (f" — findings: {findings}" if findings else ""))
    elif identifier != row.get("header_id"):
        problems.append(f"the acknowledgement's response.identifier is {identifier!r}; expected {row.get('header_id')}")
    return problems


async def _move_clock(ctx: CaseContext, by: timedelta) -> None:
    answer = await ctx.actor("sandbox", "GET", "/clock", operator=True)
    ctx.check(answer.status_code == 200, f"GET /sandbox/clock answered {answer.status_code}")
    clock = answer.json()
    moved = datetime.fromisoformat(str(clock["now"]).replace("Z", "+00:00")) + by
    await operator_put(ctx, "sandbox", "/clock", {"now": moved.isoformat(), "frozen": bool(clock.get("frozen"))})


async def resend_case(ctx: CaseContext) -> None:
    """The GP inbox withholds the acknowledgement; after the sandbox clock moves past the 30-minute timeout
    the EOJ resends the same MessageHeader.id in a new Bundle, which is then acknowledged (hco.md §4.2)."""
    if not yes(ctx.options.get("clock_cases")):
        ctx.skip("needs an EOJ that follows the sandbox clock (/sandbox/clock); run with option clock_cases true")
    gp = await practice(ctx)
    before = await mark(ctx)
    await operator_put(ctx, "lps", "/switches", {"withhold": True})
    try:
        ctx.instruct(f"The GP system will not acknowledge the next message. Send a new HomeCareObservation message "
                     f"from your EOJ ({ctx.target}) to {gp.said()}, with the GP's initials 'SDaA', about the citizen "
                     f"with CPR {citizen(ctx)}: {RESEND_RESULTS[0].said()}, sampled now. Do not resend it yet.")
        first = await arrival(ctx, before, "the message whose acknowledgement is withheld", "new-message")
    finally:
        await operator_put(ctx, "lps", "/switches", {"withhold": False})
    before = await mark(ctx)
    await _move_clock(ctx, ACK_TIMEOUT)
    try:
        ctx.instruct(f"No acknowledgement came for MessageHeader.id {first['header_id']}, and the sandbox clock is "
                     f"now {ACK_TIMEOUT.seconds // 60} minutes on. Resend it as MedCom reliable messaging says: "
                     "the same MessageHeader.id, a new Bundle.id and send time.")
        again = await arrival(ctx, before, "the resend of the unacknowledged message", "new-message")
    finally:
        await _move_clock(ctx, -ACK_TIMEOUT)
    problems = result_problems(Message(again["message"]), RESEND_RESULTS, ctx.now() + ACK_TIMEOUT)
    if again["header_id"] != first["header_id"]:
        problems.insert(0, f"the resend has MessageHeader.id {again['header_id']}; expected the original's "
                        f"{first['header_id']} (a resend is the same message)")
    if again["bundle_id"] == first["bundle_id"]:
        problems.append(f"the resend reuses Bundle.id {first['bundle_id']}; expected a new one")
    problems += accepted_problems(again)
    ctx.check(not problems, "; ".join(problems))
