"""Sign-in by choosing a persona (MitID stand-in): ``GET /``, ``POST /login``, ``POST /logout``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.sundhed_view.dds import Refused
from services.sundhed_view.session import COOKIE, Session
from services.sundhed_view.site import Pages, cookie_path, read_form


def router(pages: Pages) -> APIRouter:
    web = APIRouter()

    @web.get("/", response_class=HTMLResponse)
    async def sign_in(request: Request) -> Response:
        if pages.signer.load(request.cookies.get(COOKIE)) is not None:
            return pages.redirect(request, "/hjem")
        return pages.render(request, "login.html", None, groups=await pages.login_groups())

    @web.post("/login")
    async def login(request: Request) -> Response:
        form = await read_form(request)
        persona = await pages.nsp.persona(str(form.get("persona", "")))
        if persona is None:
            return pages.render(request, "login.html", None, status=400, groups=await pages.login_groups(),
                                error="Vælg hvem du vil logge ind som.")
        try:
            token, expires = await pages.nsp.token(persona["id"])
        except Refused as refused:
            return pages.render(request, "login.html", None, status=403, groups=await pages.login_groups(),
                                error=f"Login afvist: {refused.text}")
        session = Session(persona["id"], persona["kind"], persona["name"], token, expires, cpr=persona.get("cpr"),
                          acts_for=list(persona.get("acts_for") or []), acting=persona.get("cpr"),
                          organisation=persona.get("organisation_name"))
        return pages.redirect(request, "/hjem", session)

    @web.post("/logout")
    async def logout(request: Request) -> Response:
        response = pages.redirect(request, "/")
        response.delete_cookie(COOKIE, path=cookie_path(request))
        return response

    return web
