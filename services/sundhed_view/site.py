"""What every server-rendered page shares (:mod:`services.sundhed_view.pages` has the pages): the
signed session cookie and its refresh, the Danish templates, forms with their CSRF token, redirects
after POST, and the refusal page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.cpr import is_cpr
from services.sundhed_view import chart, formatting
from services.sundhed_view.dds import Reader, Refused
from services.sundhed_view.nsp import Nsp
from services.sundhed_view.session import COOKIE, MAX_AGE, Session, Signer
from services.sundhed_view.statistics import PageViews
from services.sundhed_view.views import Views

TEMPLATES = Path(__file__).parent / "templates"
MAX_FORM = 16 * 1024
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
    """The viewer's page machinery over its DDS views and NSP client."""

    def __init__(self, context: SandboxContext, views: Views, nsp: Nsp) -> None:
        self.context = context
        self.views = views
        self.nsp = nsp
        self.signer = Signer()
        self.env = environment()
        self.page_views = PageViews(context)

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
        if session is not None:
            self.page_views.count(session.kind, template)
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

    async def login_groups(self) -> list[tuple[str, list[dict[str, Any]]]]:
        """The personas to sign in as, grouped by kind under their Danish label."""
        personas = await self.nsp.personas()
        return [(KIND_LABELS[k], [p for p in personas if p["kind"] == k]) for k in KIND_LABELS]

    async def names(self) -> dict[str, str]:
        """CPR → name of the citizens NSP knows (to name whom a relative acts for)."""
        return {p["cpr"]: p["name"] for p in await self.nsp.personas() if p.get("kind") == "citizen"}

    async def refused(self, request: Request, session: Session, cpr: str, refused: Refused) -> Response:
        if refused.status == 401:
            raise SignedOut
        return self.render(request, "refused.html", session, status=refused.status if refused.status < 500 else 502,
                           cpr=cpr, refused=refused, citizen=(await self.names()).get(cpr))


def valid_cpr(cpr: str) -> None:
    """A citizen page's CPR in the path must be a CPR number; anything else ends the session."""
    if not is_cpr(cpr):
        raise SignedOut


def citizen_only(session: Session) -> None:
    """Min Spærring's forms are the citizen's (or a relative's) own: a professional is signed out."""
    if session.is_professional:
        raise SignedOut
