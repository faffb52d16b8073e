"""Statistics, as on medcom.dk's statistics pages: ``GET /statistik`` (server-rendered charts, each
with its data table beside it) and ``GET /api/statistik`` (the same as JSON).

Both are open, signed in or not: they show aggregates only (counts, organisations, analysis codes,
never a CPR number), gathered from the actors that own them (``services.sundhed_view.statistics``).
A section whose actor cannot be reached says so; the rest is shown.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from services.sundhed_view.bar_chart import bars
from services.sundhed_view.site import Pages
from services.sundhed_view.statistics import gather

ACK_LABELS = {"ok": "Modtaget (ok)", "error": "Midlertidig fejl (error)", "fatal": "Afvist (fatal)",
              "none": "Ingen kvittering endnu"}


@dataclass
class Block:
    """One chart and the table that holds the same numbers (and possibly more columns)."""

    id: str
    heading: str
    caption: str
    columns: list[str]
    rows: list[list[Any]]
    chart: Markup | None = None
    unit: str = ""

    @property
    def wide(self) -> bool:
        """A table too wide to stand beside its chart goes below it."""
        return len(self.columns) > 4


@dataclass
class SectionView:
    id: str
    heading: str
    source: str
    problem: str | None
    blocks: list[Block] = field(default_factory=list)


def _block(block_id: str, heading: str, caption: str, columns: list[str], rows: list[list[Any]],
           chart_rows: list[tuple[str, int]], unit: str) -> Block:
    return Block(block_id, heading, caption, columns, rows, bars(chart_rows, f"{block_id}-graf", heading, unit), unit)


def _week(iso: str) -> str:
    """``2026-W46`` → ``uge 46, 2026``."""
    year, _, week = iso.partition("-W")
    return f"uge {int(week)}, {year}" if week.isdigit() else iso


def _hco_blocks(data: dict[str, Any]) -> list[Block]:
    towns = data.get("by_municipality") or []
    analyses = data.get("by_analysis_week") or []
    per_analysis: Counter[tuple[str, str]] = Counter()
    for r in analyses:
        per_analysis[(r["code"], r["display"])] += r["results"]
    acks = data.get("acknowledgements") or []
    dds = data.get("dds") or {}
    copies = [("Delt i DDS", int(dds.get("shared", 0)))] + [
        (f"Ikke delt: {r['label']}", int(r["messages"])) for r in dds.get("not_shared_by_reason") or []]
    return [
        _block("hco-kommune", "Meddelelser pr. afsendende kommune", "Meddelelser og resultater pr. kommune",
               ["Kommune", "SOR", "Meddelelser", "Resultater"],
               [[t["municipality"], t["sor"], t["messages"], t["results"]] for t in towns],
               [(t["municipality"], t["messages"]) for t in towns], "meddelelser"),
        _block("hco-analyse", "Resultater pr. analyse", "Resultater pr. analyse og uge (dansk tid)",
               ["Uge", "Analyse", "Kode", "Resultater"],
               [[_week(r["week"]), r["display"], r["code"], r["results"]] for r in analyses],
               [(f"{code} {display}", n) for (code, display), n in per_analysis.most_common()], "resultater"),
        _block("hco-kvittering", "Kvitteringer fra lægen", "Meddelelser efter kvitteringens udfald",
               ["Udfald", "Meddelelser"], [[ACK_LABELS.get(a["outcome"], a["outcome"]), a["messages"]] for a in acks],
               [(ACK_LABELS.get(a["outcome"], a["outcome"]), a["messages"]) for a in acks], "meddelelser"),
        _block("hco-dds", "Kopier i DDS", "Meddelelser delt i DDS, og hvorfor de øvrige ikke er",
               ["DDS", "Meddelelser"], [[label, n] for label, n in copies], copies, "meddelelser"),
    ]


def _gp_blocks(data: dict[str, Any]) -> list[Block]:
    practices = data.get("by_practice") or []
    acks = data.get("acknowledgements_sent") or []
    return [
        _block("lps-kvittering", "Kvitteringer sendt af lægesystemet",
               f"Modtagne meddelelser ({data.get('received', 0)}) efter den kvittering, lægesystemet sendte",
               ["Udfald", "Meddelelser"], [[ACK_LABELS.get(a["outcome"], a["outcome"]), a["messages"]] for a in acks],
               [(ACK_LABELS.get(a["outcome"], a["outcome"]), a["messages"]) for a in acks], "meddelelser"),
        Block("lps-praksis", "Modtaget pr. lægepraksis", "Modtagne meddelelser pr. lægepraksis (SOR)",
              ["Lægepraksis (SOR)", "Meddelelser"], [[p["sor"], p["messages"]] for p in practices]),
    ]


PLSP_COLUMNS = ["Diagnosekort", "Heraf delt", "Notater", "Heraf delt", "Ikke til deling", "Annulleret", "Slettet"]
PLSP_FIELDS = ["cards", "cards_shared", "notes", "notes_shared", "notes_not_shared", "notes_cancelled", "notes_purged"]


def _plsp_blocks(data: dict[str, Any]) -> list[Block]:
    clinics = data.get("by_clinic") or []
    systems = data.get("by_gp_system") or []
    return [
        _block("plsp-klinik", "Delt pr. klinik", "Diagnosekort og journalnotater pr. klinik",
               ["Klinik", "SOR", *PLSP_COLUMNS], [[c["name"], c["sor"], *(c[f] for f in PLSP_FIELDS)] for c in clinics],
               [(c["name"] or c["sor"], c["cards_shared"] + c["notes_shared"]) for c in clinics], "delt"),
        _block("plsp-system", "Delt pr. lægesystem", "Diagnosekort og journalnotater pr. lægesystem",
               ["Lægesystem", *PLSP_COLUMNS], [[s["name"], *(s[f] for f in PLSP_FIELDS)] for s in systems],
               [(str(s["name"]), s["cards_shared"] + s["notes_shared"]) for s in systems], "delt"),
    ]


def _views_blocks(views: dict[str, Any]) -> list[Block]:
    kinds = views.get("by_kind") or []
    return [_block("visninger", "Visninger pr. brugertype", "Sidevisninger pr. brugertype og side",
                   ["Brugertype", "Side", "Visninger"],
                   [[next((k["label"] for k in kinds if k["kind"] == p["kind"]), p["kind"]), p["label"], p["views"]]
                    for p in views.get("by_kind_and_page") or []],
                   [(k["label"], k["views"]) for k in kinds], "visninger")]


def sections(gathered: dict[str, Any]) -> list[SectionView]:
    """The page's sections from the gathered counts, in the order shown."""
    builders = {"hco": ("Kommunale prøvesvar (HomeCareObservation)", _hco_blocks),
                "gp": ("Modtaget i lægesystemet", _gp_blocks),
                "plsp": ("Diagnosekort og journalnotater (PLSP)", _plsp_blocks)}
    out = []
    for name, (heading, build) in builders.items():
        section = gathered["sections"][name]
        view = SectionView(name, heading, section["title"], section["problem"])
        if section["available"]:
            view.blocks = build(section["counts"])
        out.append(view)
    out.append(SectionView("sundhed", "Visninger på Sundhed.dk", "Sundhed.dk (denne side)", None,
                           _views_blocks(gathered["page_views"])))
    return out


def router(pages: Pages) -> APIRouter:
    web = APIRouter()
    page_views = pages.page_views

    @web.get("/statistik", response_class=HTMLResponse)
    async def statistik(request: Request) -> Response:
        session = await run_in_threadpool(pages.current, request)
        gathered = await gather(pages.context, page_views)
        return await pages.render(request, "statistik.html", session, sections=sections(gathered),
                                  generated_at=gathered["generated_at"], section="statistik")

    @web.get("/api/statistik")
    async def statistik_json() -> dict[str, Any]:
        return await gather(pages.context, page_views)

    return web
