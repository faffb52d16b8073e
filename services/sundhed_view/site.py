"""What every server-rendered page shares (:mod:`services.sundhed_view.pages` has the pages): the
session (:mod:`.session`, server-side) and its cookie, the Danish templates, forms with their CSRF
token, the Origin check of every state-changing request, redirects after POST, and the refusal page.

The cookie is ``HttpOnly``, ``SameSite=Lax``, under the viewer's path, and ``Secure`` whenever the
client used HTTPS, also behind a TLS-terminating proxy listed in ``NSP_SANDBOX_TRUSTED_PROXIES``.
A POST whose ``Origin`` (or, without one, ``Referer``) is another site, or whose CSRF token is not
the session's, is refused (403) and the session stays as it was (OWASP CSRF Prevention: verifying
origin with standard headers, synchronizer token).
"""

from __future__ import annotations

import functools
import hmac
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.cpr import is_cpr
from nsp_sandbox.trusted_proxies import normalise_origin, trusted_proxies
from services.sundhed_view import chart, formatting
from services.sundhed_view.dds import Reader, Refused
from services.sundhed_view.nsp import Nsp
from services.sundhed_view.session import ABSOLUTE, COOKIE, Session, SessionStore
from services.sundhed_view.statistics import PageViews
from services.sundhed_view.views import Views

TEMPLATES = Path(__file__).parent / "templates"
MAX_FORM = 16 * 1024
KIND_LABELS = {"citizen": "Borger", "relative": "Pårørende", "professional": "Sundhedsperson",
               "assistant": "Sundhedsfaglig medhjælp"}  # an assistant looks up for a professional, as they do
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Under "no-referrer" a browser sends "Origin: null" even with the viewer's own forms; "same-origin" keeps the
# URLs (which carry CPR numbers) inside the viewer and lets its forms name their origin.
PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "same-origin"}


@functools.cache
def environment() -> Environment:
    """The pages' templates, compiled at first use and shared by every viewer of the process (an environment
    renders from many threads at once; its loader still notices a changed template file)."""
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
    """No valid session (none, unknown, ended, or its STS token refused): the cookie is cleared and
    the person is back at the sign-in page."""


class PageNotFound(Exception):
    """No such page (e.g. a citizen page whose path holds no CPR number): 404, the session kept."""


class FormRefused(Exception):
    """A state-changing request from another site (``Origin``) or without the session's CSRF token:
    403, and the session, if any, is left as it was."""


class Pages:
    """The viewer's page machinery over its DDS views and NSP client."""

    def __init__(self, context: SandboxContext, views: Views, nsp: Nsp) -> None:
        self.context = context
        self.views = views
        self.nsp = nsp
        self.sessions = SessionStore(context.database, context.clock)
        self.proxies = trusted_proxies(context.settings.trusted_proxies)
        self.env = environment()
        self.page_views = PageViews(context)

    # ---- session ------------------------------------------------------------------------------

    def current(self, request: Request) -> Session | None:
        """The signed-in session of the request's cookie, or None (its STS token as it is)."""
        return self.sessions.load(request.cookies.get(COOKIE))

    async def session(self, request: Request) -> Session:
        """The signed-in session, its STS token renewed when about to expire; :class:`SignedOut` without one."""
        # The session's row is read and its last use written at every page: on a worker thread, so that
        # the event loop goes on with the process's other requests meanwhile.
        session = await run_in_threadpool(self.current, request)
        if session is None:
            raise SignedOut
        if session.expires - self.context.clock.now().timestamp() < 60:
            try:
                session.token, session.expires = await self.nsp.token(session.persona)
            except Refused:
                await run_in_threadpool(self.sessions.end, session)
                raise SignedOut from None
            await run_in_threadpool(self.sessions.renew_token, session)
        return session

    def set_cookie(self, request: Request, response: Response, cookie: str) -> Response:
        """The session cookie: ``Secure`` when the client's request came over HTTPS."""
        response.set_cookie(COOKIE, cookie, max_age=int(ABSOLUTE.total_seconds()), path=cookie_path(request),
                            httponly=True, samesite="lax", secure=self.proxies.scheme(request) == "https")
        return response

    def clear_cookie(self, request: Request, response: Response) -> Response:
        """The session cookie removed, with the attributes it was set with."""
        response.delete_cookie(COOKIE, path=cookie_path(request), httponly=True, samesite="lax",
                               secure=self.proxies.scheme(request) == "https")
        return response

    def origins(self, request: Request) -> set[str]:
        """The viewer's own origins: the one the request was sent to, and the configured public one."""
        own = {self.proxies.origin(request)}
        if self.context.settings.public_base_url:
            own.add(normalise_origin(self.context.settings.public_base_url))
        return own

    async def check_origin(self, request: Request) -> None:
        """A state-changing request must come from the viewer's own pages: its ``Origin`` (or, when a
        browser sends none, its ``Referer``) is ours; with neither the CSRF token decides alone."""
        if request.method in SAFE_METHODS:
            return
        if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
            raise FormRefused
        origin = request.headers.get("origin") or request.headers.get("referer")
        if origin is not None and normalise_origin(origin) not in self.origins(request):
            raise FormRefused

    async def render(self, request: Request, template: str, session: Session | None, status: int = 200,
                     **values: Any) -> Response:
        """The page ``template`` rendered in the process's CPU lane (Python work from end to end, as the reads of
        the documents it shows are), its view counted on a worker thread: neither on the event loop."""
        base = str(request.scope.get("root_path", "")).rstrip("/")
        html = await self.context.cpu_lane.run(self._html, template, {
            "base": base, "session": session, "request": request, "kind_labels": KIND_LABELS, **values})
        response = HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)
        if session is not None:
            await run_in_threadpool(self.page_views.count, session.kind, template)
        return response

    def _html(self, template: str, values: dict[str, Any]) -> str:
        return self.env.get_template(template).render(**values)

    def redirect(self, request: Request, path: str) -> Response:
        base = str(request.scope.get("root_path", "")).rstrip("/")
        return RedirectResponse(f"{base}{path}", status_code=303)

    @staticmethod
    def check_csrf(session: Session, form: Any) -> None:
        """The form carries the session's CSRF token, or :class:`FormRefused` (the session stays)."""
        sent = form.get("csrf")
        if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), session.csrf.encode()):
            raise FormRefused

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
        status = refused.status if refused.status < 500 else 502
        return await self.render(request, "refused.html", session, status=status, cpr=cpr, refused=refused,
                                 citizen=(await self.names()).get(cpr))


def valid_cpr(cpr: str) -> None:
    """A citizen page's CPR in the path must be a CPR number; anything else is no page (404). The
    session stays: a link from another site must not be able to sign anyone out."""
    if not is_cpr(cpr):
        raise PageNotFound


def citizen_only(session: Session) -> None:
    """Min Spærring's forms are the citizen's (or a relative's) own: a professional is signed out."""
    if session.is_professional:
        raise SignedOut
