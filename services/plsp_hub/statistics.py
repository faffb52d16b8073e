"""The hub's statistics face, ``GET /statistics``: the diagnosis cards and journal notes the GP
systems handed the hub, and how many of them are shared through DDS now (an on-demand entry in
state ``registered``), per clinic (SOR, name) and per GP system — MedCom follows the PLSP project
by cards shared per GP system.

A GP system is the STS system persona of kind ``gp-system`` whose organisation is the clinic (the
hub acts for the clinic of the caller's token, ``services.plsp_hub.access``); the personas come from
NSP's persona list. When NSP cannot be reached, the clinics are still counted and ``gp_systems``
says so.

Read-only and open like ``/health``: counts, SOR codes, clinic and system names only — never a CPR
number, a note's text or a diagnosis.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx2 as httpx
from fastapi import APIRouter
from sqlalchemy import select

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.nsp_client import NspClient
from services.plsp_hub.models import CardRow, EntryRow, NoteRow

FIELDS = ("cards", "cards_shared", "notes", "notes_shared", "notes_not_shared", "notes_cancelled", "notes_purged")


class _Unreachable(Exception):
    pass


def _unreachable(why: str, _response: httpx.Response | None) -> _Unreachable:
    return _Unreachable(why)


def _per_clinic(context: SandboxContext) -> tuple[dict[str, Counter[str]], dict[str, str]]:
    """Counts per clinic SOR, and the clinic's name as its GP system registered it."""
    tallies: dict[str, Counter[str]] = {}
    names: dict[str, str] = {}
    with context.database.session() as s:
        for card in s.scalars(select(CardRow)):
            tallies.setdefault(card.clinic_sor, Counter())["cards"] += 1
            names.setdefault(card.clinic_sor, str((card.clinic or {}).get("name") or ""))
        for note in s.scalars(select(NoteRow)):
            tally = tallies.setdefault(note.clinic_sor, Counter())
            tally["notes"] += 1
            tally["notes_cancelled"] += note.state == "cancelled"
            tally["notes_purged"] += note.state == "purged"
            tally["notes_not_shared"] += note.do_not_share
            names.setdefault(note.clinic_sor, str((note.clinic or {}).get("name") or ""))
        for entry in s.scalars(select(EntryRow).where(EntryRow.state == "registered")):
            field = "cards_shared" if entry.kind == "conditionlist" else "notes_shared"
            tallies.setdefault(entry.clinic_sor, Counter())[field] += 1
    return tallies, names


def _row(tally: Counter[str]) -> dict[str, int]:
    return {name: int(tally[name]) for name in FIELDS}


async def counts(context: SandboxContext, nsp: NspClient) -> dict[str, Any]:
    """The hub's counts per clinic and per GP system."""
    tallies, names = _per_clinic(context)
    try:
        systems = [p for p in await nsp.personas("system") if p.get("system_kind") == "gp-system"]
        known = True
    except _Unreachable:
        systems, known = [], False
    by_system = []
    for system in systems:
        tally = tallies.get(str(system.get("organisation")), Counter())
        by_system.append({"persona": system.get("id"), "name": system.get("name"),
                          "clinic_sor": system.get("organisation"), **_row(tally)})
    clinics = [{"sor": sor, "name": names.get(sor, ""), **_row(tally)} for sor, tally in sorted(tallies.items())]
    totals = sum((tallies[sor] for sor in tallies), Counter())
    return {"actor": "PLSP", "totals": _row(totals), "by_clinic": clinics,
            "by_gp_system": sorted(by_system, key=lambda r: str(r["persona"])),
            "gp_systems": "known" if known else "NSP could not be reached: the GP systems are not named"}


def router(context: SandboxContext) -> APIRouter:
    """``GET /statistics``: the hub's counts as JSON (no token: aggregates without CPR numbers)."""
    faces = APIRouter()
    nsp = NspClient(context.peers, context.clock, persona=None, on_failure=_unreachable)

    @faces.get("/statistics")
    async def statistics() -> dict[str, Any]:
        return await counts(context, nsp)

    return faces
