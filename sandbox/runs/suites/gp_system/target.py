"""The GP system under test: its options, and the suite's setup — the target's EHMI endpoint registered in
the sandbox's endpoint register under the test GP's SOR/GLN (``PUT /sandbox/endpoints/{key}``), so the
sandbox's EOJ sends there, and a token of the EOJ's own system persona from NSP's STS, with which the
suite drives the EOJ's faces (``docs/hco.md``: who may call the EOJ)."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx

from nsp_sandbox.hco_terms import GLN_SYSTEM, HCO_EVENT, SOR_SYSTEM, YDERNUMMER_SYSTEM
from sandbox.runs.suite import CaseContext

AGERSKOV_SOR = "73091000016008"  # Agerskov lægepraksis: the requesting GP of MedCom's ReceiveTestExample1–4
FORMATS = {"json": ("json",), "xml": ("xml",), "both": ("json", "xml")}
ENVELOPES = ("none", "sbdh")

OPTIONS: dict[str, str] = {
    "receiver": f"SOR code or GLN of the test GP the target receives for (default {AGERSKOV_SOR}, Agerskov "
                "lægepraksis, the GP of MedCom's receive-test examples); registered with the target's URL",
    "receiver_gln": "the test GP's GLN, when it is neither registered nor in NSP's SOR register",
    "receiver_name": "the test GP's name, likewise",
    "receiver_ydernummer": "the test GP's ydernummer, likewise",
    "envelope": "none (bare FHIR, default) or sbdh (EHMI's SBDH envelope): how messages travel to the target",
    "hco_version": "the HomeCareObservation IG version the target takes (1.1 or 1.2, or a release); default: as "
                   "registered, else NSP_SANDBOX_HCO_VERSION",
    "format": "json (default), xml or both: the FHIR format each message is sent in (both: each case twice)",
    "ack_deadline_minutes": "the longest an acknowledgement may take, on the sandbox clock, from the send (default "
                            "NSP_SANDBOX_HCO_ACK_TIMEOUT_MINUTES, 30: MedCom's resend limit)",
    "timeout_seconds": "how long a case waits for an acknowledgement before it fails (default 60)",
    "quiet_seconds": "how long a case listens on after the acknowledgements it expects, for any that must not come: "
                     "a second one, an acknowledgement of an acknowledgement (default 3)",
}
DEFAULTS: dict[str, Any] = {"receiver": AGERSKOV_SOR, "envelope": "none", "format": "json", "timeout_seconds": 60,
                            "quiet_seconds": 3}


def option(ctx: CaseContext, name: str) -> Any:
    """Option ``name`` of the run, else its default."""
    if name in ctx.options and ctx.options[name] is not None:
        return ctx.options[name]
    if name == "ack_deadline_minutes":
        return ctx.sandbox.settings.hco_ack_timeout_minutes
    return DEFAULTS.get(name)


def formats(ctx: CaseContext) -> tuple[str, ...]:
    return FORMATS[str(option(ctx, "format"))]


async def setup(ctx: CaseContext) -> None:
    """Check the options, register the target for the test GP, and take the EOJ's token."""
    unknown = sorted(set(ctx.options) - set(OPTIONS))
    ctx.check(not unknown, f"Unknown option(s) {', '.join(unknown)}; this suite takes {', '.join(OPTIONS)}")
    ctx.check(option(ctx, "format") in FORMATS, f"Option 'format' is json, xml or both, not {option(ctx, 'format')!r}")
    ctx.check(option(ctx, "envelope") in ENVELOPES, f"Option 'envelope' is none or sbdh, not "
              f"{option(ctx, 'envelope')!r}")
    for name in ("ack_deadline_minutes", "timeout_seconds", "quiet_seconds"):
        value = option(ctx, name)
        ctx.check(isinstance(value, int | float) and not isinstance(value, bool) and value >= 0,
                  f"Option '{name}' is a number of at least 0, not {value!r}")
    await _eoj_token(ctx)
    await _register(ctx)
    ctx.instruct(f"Send each acknowledgement to its message's source.endpoint. Where that is a SOR address "
                 f"(https://sor2.sum.dsdn.dk/#id=<SOR>, as in MedCom's material) it means the sandbox's EOJ: "
                 f"{ctx.actor_url('eoj', '/ehmi')}")


async def _eoj_token(ctx: CaseContext) -> None:
    """A token of the EOJ's own system persona (``NSP_SANDBOX_EOJ_PERSONA``) from NSP's STS."""
    token = await ctx.actor("nsp", "POST", "/sts/token", json={"persona": ctx.sandbox.settings.eoj_persona,
                                                               "audience": "eoj"})
    ctx.check(token.status_code == 200, f"NSP's STS gave no token for the EOJ's persona: HTTP {token.status_code} "
              f"{token.text[:300]}")
    ctx.shared["eoj_auth"] = {"Authorization": f"Bearer {token.json()['access_token']}"}


async def eoj(ctx: CaseContext, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """``method`` ``path`` on the sandbox's EOJ as its own system; a token that expired (the sandbox clock moved
    on) is taken anew once."""
    headers = dict(kwargs.pop("headers", None) or {})
    answer = await ctx.actor("eoj", method, path, headers={**headers, **ctx.shared["eoj_auth"]}, **kwargs)
    if answer.status_code == 401:
        await _eoj_token(ctx)
        answer = await ctx.actor("eoj", method, path, headers={**headers, **ctx.shared["eoj_auth"]}, **kwargs)
    return answer


async def _register(ctx: CaseContext) -> None:
    key = str(option(ctx, "receiver"))
    listed = await ctx.actor("sandbox", "GET", "/endpoints", operator=True)
    ctx.check(listed.status_code == 200, f"The sandbox's endpoint register could not be read: HTTP "
              f"{listed.status_code} {listed.text[:300]}")
    known = next((e for e in listed.json() if key in (e["sor"], e["gln"])), None)
    types = sorted({*(known or {}).get("message_types", []), HCO_EVENT})
    body: dict[str, Any] = {"url": ctx.target, "message_types": types, "envelope": option(ctx, "envelope")}
    for field in ("gln", "name", "ydernummer"):
        if option(ctx, f"receiver_{field}") is not None:
            body[field] = option(ctx, f"receiver_{field}")
    if option(ctx, "hco_version") is not None:
        body["hco_version"] = option(ctx, "hco_version")
    stored = await ctx.actor("sandbox", "PUT", f"/endpoints/{key}", json=body, operator=True)
    ctx.check(stored.status_code == 200, f"The target could not be registered for the test GP {key}: HTTP "
              f"{stored.status_code} {stored.text[:500]}")
    gp = stored.json()
    ctx.shared["gp"] = gp
    ctx.note(f"The target {ctx.target} is registered for {gp['name']} (SOR {gp['sor']}, GLN {gp['gln']}); the "
             "sandbox's EOJ sends it every message of this run. The registration stays after the run.")


def gp_identifiers(ctx: CaseContext) -> list[dict[str, str]]:
    """The test GP's identifiers as a requester organisation carries them (GLN, SOR, ydernummer)."""
    gp = ctx.shared["gp"]
    return [{"system": GLN_SYSTEM, "value": gp["gln"]}, {"system": SOR_SYSTEM, "value": gp["sor"]},
            {"system": YDERNUMMER_SYSTEM, "value": gp["ydernummer"]}]
