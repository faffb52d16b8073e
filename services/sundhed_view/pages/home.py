"""The home page after sign-in: ``GET /hjem``; whom a citizen acts for (``POST /handler-for``), or a
professional's CPR look-up (``GET /opslag?cpr=``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from nsp_sandbox import openapi_description as oa
from nsp_sandbox.cpr import is_cpr
from services.sundhed_view.site import Pages, read_form


def router(pages: Pages) -> APIRouter:
    web = APIRouter()

    @web.get("/hjem", response_class=HTMLResponse)
    async def home(request: Request) -> Response:
        session = await pages.session(request)
        return await pages.render(request, "home.html", session, names=await pages.names())

    @web.post("/handler-for", response_class=HTMLResponse, openapi_extra=oa.form_body("cpr", "csrf"))
    async def act_for(request: Request) -> Response:
        session = await pages.session(request)
        form = await read_form(request)
        pages.check_csrf(session, form)
        cpr = str(form.get("cpr", ""))
        if cpr in session.represented:
            await run_in_threadpool(pages.sessions.act_as, session, cpr)
        return pages.redirect(request, f"/borger/{cpr}" if cpr in session.represented else "/hjem")

    @web.get("/opslag", response_class=HTMLResponse)
    async def look_up(request: Request, cpr: str = "") -> Response:
        session = await pages.session(request)
        cpr = cpr.replace("-", "").strip()
        if not is_cpr(cpr):
            return await pages.render(request, "home.html", session, status=400, names=await pages.names(),
                                      error="Et CPR-nummer har 10 cifre (DDMMÅÅ-XXXX).", cpr_value=cpr)
        return pages.redirect(request, f"/borger/{cpr}")

    return web
