"""A citizen's documents by kind, read through DDS with the signed-in person's token:
``GET /borger/{cpr}/provesvar`` (``?alle=1``: every result; ``…/provesvar/{id}``: one message and its
history), ``…/diagnoser`` and ``…/journalnotater``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.sundhed_view.dds import Refused
from services.sundhed_view.site import Pages, valid_cpr

ROWS_SHOWN = 12  # newest results per analysis on the page; all of them one link away (?alle=1)


async def citizen_page(pages: Pages, request: Request, cpr: str, load: Any, template: str, section: str,
                       **extra: Any) -> Response:
    """One kind of the citizen's documents as a page, read with the signed-in person's token."""
    session = await pages.session(request)
    valid_cpr(cpr)
    try:
        view, warnings = await load(pages.reader(session, cpr), cpr)
    except Refused as refused:
        return await pages.refused(request, session, cpr, refused)
    return await pages.render(request, template, session, cpr=cpr, view=view, warnings=warnings,
                              citizen=(await pages.names()).get(cpr), section=section, **extra)


def router(pages: Pages) -> APIRouter:
    web = APIRouter()

    @web.get("/borger/{cpr}/provesvar", response_class=HTMLResponse)
    async def observations(cpr: str, request: Request, alle: str | None = None) -> Response:
        return await citizen_page(pages, request, cpr, pages.views.observations, "observations.html", "provesvar",
                                  limit=None if alle else ROWS_SHOWN)

    @web.get("/borger/{cpr}/provesvar/{chain_id}", response_class=HTMLResponse)
    async def observation_history(cpr: str, chain_id: str, request: Request) -> Response:
        session = await pages.session(request)
        valid_cpr(cpr)
        try:
            view, warnings = await pages.views.observations(pages.reader(session, cpr), cpr)
        except Refused as refused:
            return await pages.refused(request, session, cpr, refused)
        chain = next((c for c in [*view.chains, *view.cancelled] if c.root == chain_id), None)
        status = 200 if chain else 404
        return await pages.render(request, "history.html", session, status=status, cpr=cpr, chain=chain,
                                  warnings=warnings, citizen=(await pages.names()).get(cpr), section="provesvar")

    @web.get("/borger/{cpr}/diagnoser", response_class=HTMLResponse)
    async def condition_lists(cpr: str, request: Request) -> Response:
        return await citizen_page(pages, request, cpr, pages.views.conditions, "conditions.html", "diagnoser")

    @web.get("/borger/{cpr}/journalnotater", response_class=HTMLResponse)
    async def journal_notes(cpr: str, request: Request) -> Response:
        return await citizen_page(pages, request, cpr, pages.views.notes, "notes.html", "journalnotater")

    return web
