"""The server-rendered pages (Danish, semantic HTML, usable without JavaScript: forms and
POST → redirect → GET).

* ``GET /``, ``POST /login``, ``POST /logout``: sign-in by choosing a persona (MitID stand-in)
* ``GET /hjem``: whom a citizen acts for (``POST /handler-for``), or a professional's CPR look-up
  (``GET /opslag?cpr=``)
* ``GET /borger/{cpr}``: overview of a citizen's documents; empty for a professional → the block
  hint and the værdispring form (``POST /borger/{cpr}/vaerdispring``, ``…/vaerdispring/afslut``)
* ``GET /borger/{cpr}/provesvar`` (``…/provesvar/{id}``: one message and its history),
  ``…/diagnoser``, ``…/journalnotater``
* ``GET /minlog``; ``GET|POST /minspaerring``, ``POST /minspaerring/{id}/tilbagekald``
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.cpr import is_cpr
from services.sundhed_view import chart, formatting
from services.sundhed_view.dds import Reader, Refused
from services.sundhed_view.nsp import Nsp
from services.sundhed_view.session import COOKIE, MAX_AGE, Session, Signer
from services.sundhed_view.views import Views

TEMPLATES = Path(__file__).parent / "templates"
MAX_REASON = 500
MAX_FORM = 16 * 1024
ROWS_SHOWN = 12  # newest results per analysis on the page; all of them one link away (?alle=1)
KIND_LABELS = {"citizen": "Borger", "relative": "Pårørende", "professional": "Sundhedsperson"}


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["tid"] = formatting.date_time
    env.filters["dato"] = formatting.date_only
    env.filters["handling"] = formatting.activity
    env.globals["trend"] = chart.trend
    return env


def cookie_path(request: Request) -> str:
    """The session cookie's path: where the viewer is mounted (``/view``)."""
    return str(request.scope.get("root_path", "")).rstrip("/") or "/"


async def read_form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (the only kind these pages send); the first value of each name."""
    body = await request.body()
    if len(body) > MAX_FORM:
        return {}
    out: dict[str, str] = {}
    for name, value in parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True):
        out.setdefault(name, value)
    return out


class SignedOut(Exception):
    """No valid session (none, forged, its token refused, or a form without its CSRF token): the
    cookie is cleared and the person is back at the sign-in page."""


class Pages:
    def __init__(self, context: SandboxContext, views: Views, nsp: Nsp) -> None:
        self.context = context
        self.views = views
        self.nsp = nsp
        self.signer = Signer()
        self.env = environment()

    # ---- session ------------------------------------------------------------------------------

    async def session(self, request: Request) -> Session:
        session = self.signer.load(request.cookies.get(COOKIE))
        if session is None:
            raise SignedOut
        if session.expires - self.context.clock.now().timestamp() < 60:
            try:
                session.token, session.expires = await self.nsp.token(session.persona)
            except Refused:
                raise SignedOut from None
            session.changed = True
        return session

    def _store(self, request: Request, response: Response, session: Session) -> Response:
        response.set_cookie(COOKIE, self.signer.dump(session), max_age=MAX_AGE, path=cookie_path(request),
                            httponly=True, samesite="lax", secure=request.url.scheme == "https")
        return response

    def render(self, request: Request, template: str, session: Session | None, status: int = 200,
               **values: Any) -> Response:
        base = str(request.scope.get("root_path", "")).rstrip("/")
        html = self.env.get_template(template).render(base=base, session=session, request=request,
                                                      kind_labels=KIND_LABELS, **values)
        response = HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
        if session is not None and session.changed:
            self._store(request, response, session)
        return response

    def redirect(self, request: Request, path: str, session: Session | None = None) -> Response:
        base = str(request.scope.get("root_path", "")).rstrip("/")
        response = RedirectResponse(f"{base}{path}", status_code=303)
        if session is not None:
            self._store(request, response, session)
        return response

    @staticmethod
    def check_csrf(session: Session, form: Any) -> None:
        if form.get("csrf") != session.csrf:
            raise SignedOut

    def reader(self, session: Session, cpr: str) -> Reader:
        if session.is_professional:
            return Reader(session.token, session.overrides.get(cpr))
        return Reader(session.token, own_cpr=session.cpr)

    async def names(self) -> dict[str, str]:
        """CPR → name of the citizens NSP knows (to name whom a relative acts for)."""
        return {p["cpr"]: p["name"] for p in await self.nsp.personas() if p.get("kind") == "citizen"}

    async def refused(self, request: Request, session: Session, cpr: str, refused: Refused) -> Response:
        if refused.status == 401:
            raise SignedOut
        return self.render(request, "refused.html", session, status=refused.status if refused.status < 500 else 502,
                           cpr=cpr, refused=refused, citizen=(await self.names()).get(cpr))


def router(pages: Pages) -> APIRouter:
    web = APIRouter()

    @web.get("/", response_class=HTMLResponse)
    async def sign_in(request: Request) -> Response:
        if pages.signer.load(request.cookies.get(COOKIE)) is not None:
            return pages.redirect(request, "/hjem")
        personas = await pages.nsp.personas()
        groups = [(KIND_LABELS[k], [p for p in personas if p["kind"] == k]) for k in KIND_LABELS]
        return pages.render(request, "login.html", None, groups=groups)

    @web.post("/login")
    async def login(request: Request) -> Response:
        form = await read_form(request)
        persona = await pages.nsp.persona(str(form.get("persona", "")))
        if persona is None:
            personas = await pages.nsp.personas()
            groups = [(KIND_LABELS[k], [p for p in personas if p["kind"] == k]) for k in KIND_LABELS]
            return pages.render(request, "login.html", None, status=400, groups=groups,
                                error="Vælg hvem du vil logge ind som.")
        try:
            token, expires = await pages.nsp.token(persona["id"])
        except Refused as refused:
            personas = await pages.nsp.personas()
            groups = [(KIND_LABELS[k], [p for p in personas if p["kind"] == k]) for k in KIND_LABELS]
            return pages.render(request, "login.html", None, status=403, groups=groups,
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

    @web.get("/hjem", response_class=HTMLResponse)
    async def home(request: Request) -> Response:
        session = await pages.session(request)
        return pages.render(request, "home.html", session, names=await pages.names())

    @web.post("/handler-for")
    async def act_for(request: Request) -> Response:
        session = await pages.session(request)
        form = await read_form(request)
        pages.check_csrf(session, form)
        cpr = str(form.get("cpr", ""))
        if cpr in session.represented:
            session.acting = cpr
        return pages.redirect(request, f"/borger/{cpr}" if cpr in session.represented else "/hjem", session)

    @web.get("/opslag")
    async def look_up(request: Request, cpr: str = "") -> Response:
        session = await pages.session(request)
        cpr = cpr.replace("-", "").strip()
        if not is_cpr(cpr):
            return pages.render(request, "home.html", session, status=400, names=await pages.names(),
                                error="Et CPR-nummer har 10 cifre (DDMMÅÅ-XXXX).", cpr_value=cpr)
        return pages.redirect(request, f"/borger/{cpr}")

    def _valid(cpr: str) -> None:
        if not is_cpr(cpr):
            raise SignedOut

    @web.get("/borger/{cpr}", response_class=HTMLResponse)
    async def citizen_overview(cpr: str, request: Request) -> Response:
        session = await pages.session(request)
        _valid(cpr)
        try:
            overview = await pages.views.overview(pages.reader(session, cpr), cpr)
        except Refused as refused:
            return await pages.refused(request, session, cpr, refused)
        return pages.render(request, "overview.html", session, cpr=cpr, overview=overview,
                            citizen=(await pages.names()).get(cpr), section="oversigt")

    @web.post("/borger/{cpr}/vaerdispring")
    async def consent_override(cpr: str, request: Request) -> Response:
        session = await pages.session(request)
        _valid(cpr)
        form = await read_form(request)
        pages.check_csrf(session, form)
        reason = " ".join(str(form.get("reason", "")).split())[:MAX_REASON]
        if not session.is_professional:
            return pages.redirect(request, f"/borger/{cpr}")
        if not reason:
            overview = await pages.views.overview(pages.reader(session, cpr), cpr)
            return pages.render(request, "overview.html", session, status=400, cpr=cpr, overview=overview,
                                citizen=(await pages.names()).get(cpr), section="oversigt",
                                error="Skriv en begrundelse for værdispring.")
        session.overrides[cpr] = reason
        return pages.redirect(request, f"/borger/{cpr}", session)

    @web.post("/borger/{cpr}/vaerdispring/afslut")
    async def end_override(cpr: str, request: Request) -> Response:
        session = await pages.session(request)
        form = await read_form(request)
        pages.check_csrf(session, form)
        session.overrides.pop(cpr, None)
        return pages.redirect(request, f"/borger/{cpr}", session)

    async def citizen_page(request: Request, cpr: str, load: Any, template: str, section: str,
                           **extra: Any) -> Response:
        """One kind of the citizen's documents as a page, read with the signed-in person's token."""
        session = await pages.session(request)
        _valid(cpr)
        try:
            view, warnings = await load(pages.reader(session, cpr), cpr)
        except Refused as refused:
            return await pages.refused(request, session, cpr, refused)
        return pages.render(request, template, session, cpr=cpr, view=view, warnings=warnings,
                            citizen=(await pages.names()).get(cpr), section=section, **extra)

    @web.get("/borger/{cpr}/provesvar", response_class=HTMLResponse)
    async def observations(cpr: str, request: Request, alle: str | None = None) -> Response:
        return await citizen_page(request, cpr, pages.views.observations, "observations.html", "provesvar",
                                  limit=None if alle else ROWS_SHOWN)

    @web.get("/borger/{cpr}/provesvar/{chain_id}", response_class=HTMLResponse)
    async def observation_history(cpr: str, chain_id: str, request: Request) -> Response:
        session = await pages.session(request)
        _valid(cpr)
        try:
            view, warnings = await pages.views.observations(pages.reader(session, cpr), cpr)
        except Refused as refused:
            return await pages.refused(request, session, cpr, refused)
        chain = next((c for c in [*view.chains, *view.cancelled] if c.root == chain_id), None)
        status = 200 if chain else 404
        return pages.render(request, "history.html", session, status=status, cpr=cpr, chain=chain,
                            warnings=warnings, citizen=(await pages.names()).get(cpr), section="provesvar")

    @web.get("/borger/{cpr}/diagnoser", response_class=HTMLResponse)
    async def condition_lists(cpr: str, request: Request) -> Response:
        return await citizen_page(request, cpr, pages.views.conditions, "conditions.html", "diagnoser")

    @web.get("/borger/{cpr}/journalnotater", response_class=HTMLResponse)
    async def journal_notes(cpr: str, request: Request) -> Response:
        return await citizen_page(request, cpr, pages.views.notes, "notes.html", "journalnotater")

    def _citizen_only(session: Session) -> None:
        if session.is_professional:
            raise SignedOut

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
        return pages.render(request, "minlog.html", session, cpr=cpr, entries=entries,
                            citizen=(await pages.names()).get(cpr), section="minlog")

    async def _blocks_page(request: Request, session: Session, status: int = 200, error: str | None = None,
                           form: Any = None) -> Response:
        cpr = session.acting or session.cpr or ""
        try:
            blocks = await pages.nsp.blocks(session.token, cpr)
        except Refused as refused:
            return await pages.refused(request, session, cpr, refused)
        personas = await pages.nsp.personas()
        professionals = [p for p in personas if p["kind"] == "professional"]
        organisations = sorted({(p["organisation"], p["organisation_name"]) for p in professionals
                                if p.get("organisation")}, key=lambda o: o[1])
        by_authorisation = {p["authorisation"]: p for p in professionals}
        org_names = dict(organisations)
        for block in blocks:
            who = block.get("who") or {}
            if who.get("type") == "organisation" and who.get("id") not in org_names:
                found = await pages.nsp.organisation(str(who.get("id")))
                org_names[str(who.get("id"))] = found["name"] if found else str(who.get("id"))
        return pages.render(request, "blocks.html", session, status=status, cpr=cpr, blocks=blocks,
                            professionals=professionals, organisations=organisations, error=error,
                            by_authorisation=by_authorisation, org_names=org_names, form=form or {},
                            citizen=(await pages.names()).get(cpr), section="minspaerring")

    @web.get("/minspaerring", response_class=HTMLResponse)
    async def blocks(request: Request) -> Response:
        session = await pages.session(request)
        if session.is_professional:
            return pages.redirect(request, "/hjem")
        return await _blocks_page(request, session)

    @web.post("/minspaerring")
    async def add_block(request: Request) -> Response:
        session = await pages.session(request)
        _citizen_only(session)
        form = await read_form(request)
        pages.check_csrf(session, form)
        who_type = str(form.get("who_type", ""))
        body: dict[str, Any] = {"cpr": session.acting or session.cpr, "who": {"type": who_type}}
        if who_type == "professional":
            body["who"]["id"] = str(form.get("professional", ""))
        elif who_type == "organisation":
            body["who"]["id"] = str(form.get("organisation_sor") or form.get("organisation") or "").strip()
            body["include_sub_units"] = form.get("include_sub_units") == "ja"
        for name in ("valid_from", "valid_to", "data_from", "data_to"):
            if form.get(name):
                body[name] = str(form.get(name))
        try:
            await pages.nsp.add_block(session.token, body)
        except Refused as refused:
            if refused.status == 400:
                return await _blocks_page(request, session, 400, f"Spærringen blev ikke oprettet: {refused.text}",
                                          form)
            return await pages.refused(request, session, str(body["cpr"]), refused)
        return pages.redirect(request, "/minspaerring?oprettet=1")

    @web.post("/minspaerring/{block_id}/tilbagekald")
    async def revoke_block(block_id: str, request: Request) -> Response:
        session = await pages.session(request)
        _citizen_only(session)
        form = await read_form(request)
        pages.check_csrf(session, form)
        try:
            await pages.nsp.revoke_block(session.token, block_id)
        except Refused as refused:
            return await pages.refused(request, session, session.acting or "", refused)
        return pages.redirect(request, "/minspaerring?tilbagekaldt=1")

    return web

