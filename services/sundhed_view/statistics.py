"""The viewer's statistics: its own page views by kind of user, and the counts of the actors that
own the rest, gathered over HTTP (``context.peers``) for ``/statistik`` and ``/api/statistik``.

* **Page views** are the viewer's own: one row per page rendered for a signed-in person (table
  ``view_page_view``: when, the kind of user — citizen, relative, professional, assistant — and the page's
  template). Neither the person, their CPR number nor the path (which holds the citizen's CPR
  number) is stored.
* **The actors' counts** come from their open statistics faces: ``GET /eoj/statistics`` (HCO
  messages per municipality and per analysis per week, acknowledgements, DDS copies),
  ``GET /lps/statistics`` (what the GP system received and answered) and ``GET /plsp/statistics``
  (diagnosis cards and notes per clinic and per GP system). An actor that cannot be reached, or
  answers anything but a JSON object with HTTP 200, gives its section ``available: false`` and the
  reason; the other sections are shown all the same.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx
from sqlalchemy import func, select

from nsp_sandbox.clock import naive_utc
from nsp_sandbox.context import SandboxContext
from services.sundhed_view.models import PageViewRow, ViewBase

KINDS = {"citizen": "Borger", "relative": "Pårørende", "professional": "Sundhedsperson",
         "assistant": "Sundhedsfaglig medhjælp"}
PAGES = {"home.html": "Forside", "overview.html": "Oversigt", "observations.html": "Prøvesvar",
         "history.html": "Prøvesvar, historik", "conditions.html": "Diagnoser", "notes.html": "Journalnotater",
         "minlog.html": "Min Log", "blocks.html": "Min Spærring", "statistik.html": "Statistik",
         "refused.html": "Afvist opslag", "invalid.html": "Ugyldigt dokument"}
SOURCES = {"hco": ("eoj", "EOJ (kommunens omsorgssystem)"), "gp": ("lps", "Lægesystemet (LPS)"),
           "plsp": ("plsp", "PLSP Health Hub")}


class PageViews:
    """The viewer's own count of page views (its tables are created here if missing)."""

    def __init__(self, context: SandboxContext) -> None:
        self._context = context
        context.database.create_tables(ViewBase.metadata)

    def count(self, kind: str, template: str) -> None:
        """One more view of ``template`` by a person of ``kind`` (sandbox clock)."""
        with self._context.database.session() as s:
            s.add(PageViewRow(at=naive_utc(self._context.clock.now()), kind=kind[:32], page=template[:64]))

    def counts(self) -> dict[str, Any]:
        """Views by kind of user (every kind, zero included) and by kind and page."""
        with self._context.database.session() as s:
            rows = s.execute(select(PageViewRow.kind, PageViewRow.page, func.count())
                             .group_by(PageViewRow.kind, PageViewRow.page)).all()
        by_kind: Counter[str] = Counter({kind: 0 for kind in KINDS})
        pages = []
        for kind, page, n in sorted(rows):
            by_kind[kind] += n
            pages.append({"kind": kind, "page": page, "label": PAGES.get(page, page), "views": n})
        return {"total": sum(by_kind.values()),
                "by_kind": [{"kind": k, "label": KINDS.get(k, k), "views": n} for k, n in by_kind.items()],
                "by_kind_and_page": pages}


@dataclass
class Section:
    """One actor's counts, or why they are missing."""

    actor: str
    title: str
    data: dict[str, Any] | None
    problem: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"actor": self.actor, "title": self.title, "available": self.data is not None,
                "problem": self.problem, "counts": self.data}


async def _fetch(context: SandboxContext, actor: str, title: str) -> Section:
    peers = context.peers
    url = f"{peers.url(actor)}/statistics"
    try:
        response = await peers.client(actor).get(url, timeout=10)
    except (httpx.HTTPError, RuntimeError) as exc:
        return Section(actor, title, None, f"{title} kunne ikke nås ({type(exc).__name__})")
    if response.status_code != 200:
        return Section(actor, title, None, f"{title} svarede HTTP {response.status_code}")
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return Section(actor, title, None, f"{title} svarede med noget, der ikke kan læses")
    return Section(actor, title, data)


async def gather(context: SandboxContext, page_views: PageViews) -> dict[str, Any]:
    """Every section: the actors' counts fetched side by side, and the viewer's own page views."""
    fetched = await asyncio.gather(*(_fetch(context, actor, title) for actor, title in SOURCES.values()))
    sections = dict(zip(SOURCES, fetched, strict=True))
    return {"generated_at": context.clock.now().isoformat(),
            "sections": {name: section.to_json() for name, section in sections.items()},
            "page_views": page_views.counts()}
