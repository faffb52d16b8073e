"""What the ``eoj`` suite needs of the sandbox's GP system and NSP, over HTTP: who the receiving practice
is, a token of someone working there (and of the citizen, for DDS), and the messages that arrived at the
GP inbox from the EOJ under test for the suite's citizen since an instruction was given.

Tokens are fetched from NSP's STS through the sandbox's peer client, not through the case context, so
they are not kept in the run's evidence; every call made with them is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nsp_sandbox import fhir_shape as shape
from nsp_sandbox.hco_terms import GLN_SYSTEM, SOR_SYSTEM
from sandbox.runs.suite import CaseContext, CaseFailed

DEFAULT_CITIZEN = "2509479989"  # Bruno Elmer, MedCom's test patient, in NSP's world
DEFAULT_RECEIVER = "52581000016005"  # Skødstrup Lægepraksis, the sandbox GP system's own practice
TOKENS = "eoj-suite-tokens"


@dataclass(frozen=True)
class Practice:
    sor: str
    gln: str
    ydernummer: str
    name: str
    endpoint: str  # where the vendor's EOJ posts: the GP inbox

    def said(self) -> str:
        return (f"{self.name} (SOR {self.sor}, GLN {self.gln}, ydernummer {self.ydernummer}), "
                f"EHMI endpoint {self.endpoint}")


def citizen(ctx: CaseContext) -> str:
    return str(ctx.options.get("citizen") or DEFAULT_CITIZEN)


def target_is_gln(ctx: CaseContext) -> bool:
    return len(ctx.target) == 13


def inbox_url(ctx: CaseContext) -> str:
    """Where a vendor's EOJ reaches the GP inbox: the GP system's configured URL, else this sandbox's public
    base URL, else its path on whatever origin the participant reaches this sandbox at."""
    settings = ctx.sandbox.settings
    if settings.lps_url:
        return f"{settings.lps_url.rstrip('/')}/ehmi"
    if settings.public_base_url:
        return f"{settings.public_base_url.rstrip('/')}/lps/ehmi"
    return "/lps/ehmi on this sandbox"


async def practice(ctx: CaseContext) -> Practice:
    """The practice the vendor's EOJ must address (option ``receiver``: a SOR code or GLN of one of
    ``GET /lps/practices``), looked up once per run."""
    if "practice" in ctx.shared:
        return ctx.shared["practice"]  # type: ignore[no-any-return]
    wanted = str(ctx.options.get("receiver") or DEFAULT_RECEIVER)
    answer = await ctx.actor("lps", "GET", "/practices")
    ctx.check(answer.status_code == 200, f"GET /lps/practices answered {answer.status_code}; expected 200")
    found = next((p for p in answer.json() if wanted in (p.get("sor"), p.get("gln"))), None)
    if found is None:
        ctx.fail(f"option receiver {wanted!r} is none of the GP system's practices (GET /lps/practices): "
                 + ", ".join(f"{p.get('name')} SOR {p.get('sor')}" for p in answer.json()))
    chosen = Practice(str(found["sor"]), str(found.get("gln", "")), str(found.get("ydernummer", "")),
                      str(found.get("name", found["sor"])), inbox_url(ctx))
    ctx.shared["practice"] = chosen
    return chosen


async def _token(ctx: CaseContext, persona: str, audience: str) -> str | None:
    tokens: dict[tuple[str, str], str] = ctx.shared.setdefault(TOKENS, {})
    if (persona, audience) not in tokens:
        url = ctx.actor_url("nsp", "/sts/token")
        answer = await ctx.sandbox.peers.client_for_url(url).post(url, json={"persona": persona,
                                                                             "audience": audience})
        if answer.status_code != 200:
            return None
        tokens[(persona, audience)] = str(answer.json()["access_token"])
    return tokens[(persona, audience)]


async def call_as(ctx: CaseContext, persona: str, audience: str, method: str, path: str,
                  **kwargs: Any) -> Any:
    """``method`` ``path`` on actor ``audience`` with ``persona``'s token (fetched again once on 401: the
    sandbox clock may have moved past its expiry); None when the STS gives that persona no token."""
    for attempt in range(2):
        token = await _token(ctx, persona, audience)
        if token is None:
            return None
        answer = await ctx.actor(audience, method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
        if answer.status_code != 401 or attempt:
            return answer
        ctx.shared[TOKENS].pop((persona, audience), None)
    return None


async def gp_reader(ctx: CaseContext) -> str:
    """A persona of the receiving practice who may read its inbox: its GP system, else a professional there."""
    if "gp_reader" in ctx.shared:
        return str(ctx.shared["gp_reader"])
    sor = (await practice(ctx)).sor
    answer = await ctx.actor("nsp", "GET", "/personas")
    ctx.check(answer.status_code == 200, f"GET /nsp/personas answered {answer.status_code}; expected 200")
    there = [p for p in answer.json() if p.get("organisation") == sor and p.get("kind") != "citizen"]
    there.sort(key=lambda p: p.get("kind") != "system")  # the practice's GP system first
    if not there:
        ctx.fail(f"NSP knows no persona working at practice SOR {sor} to read its inbox with")
    ctx.shared["gp_reader"] = there[0]["id"]
    return str(there[0]["id"])


async def received(ctx: CaseContext, header_id: str | None = None, message: bool = False) -> list[dict[str, Any]]:
    """``GET /lps/received`` of the receiving practice (one MessageHeader.id's, and the messages, if asked)."""
    params: dict[str, str] = {}
    if header_id:
        params["header_id"] = header_id
    if message:
        params["message"] = "true"
    answer = await call_as(ctx, await gp_reader(ctx), "lps", "GET", "/received", params=params)
    ctx.check(answer is not None and answer.status_code == 200,
              f"GET /lps/received answered {getattr(answer, 'status_code', 'no token')}; expected 200")
    return list(answer.json())


async def mark(ctx: CaseContext) -> set[str]:
    """The Bundle.ids the practice has received so far: what arrives after an instruction is what is new."""
    return {r["bundle_id"] for r in await received(ctx)}


def _sender_matches(ctx: CaseContext, row: dict[str, Any]) -> bool:
    if not target_is_gln(ctx):
        return bool(row.get("sender_sor") == ctx.target)
    resources = shape.resources(row.get("message"))
    header = resources[0] if resources else {}
    by_ref = {f"{r.get('resourceType')}/{r.get('id')}": r for r in resources}
    sender = by_ref.get(shape.reference(header.get("sender")), {})
    return shape.identifiers(sender).get(GLN_SYSTEM) == ctx.target


async def arrival(ctx: CaseContext, before: set[str], what: str, activity: str,
                  header_id: str | None = None) -> dict[str, Any]:
    """Wait for a message with ``activity`` for the suite's citizen from the EOJ under test that the GP inbox
    received after ``before`` was marked (with ``header_id``: that MessageHeader.id); its row, message included."""
    cpr = citizen(ctx)
    instead: dict[str, str] = {}  # what else came for the citizen from the target meanwhile, by Bundle.id

    async def probe() -> dict[str, Any] | None:
        for row in await received(ctx, header_id):
            if row["bundle_id"] in before or row.get("cpr") != cpr or row["bundle_id"] in instead:
                continue
            if not target_is_gln(ctx) and row.get("sender_sor") != ctx.target:
                continue
            full = next((r for r in await received(ctx, row["header_id"], message=True)
                         if r["bundle_id"] == row["bundle_id"]), None)
            if full is None or not _sender_matches(ctx, full):
                continue
            if full.get("activity") == activity:
                return full
            instead[row["bundle_id"]] = f"{full.get('activity')} {full['header_id']} ({full.get('verdict')})"
        return None

    try:
        row = await ctx.wait_for(probe, what=f"{what} ({activity} for CPR {cpr} from {ctx.target} at "
                                 f"{(await practice(ctx)).name})")
    except CaseFailed as failed:
        if not instead:
            raise
        raise CaseFailed(f"{failed}; what came instead: {', '.join(instead.values())}") from None
    ctx.note(f"arrived: MessageHeader.id {row['header_id']}, Bundle.id {row['bundle_id']}, "
             f"envelope {row['envelope']}, format {row['format']}, verdict {row['verdict']}, ack {row['ack_code']}")
    return row


def sor_of(resource: dict[str, Any]) -> str:
    return shape.identifiers(resource).get(SOR_SYSTEM, "")
