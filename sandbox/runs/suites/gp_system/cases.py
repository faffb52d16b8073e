"""The kinds of case of the ``gp-system`` suite, each a function of a :class:`CaseContext`: send MedCom
material to the target through the sandbox's EOJ (:mod:`.sending`), then check every acknowledgement that
comes back (:mod:`.acks`). A case fails with every problem found, each naming the message and the element."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sandbox.runs.suite import CaseContext
from sandbox.runs.suites.gp_system.acks import acks_of, verify
from sandbox.runs.suites.gp_system.sending import (
    acknowledgement,
    addressed,
    eoj_fault,
    example,
    post_acknowledgement,
    run_corpus,
    send_message,
)
from sandbox.runs.suites.gp_system.target import formats, option

Run = Callable[[CaseContext], Awaitable[None]]


def _verdict(ctx: CaseContext, problems: list[str]) -> None:
    if problems:
        ctx.fail("\n".join(problems))


def example_case(name: str) -> Run:
    """Send HCO example message ``name`` (re-stamped, addressed to the test GP): answered ``ok``."""
    async def run(ctx: CaseContext) -> None:
        problems: list[str] = []
        for fhir_format in formats(ctx):
            problems += await verify(ctx, await send_message(ctx, addressed(ctx, example(ctx, name)), fhir_format,
                                                             name))
        _verdict(ctx, problems)
    return run


def chain_case(original: str, follow_up: str, what: str) -> Run:
    """Send example ``original``, then ``follow_up`` (its modification or retraction, the chain kept): both
    answered ``ok``; the follow-up is only sent once the original was accepted."""
    async def run(ctx: CaseContext) -> None:
        problems: list[str] = []
        for fhir_format in formats(ctx):
            header_ids: dict[str, str] = {}
            first = await send_message(ctx, addressed(ctx, example(ctx, original), header_ids), fhir_format,
                                       f"the original ({original})")
            found = await verify(ctx, first)
            if found:
                problems += [*found, f"{what} not sent: its original was not accepted"]
                continue
            problems += await verify(ctx, await send_message(
                ctx, addressed(ctx, example(ctx, follow_up), header_ids), fhir_format, f"{what} ({follow_up})"))
        _verdict(ctx, problems)
    return run


def corpus_case(case: str, *, skip_with_sbdh: str | None = None) -> Run:
    """Send the EOJ's replay-corpus case (or group) ``case``: each message answered as the corpus says."""
    async def run(ctx: CaseContext) -> None:
        if skip_with_sbdh and option(ctx, "envelope") == "sbdh":
            ctx.skip(skip_with_sbdh)
        problems: list[str] = []
        for fhir_format in formats(ctx):
            for sent in await run_corpus(ctx, case, fhir_format):
                problems += await verify(ctx, sent)
        _verdict(ctx, problems)
    return run


def duplicate_case(fault: str, what: str) -> Run:
    """Send ReceiveTestExample1 twice by the EOJ's fault switch ``fault`` (``duplicate``: identical; ``resend``:
    a new Bundle.id, the same MessageHeader.id): two acknowledgements, the same answer, new envelopes."""
    async def run(ctx: CaseContext) -> None:
        problems: list[str] = []
        for fhir_format in formats(ctx):
            message = addressed(ctx, example(ctx, "ReceiveTestExample1"))
            await eoj_fault(ctx, fault, True)
            try:
                sent = await send_message(ctx, message, fhir_format, what, transmissions=2)
            finally:
                await eoj_fault(ctx, fault, False)
            problems += await verify(ctx, sent)
        _verdict(ctx, problems)
    return run


async def no_ack_of_an_ack(ctx: CaseContext) -> None:
    """Post the target an acknowledgement (from the sandbox's EOJ, its return address the EOJ's EHMI inbox);
    nothing may come back for it."""
    problems: list[str] = []
    for fhir_format in formats(ctx):
        answers = ctx.shared.get("last_sent") or "an-hco-message-of-this-run"
        ack = acknowledgement(ctx, answers)
        status = await post_acknowledgement(ctx, ack, fhir_format)
        ctx.note(f"The target answered the acknowledgement ({fhir_format}) with HTTP {status}")
        await asyncio.sleep(float(option(ctx, "quiet_seconds")))
        header_id = ack["entry"][0]["resource"]["id"]
        came = await acks_of(ctx, header_id)
        if came:
            codes = ", ".join(str(a["code"]) for a in came)
            problems.append(f"The target acknowledged an acknowledgement ({fhir_format}): {len(came)} "
                            f"acknowledgement(s) with response.identifier {header_id} came back (response.code "
                            f"{codes}); an acknowledgement is never acknowledged (MedCom governance 043, hco.md §4.2)")
    _verdict(ctx, problems)
