"""The EOJ's statistics face, ``GET /statistics``: what went out of it, counted the way MedCom
follows its HomeCareObservation projects (medcom.dk, "Statistik"): messages per sending
municipality, results per analysis (NPU/MCS code) per ISO week, the GP's acknowledgements by
outcome, and the DDS copies the EOJ made (shared, or not shared and why).

Read-only and open like ``/health``: the answer holds aggregates only — counts, SOR codes and
names of organisations, analysis codes — never a CPR number, a name of a person or a free-text
reason (a reason can name the patient's number, so it is reported as a fixed category).

* **Municipality**: the producer organisation of each message (``MessageHeader.sender`` → its SOR
  identifier) looked up in NSP's SOR register; the municipality is the organisation itself or the
  nearest ancestor of kind ``municipality``. A SOR NSP does not know is counted under its own code.
* **Analysis**: the result's NPU or MCS code; its display is the national repertoire's (MedCom's
  terminology package), else the one most messages carried — so the same code is counted once
  however the messages spelt it.
* **Week**: the ISO 8601 week of the send time in Danish time (Europe/Copenhagen), on the sandbox
  clock; results are counted from new and modified messages (a retraction sends no result).
* **Acknowledgements** (MedCom Acknowledgement, ``MessageHeader.response.code``): ``ok``,
  ``error`` (transient-error), ``fatal`` (fatal-error), ``none`` (none arrived yet).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx2 as httpx
from fastapi import APIRouter
from sqlalchemy import select

from nsp_sandbox import fhir_shape as shape
from nsp_sandbox.clock import DANISH_TIME as DANISH
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.cpr import is_cpr
from nsp_sandbox.hco_terms import REPERTOIRE_SYSTEMS, SOR_SYSTEM, repertoire
from nsp_sandbox.nsp_client import NspClient
from services.eoj_sender.models import MessageRow

ACK_OUTCOMES = {"ok": "ok", "transient-error": "error", "fatal-error": "fatal", "pending": "none"}
NOT_SHARED = {
    "waiting": "endnu ikke leveret til DDS",
    "gp-refused": "lægen afviste meddelelsen (fatal-error)",
    "refused-consent": "borgeren har frabedt sig deling (R)",
    "ecpr": "patienten har intet CPR-nummer (eCPR)",
    "no-consent-before-policy": "før delingsdatoen uden borgerens samtykke",
    "retraction": "en tilbagetrækning deles ikke (den tidligere version blev forældet)",
    "cpr-unknown": "CPR-registeret kender ikke patienten",
    "dds-unavailable": "DDS afviste eller kunne ikke nås",
    "other": "anden årsag",
}


class _Unreachable(Exception):
    pass


def _unreachable(why: str, _response: httpx.Response | None) -> _Unreachable:
    return _Unreachable(why)


def iso_week(sent_at: datetime) -> str:
    """``YYYY-Www`` of a stored naive-UTC instant, in Danish time."""
    year, week, _ = sent_at.replace(tzinfo=UTC).astimezone(DANISH).isocalendar()
    return f"{year}-W{week:02d}"


def not_shared_category(row: MessageRow) -> str:
    """Why a message has no DDS copy, as a fixed category (``NOT_SHARED``): from the row's facts first,
    the recorded reason's wording only where no fact says it."""
    reason = (row.dds_reason or "").lower()
    if row.dds_state in (None, "pending"):
        return "waiting"
    if row.dds_state == "failed":
        return "dds-unavailable"
    if row.refused_consent:
        return "refused-consent"
    if row.activity == "retract-message":
        return "retraction"
    if not is_cpr(row.cpr):
        return "ecpr"
    for needle, category in (("policy date", "no-consent-before-policy"), ("cpr register", "cpr-unknown"),
                             ("dds", "dds-unavailable")):
        if needle in reason:
            return category
    return "other"


def _sender_sor(bundle: dict[str, Any]) -> str | None:
    resources = shape.resources(bundle)
    header = resources[0] if resources else {}
    reference = shape.reference(shape.obj(header.get("sender")))
    sender = next((r for r in resources if f"{r.get('resourceType')}/{r.get('id')}" == reference), {})
    return shape.identifiers(sender).get(SOR_SYSTEM)


def _analyses(bundle: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(system, code, display) of every result (Observation) in the message."""
    out = []
    for resource in shape.resources(bundle):
        if resource.get("resourceType") != "Observation":
            continue
        for coding in shape.arr(shape.obj(resource.get("code")).get("coding")):
            coding = shape.obj(coding)
            if coding.get("system") in REPERTOIRE_SYSTEMS and shape.text(coding.get("code")):
                out.append((str(coding["system"]), shape.text(coding.get("code")) or "",
                            shape.text(coding.get("display")) or ""))
                break
    return out


class Registers:
    """SOR → (municipality SOR, name) from NSP's SOR register, remembered per SOR; and the national
    analysis repertoire, read once from the loaded packages."""

    def __init__(self, context: SandboxContext) -> None:
        self._context = context
        self._nsp = NspClient(context.peers, context.clock, persona=None, on_failure=_unreachable)
        self._known: dict[str, tuple[str, str]] = {}
        self._repertoire: dict[tuple[str, str], str] | None = None

    def repertoire(self) -> dict[tuple[str, str], str]:
        """(system, code) → display of MedCom's terminology package (empty when it is not loaded)."""
        if self._repertoire is None:
            self._repertoire = repertoire(self._context.packages)
        return self._repertoire

    async def of(self, sor: str) -> tuple[str, str] | None:
        """The municipality an organisation belongs to; None when NSP does not know it or cannot be reached."""
        if sor in self._known:
            return self._known[sor]
        try:
            found = await self._nsp.organisation(sor)
            chain = [found] if found else []
            for parent in (found or {}).get("ancestors") or []:
                chain.append(await self._nsp.organisation(str(parent)))
        except _Unreachable:
            return None
        municipality = next((o for o in chain if o and o.get("kind") == "municipality"), None)
        if municipality is None:
            return None
        self._known[sor] = (str(municipality["sor"]), str(municipality["name"]))
        return self._known[sor]


def _displays(national: dict[tuple[str, str], str],
              seen: dict[tuple[str, str], Counter[str]]) -> dict[tuple[str, str], str]:
    """(system, code) → display: the national repertoire's, else the one most messages carried."""
    out = {}
    for key, displays in seen.items():
        carried = [d for d, _ in displays.most_common() if d]
        out[key] = national.get(key) or (carried[0] if carried else "")
    return out


async def counts(context: SandboxContext, registers: Registers) -> dict[str, Any]:
    """Every count of the face, over the EOJ's sent messages."""
    with context.database.session() as s:
        rows = list(s.scalars(select(MessageRow).order_by(MessageRow.pk)))
        s.expunge_all()
    by_municipality: dict[tuple[str, str], Counter[str]] = {}
    analyses: Counter[tuple[str, str, str]] = Counter()
    seen: dict[tuple[str, str], Counter[str]] = {}
    acks: Counter[str] = Counter({outcome: 0 for outcome in ACK_OUTCOMES.values()})
    activities: Counter[str] = Counter()
    shared, not_shared = 0, Counter({key: 0 for key in NOT_SHARED})
    for row in rows:
        bundle = json.loads(row.bundle)
        sor = _sender_sor(bundle) or "ukendt"
        found = await registers.of(sor) if sor != "ukendt" else None
        key = found or (sor, f"Ukendt kommune (SOR {sor})")
        results = _analyses(bundle) if row.activity != "retract-message" else []
        tally = by_municipality.setdefault(key, Counter())
        tally["messages"] += 1
        tally["results"] += len(results)
        week = iso_week(row.sent_at)
        for system, code, display in results:
            analyses[(week, system, code)] += 1
            seen.setdefault((system, code), Counter())[display] += 1
        acks[ACK_OUTCOMES.get(row.ack, "none")] += 1
        activities[row.activity] += 1
        if row.dds_entry:
            shared += 1
        else:
            not_shared[not_shared_category(row)] += 1
    displays = _displays(registers.repertoire(), seen)
    return {
        "actor": "EOJ",
        "generated_at": context.clock.now().astimezone(DANISH).isoformat(),
        "messages": {"total": len(rows), "by_activity": dict(sorted(activities.items()))},
        "by_municipality": [{"sor": sor, "municipality": name, "messages": t["messages"], "results": t["results"]}
                            for (sor, name), t in sorted(by_municipality.items(), key=lambda i: i[0][1])],
        "by_analysis_week": [{"week": week, "system": system, "code": code, "display": displays[(system, code)],
                              "results": n} for (week, system, code), n in sorted(analyses.items())],
        "acknowledgements": [{"outcome": outcome, "messages": acks[outcome]}
                             for outcome in ("ok", "error", "fatal", "none")],
        "dds": {"shared": shared, "not_shared": sum(not_shared.values()),
                "not_shared_by_reason": [{"reason": key, "label": NOT_SHARED[key], "messages": n}
                                         for key, n in not_shared.items() if n]},
    }


def router(context: SandboxContext) -> APIRouter:
    """``GET /statistics``: the EOJ's counts as JSON (no token: aggregates without CPR numbers)."""
    faces = APIRouter()
    registers = Registers(context)

    @faces.get("/statistics")
    async def statistics() -> dict[str, Any]:
        return await counts(context, registers)

    return faces
