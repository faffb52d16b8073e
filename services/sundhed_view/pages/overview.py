"""A citizen's overview, ``GET /borger/{cpr}``: their documents, or for a professional without access
the block hint and the værdispring form (``POST /borger/{cpr}/vaerdispring`` with a reason,
``POST /borger/{cpr}/vaerdispring/afslut`` to end it)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from nsp_sandbox import openapi_description as oa
from services.sundhed_view.dds import Refused
from services.sundhed_view.site import Pages, read_form, valid_cpr

MAX_REASON = 500


def router(pages: Pages) -> APIRouter:
    web = APIRouter()

    @web.get("/borger/{cpr}", response_class=HTMLResponse)
    async def citizen_overview(cpr: str, request: Request) -> Response:
        session = await pages.session(request)
        valid_cpr(cpr)
        try:
            overview = await pages.views.overview(pages.reader(session, cpr), cpr)
        except Refused as refused:
            return await pages.refused(request, session, cpr, refused)
        return await pages.render(request, "overview.html", session, cpr=cpr, overview=overview,
                                  citizen=(await pages.names()).get(cpr), section="oversigt")

    @web.post("/borger/{cpr}/vaerdispring", response_class=HTMLResponse, openapi_extra=oa.form_body("reason", "csrf"))
    async def consent_override(cpr: str, request: Request) -> Response:
        session = await pages.session(request)
        valid_cpr(cpr)
        form = await read_form(request)
        pages.check_csrf(session, form)
        reason = " ".join(str(form.get("reason", "")).split())[:MAX_REASON]
        if not session.may_override:  # citizens, relatives and assistants: nothing to lift
            return pages.redirect(request, f"/borger/{cpr}")
        if not reason:
            overview = await pages.views.overview(pages.reader(session, cpr), cpr)
            return await pages.render(request, "overview.html", session, status=400, cpr=cpr, overview=overview,
                                      citizen=(await pages.names()).get(cpr), section="oversigt",
                                      error="Skriv en begrundelse for værdispring.")
        await run_in_threadpool(pages.sessions.override, session, cpr, reason)
        return pages.redirect(request, f"/borger/{cpr}")

    @web.post("/borger/{cpr}/vaerdispring/afslut", response_class=HTMLResponse, openapi_extra=oa.form_body("csrf"))
    async def end_override(cpr: str, request: Request) -> Response:
        session = await pages.session(request)
        form = await read_form(request)
        pages.check_csrf(session, form)
        await run_in_threadpool(pages.sessions.override, session, cpr, None)
        return pages.redirect(request, f"/borger/{cpr}")

    return web
