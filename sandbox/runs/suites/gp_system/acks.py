"""What a GP system under test answered: its MedCom Acknowledgements, read back over the EOJ's HTTP face
(``GET /eoj/acks``: every acknowledgement as it arrived at the EOJ's EHMI inbox), and every check an
acknowledgement must pass (``hco.md`` §4, §7.3; MedCom's acknowledgement TestScripts):

* one comes — found by its ``response.identifier``, so one naming another MessageHeader.id is not it;
* exactly one per transmission of the message (MedCom governance 043: one answer per message, the
  same answer again for a duplicate);
* its ``response.code`` is the one expected, and a negative one carries the MSG_* code expected;
* it came within the deadline (sandbox clock, from the send);
* it is a valid MedCom Acknowledgement (the sandbox's ``$validate`` over HTTP) and meets the asserts
  of MedCom's send TestScript for that answer (:mod:`.ack_testscripts`);
* acknowledgements of one message have the same content, under their own Bundle.id and timestamp.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sandbox.runs.suite import CaseContext, CaseFailed
from sandbox.runs.suites.gp_system import ack_testscripts
from sandbox.runs.suites.gp_system.target import eoj, option

ACK_PROFILE = "http://medcomfhir.dk/ig/acknowledgement/StructureDefinition/medcom-messaging-acknowledgement"
SHOWN = 5  # findings of one kind named in a failure message
ENVELOPE_FIELDS = ("id", "timestamp", "meta")  # what a duplicate's acknowledgement may change (MedCom 043)


@dataclass(frozen=True)
class Sent:
    """One message sent to the target and the answer it is owed."""

    label: str  # what it is, for the failure message: "ReceiveTestExample1 (json)"
    header_id: str
    message: dict[str, Any]  # the HCO Bundle as sent
    sent_at: datetime  # on the sandbox clock
    expected: str  # ok | fatal-error | transient-error
    issue: str | None = None  # the MSG_* code a negative answer's OperationOutcome must carry
    transmissions: int = 1  # how often it travelled (2: sent again as a duplicate)


async def acks_of(ctx: CaseContext, header_id: str) -> list[dict[str, Any]]:
    """Every acknowledgement that came answering ``header_id``, oldest first."""
    answer = await eoj(ctx, "GET", "/acks", params={"message": header_id})
    ctx.check(answer.status_code == 200, f"The sandbox's EOJ could not list acknowledgements: HTTP "
              f"{answer.status_code} {answer.text[:300]}")
    acks: list[dict[str, Any]] = answer.json()
    return acks


async def wait_for_acks(ctx: CaseContext, sent: Sent) -> list[dict[str, Any]]:
    """The acknowledgements of ``sent``: waited for (``timeout_seconds``) until one per transmission came,
    then listened ``quiet_seconds`` more for any that must not come."""
    async def enough() -> list[dict[str, Any]] | None:
        acks = await acks_of(ctx, sent.header_id)
        return acks if len(acks) >= sent.transmissions else None

    timeout = float(option(ctx, "timeout_seconds"))
    try:
        await ctx.wait_for(enough, what="the acknowledgement", timeout=timeout)
    except CaseFailed:
        raise CaseFailed(await _missing(ctx, sent, timeout)) from None
    quiet = float(option(ctx, "quiet_seconds"))
    if quiet > 0:
        await asyncio.sleep(quiet)
    return await acks_of(ctx, sent.header_id)


async def _missing(ctx: CaseContext, sent: Sent, timeout: float) -> str:
    """Why no acknowledgement was found: how the target took the message, and what did come instead."""
    got = len(await acks_of(ctx, sent.header_id))
    text = (f"{sent.label}: {got} acknowledgement(s) whose response.identifier is MessageHeader.id {sent.header_id} "
            f"came within {timeout:g} s, {sent.transmissions} expected (one per transmission; MedCom: every "
            f"message is acknowledged)")
    status = await eoj(ctx, "GET", f"/hco/{sent.header_id}")
    if status.status_code == 200:
        text += f"; the target took the message with {status.json().get('send_result')}"
    since = await eoj(ctx, "GET", "/acks", params={"since": sent.sent_at.isoformat()})
    others = sorted({str(a["response_to"]) for a in since.json() if a["response_to"] != sent.header_id}) \
        if since.status_code == 200 else []
    if others:
        text += f"; acknowledgements that came meanwhile answer other MessageHeader.ids: {', '.join(others[:SHOWN])}"
    return text


async def problems(ctx: CaseContext, sent: Sent, acks: list[dict[str, Any]]) -> list[str]:
    """Everything wrong with the acknowledgements ``acks`` of ``sent`` (empty: all is well)."""
    out: list[str] = []
    if len(acks) != sent.transmissions:
        out.append(f"{len(acks)} acknowledgements came for {sent.transmissions} transmission(s) of MessageHeader.id "
                   f"{sent.header_id}; a GP system sends exactly one per transmission (hco.md §4.5)")
    deadline = timedelta(minutes=float(option(ctx, "ack_deadline_minutes")))
    duplicate = sent.transmissions > 1
    wanted = ack_testscripts.script_id(sent.expected, duplicate)
    script = ack_testscripts.read_script(ctx.sandbox.packages, wanted)
    if script is None:
        ctx.note(f"MedCom's acknowledgement TestScript {wanted} is not among the loaded packages "
                 f"({ack_testscripts.PACKAGE}); its asserts were not applied")
    for number, ack in enumerate(acks, 1):
        which = f"acknowledgement {number}" if len(acks) > 1 else "the acknowledgement"
        bundle = ack.get("bundle") or {}
        if ack["code"] != sent.expected:
            out.append(f"{which}: response.code is '{ack['code']}', expected '{sent.expected}'")
        late = datetime.fromisoformat(ack["at"]) - sent.sent_at
        if late > deadline:
            out.append(f"{which} came {late.total_seconds() / 60:.1f} minutes after the message (sandbox clock); the "
                       f"deadline is {deadline.total_seconds() / 60:g} minutes")
        if sent.issue and ack["code"] == sent.expected:
            codes = issue_codes(bundle)
            if sent.issue not in codes:
                out.append(f"{which}: no OperationOutcome issue carries details.coding {sent.issue} (seen: "
                           f"{', '.join(codes) or 'none'})")
        out += [f"{which}: {p}" for p in await _invalid(ctx, bundle)]
        if script is not None:
            out += [f"{which}: {p}" for p in ack_testscripts.failed(script, bundle, sent.message)][:SHOWN]
    if len(acks) > 1:
        out += _not_identical(acks)
    return out


def issue_codes(ack: dict[str, Any]) -> list[str]:
    """The MSG_* codes (``details.coding.code``) of the acknowledgement's OperationOutcome issues."""
    return [str(c.get("code")) for e in ack.get("entry", []) if (e.get("resource") or {}).get("resourceType")
            == "OperationOutcome" for i in e["resource"].get("issue", [])
            for c in (i.get("details") or {}).get("coding", [])]


async def _invalid(ctx: CaseContext, ack: dict[str, Any]) -> list[str]:
    """The errors the sandbox's ``$validate`` finds in ``ack`` as a MedCom Acknowledgement."""
    answer = await ctx.actor("conformance", "POST", "/$validate", params={"profile": ACK_PROFILE},
                             content=json.dumps(ack).encode(), headers={"Content-Type": "application/fhir+json"})
    if answer.status_code != 200:
        return [f"$validate refused it: HTTP {answer.status_code} {answer.text[:300]}"]
    errors = [i for i in answer.json().get("issue", []) if i.get("severity") in ("error", "fatal")]
    shown = [f"{(i.get('expression') or ['?'])[0]}: {i.get('diagnostics', '')[:200]}" for i in errors[:SHOWN]]
    return [f"not a valid MedCom Acknowledgement ({ACK_PROFILE}): {len(errors)} error(s): " + "; ".join(shown)] \
        if errors else []


def _not_identical(acks: list[dict[str, Any]]) -> list[str]:
    """Acknowledgements of one message must have the same content under a new Bundle.id and timestamp (MedCom
    governance 043; the -duplicate TestScripts)."""
    out = []
    first = acks[0].get("bundle") or {}
    for number, ack in enumerate(acks[1:], 2):
        other = ack.get("bundle") or {}
        differs = _differences({k: v for k, v in first.items() if k not in ENVELOPE_FIELDS},
                               {k: v for k, v in other.items() if k not in ENVELOPE_FIELDS}, "Bundle")
        if differs:
            out.append(f"acknowledgement {number} differs in content from acknowledgement 1 at "
                       f"{', '.join(differs[:SHOWN])}; the answer to a duplicate is the same answer")
        for field in ("id", "timestamp"):
            if other.get(field) == first.get(field):
                out.append(f"acknowledgement {number} has the same Bundle.{field} as acknowledgement 1 "
                           f"({first.get(field)}); each acknowledgement has a new envelope id and time")
    return out


def _differences(a: Any, b: Any, path: str) -> list[str]:
    """The element paths where ``a`` and ``b`` differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in _differences(a.get(k), b.get(k), f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path} ({json.dumps(a)[:60]} vs {json.dumps(b)[:60]})"]


async def verify(ctx: CaseContext, sent: Sent) -> list[str]:
    """Wait for the acknowledgements of ``sent`` and say everything wrong with them."""
    ctx.shared["last_sent"] = sent.header_id
    try:
        acks = await wait_for_acks(ctx, sent)
    except CaseFailed as exc:
        return [str(exc)]
    return [f"{sent.label}: {p}" for p in await problems(ctx, sent, acks)]
