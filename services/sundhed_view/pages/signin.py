"""Sign-in by choosing a persona (MitID stand-in): ``GET /``, ``POST /login``, ``POST /logout``.

The sign-in form has a session of its own whose CSRF token the form carries, so a login posted from
another site fails; signing in starts a new session (a new id), signing out revokes it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from nsp_sandbox import openapi_description as oa
from services.sundhed_view.dds import Refused
from services.sundhed_view.session import COOKIE, PROFESSIONAL_KINDS, Session
from services.sundhed_view.site import FormRefused, Pages, read_form

EXPIRED = "Log ind-siden var udløbet eller kom ikke fra denne side. Vælg igen og log ind."


async def login_page(pages: Pages, request: Request, status: int = 200, error: str | None = None) -> Response:
    """The persona chooser with the CSRF token of the sign-in form's session (made when there is none)."""
    cookie, csrf = await run_in_threadpool(pages.sessions.sign_in_form, request.cookies.get(COOKIE))
    response = await pages.render(request, "login.html", None, status=status, groups=await pages.login_groups(),
                                  csrf=csrf, error=error)
    return pages.set_cookie(request, response, cookie) if cookie else response


def router(pages: Pages) -> APIRouter:
    web = APIRouter()

    @web.get("/", response_class=HTMLResponse)
    async def sign_in(request: Request) -> Response:
        if await run_in_threadpool(pages.current, request) is not None:
            return pages.redirect(request, "/hjem")
        return await login_page(pages, request)

    @web.post("/login", response_class=HTMLResponse, openapi_extra=oa.form_body("persona", "csrf"))
    async def login(request: Request) -> Response:
        form = await read_form(request)
        form_cookie = request.cookies.get(COOKIE)
        if not await run_in_threadpool(pages.sessions.sign_in_allowed, form_cookie, form.get("csrf", "")):
            if await run_in_threadpool(pages.current, request) is not None:
                raise FormRefused  # someone signed in: their session stays
            return await login_page(pages, request, 403, EXPIRED)
        persona = await pages.nsp.persona(str(form.get("persona", "")))
        if persona is None:
            return await login_page(pages, request, 400, "Vælg hvem du vil logge ind som.")
        try:
            token, expires = await pages.nsp.token(persona["id"])
        except Refused as refused:
            return await login_page(pages, request, 403, f"Login afvist: {refused.text}")
        own = None if persona["kind"] in PROFESSIONAL_KINDS else persona.get("cpr")  # an assistant's CPR is no page
        session = Session(persona["id"], persona["kind"], persona["name"], token, expires, cpr=own,
                          acts_for=list(persona.get("acts_for") or []), acting=own,
                          organisation=_organisation(persona))
        cookie = await run_in_threadpool(pages.sessions.start, form_cookie, session)
        return pages.set_cookie(request, pages.redirect(request, "/hjem"), cookie)

    @web.post("/logout", response_class=HTMLResponse, openapi_extra=oa.form_body("csrf"))
    async def logout(request: Request) -> Response:
        session = await run_in_threadpool(pages.current, request)
        if session is not None:
            pages.check_csrf(session, await read_form(request))
            await run_in_threadpool(pages.sessions.end, session)
        return pages.clear_cookie(request, pages.redirect(request, "/"))

    return web


def _organisation(persona: dict[str, Any]) -> str | None:
    """Where the person works, as the pages name it; for an assistant, also for whom they act."""
    name = persona.get("organisation_name")
    if persona["kind"] == "assistant" and persona.get("responsible_name"):
        return f"{name}, for {persona['responsible_name']}" if name else f"for {persona['responsible_name']}"
    return str(name) if name else None
