"""What the DDS suites share: watching DDS's request log, tokens from NSP's STS, reading entries.

The ``document-source`` and ``document-consumer`` suites judge a vendor's system by what it sent to
DDS. DDS keeps every request it received in its request log (``GET /dds/requests``, operator only,
``docs/dds.md``): a case marks the log (:func:`mark`) before it instructs the participant, then
waits for the requests that came after the mark from the target's persona (:func:`watch`). Every
call goes over HTTP and is kept as the case's evidence.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from sandbox.runs.suite import CaseContext, CaseFailed

CPR_SYSTEM = "urn:oid:1.2.208.176.1.2"
SOR_SYSTEM = "urn:oid:1.2.208.176.1.1"
Record = dict[str, Any]


async def mark(ctx: CaseContext) -> int:
    """The id of the newest request DDS has kept: what comes after it is the participant's answer."""
    response = await ctx.actor("dds", "GET", "/requests", operator=True, params={"_count": "0"})
    ctx.check(response.status_code == 200, f"DDS's request log (GET /dds/requests) answered HTTP "
              f"{response.status_code}: {response.text[:300]}")
    return int(response.json()["last"])


async def requests_after(ctx: CaseContext, after: int, **filters: str) -> list[Record]:
    """The requests DDS kept after ``after`` (oldest first), narrowed by ``filters`` (caller, patient, …)."""
    found: list[Record] = []
    while True:
        response = await ctx.actor("dds", "GET", "/requests", operator=True,
                                   params={"after": str(after), "_count": "1000", **filters})
        ctx.check(response.status_code == 200, f"DDS's request log (GET /dds/requests) answered HTTP "
                  f"{response.status_code}: {response.text[:300]}")
        page = response.json()["requests"]
        found.extend(page)
        if len(page) < 1000:
            return found
        after = page[-1]["id"]


async def watch(ctx: CaseContext, after: int, wanted: Callable[[list[Record]], Any], *, what: str,
                timeout: float | None = None, interval: float = 0.25) -> Any:
    """Read the target's requests after ``after`` until ``wanted`` answers something other than ``None``
    (it gets them all, oldest first); fail naming ``what`` after the run's ``timeout_seconds``. Only the
    first and the last reading are kept as evidence."""
    limit = timeout if timeout is not None else float(ctx.options.get("timeout_seconds", 300))
    deadline = time.monotonic() + limit
    kept = len(ctx.evidence)
    while True:
        records = await requests_after(ctx, after, caller=ctx.target)
        found = wanted(records)
        if len(ctx.evidence) > kept + 2:  # keep the first reading and the latest one
            del ctx.evidence[kept + 1:-1]
        if found is not None:
            return found
        if time.monotonic() >= deadline:
            seen = ", ".join(describe(r) for r in records[-5:]) or "nothing at all"
            raise CaseFailed(f"Waited {limit:g} s for {what} from {ctx.target}; DDS received {seen}")
        await asyncio.sleep(interval)


def describe(record: Record) -> str:
    """One request from the log in a few words: ``ITI-65 POST /fhir → 422 (XDSPatientIdDoesNotMatch)``."""
    codes = sorted({i.get("ihe_code") or i.get("rule") or i.get("code") or "?" for i in record.get("issues", [])
                    if i.get("severity") in ("error", "fatal")})
    query = f"?{record['query']}" if record.get("query") else ""
    result = f" {record['result']}" if record.get("result") else ""
    return (f"{record['transaction']} {record['method']} {record['path']}{query} → {record['status']}{result}"
            + (f" ({', '.join(codes)})" if codes else ""))


def errors_of(record: Record) -> list[Record]:
    return [i for i in record.get("issues", []) if i.get("severity") in ("error", "fatal")]


def issue_text(issue: Record) -> str:
    """An issue as a vendor reads it: where, which rule and IHE code, and what DDS said."""
    where = ", ".join(issue.get("expression") or []) or "(no element named)"
    codes = " / ".join(c for c in (issue.get("rule"), issue.get("ihe_code")) if c)
    return f"{where}: {codes + ': ' if codes else ''}{issue.get('diagnostics', '')}"


def accepted(record: Record) -> bool:
    """DDS accepted the request: 2xx and, for an XDS.b answer, not Failure."""
    return 200 <= int(record["status"]) < 300 and record.get("result") not in ("Failure",) and not errors_of(record)


async def token(ctx: CaseContext, persona: str, audience: str | list[str] = "dds") -> str:
    """An access token of ``persona`` from NSP's STS, as any client gets one."""
    response = await ctx.actor("nsp", "POST", "/sts/token", json={"persona": persona, "audience": audience})
    ctx.check(response.status_code == 200, f"NSP's STS gave no token for {persona}: HTTP {response.status_code} "
              f"{response.text[:300]}")
    return str(response.json()["access_token"])


async def persona(ctx: CaseContext, persona_id: str) -> Record | None:
    """NSP's persona ``persona_id`` (``GET /nsp/personas``), or None when NSP has none by that id."""
    response = await ctx.actor("nsp", "GET", "/personas")
    ctx.check(response.status_code == 200, f"GET /nsp/personas answered HTTP {response.status_code}")
    return next((p for p in response.json() if p.get("id") == persona_id), None)


async def read_entry(ctx: CaseContext, entry_id: str, reader: str) -> Record:
    """DocumentReference ``entry_id`` as DDS serves it, read with ``reader``'s (a system's) token."""
    bearer = await token(ctx, reader)
    response = await ctx.actor("dds", "GET", f"/fhir/DocumentReference/{entry_id}",
                               headers={"Authorization": f"Bearer {bearer}", "Accept": "application/fhir+json"})
    ctx.check(response.status_code == 200, f"DocumentReference/{entry_id} could not be read from DDS: HTTP "
              f"{response.status_code} {response.text[:300]}")
    return dict(response.json())


def contained(dr: Record, reference: Any) -> Record | None:
    """The contained resource a ``#id`` reference names."""
    ref = (reference or {}).get("reference") if isinstance(reference, dict) else None
    if not isinstance(ref, str) or not ref.startswith("#"):
        return None
    return next((r for r in dr.get("contained") or [] if isinstance(r, dict) and r.get("id") == ref[1:]), None)


def identifier_values(dr: Record, reference: Any, system: str) -> list[str]:
    """The values of ``system`` a reference carries: its own ``identifier`` or its contained resource's."""
    values: list[str] = []
    own = reference.get("identifier") if isinstance(reference, dict) else None
    if isinstance(own, dict) and own.get("system") == system:
        values.append(str(own.get("value")))
    resource = contained(dr, reference)
    for identifier in (resource or {}).get("identifier") or []:
        if isinstance(identifier, dict) and identifier.get("system") == system:
            values.append(str(identifier.get("value")))
    return values


def coding_of(element: Any) -> Record:
    """The first coding of a CodeableConcept (``{}`` when none)."""
    codings = (element or {}).get("coding") if isinstance(element, dict) else None
    return codings[0] if isinstance(codings, list) and codings and isinstance(codings[0], dict) else {}
