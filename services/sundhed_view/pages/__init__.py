"""The server-rendered pages (Danish, semantic HTML, usable without JavaScript: forms and
POST → redirect → GET), one router per page group:

* :mod:`.signin` — ``GET /``, ``POST /login``, ``POST /logout``: sign-in by choosing a persona (MitID stand-in)
* :mod:`.home` — ``GET /hjem``: whom a citizen acts for (``POST /handler-for``), or a professional's CPR
  look-up (``GET /opslag?cpr=``)
* :mod:`.overview` — ``GET /borger/{cpr}``: overview of a citizen's documents; empty for a professional →
  the block hint and the værdispring form (``POST /borger/{cpr}/vaerdispring``, ``…/vaerdispring/afslut``)
* :mod:`.citizen` — ``GET /borger/{cpr}/provesvar`` (``…/provesvar/{id}``: one message and its history),
  ``…/diagnoser``, ``…/journalnotater``
* :mod:`.minlog` — ``GET /minlog``; :mod:`.minspaerring` — ``GET|POST /minspaerring``,
  ``POST /minspaerring/{id}/tilbagekald``
* :mod:`.statistik` — ``GET /statistik`` and ``GET /api/statistik``: counts from the actors (open, no sign-in)
"""

from __future__ import annotations

from fastapi import APIRouter

from services.sundhed_view.pages import citizen, home, minlog, minspaerring, overview, signin, statistik
from services.sundhed_view.site import Pages


def router(pages: Pages) -> APIRouter:
    """Every page of the viewer, in the order they are listed above."""
    web = APIRouter()
    for group in (signin, home, overview, citizen, minlog, minspaerring, statistik):
        web.include_router(group.router(pages))
    return web
