"""Min Log, ``GET /minlog``: who looked at the data of the citizen (or of the one a relative acts for).
A professional is sent home."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.sundhed_view.dds import Refused
from services.sundhed_view.site import Pages


def router(pages: Pages) -> APIRouter:
    web = APIRouter()

    @web.get("/minlog", response_class=HTMLResponse)
    async def minlog(request: Request) -> Response:
        session = await pages.session(request)
        if session.is_professional:
            return pages.redirect(request, "/hjem")
        cpr = session.acting or session.cpr or ""
        try:
            entries = await pages.nsp.minlog(session.token, cpr)
        except Refused as refused:
            return await pages.refused(request, session, cpr, refused)
        return await pages.render(request, "minlog.html", session, cpr=cpr, entries=entries,
                                  citizen=(await pages.names()).get(cpr), section="minlog")

    return web
