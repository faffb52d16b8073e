"""Sundhed.dk — what citizens, relatives and health professionals see, mounted at ``/view``.

Server-rendered Danish pages (``pages``) and the same data as JSON (``api``). Documents are read
only through DDS (ITI-67/68) with the signed-in person's own token, so every DDS access rule
applies (own data, fuldmagt, custody, treatment relation, Min Spærring, værdispring, Min Log);
Min Log and Min Spærring are NSP's. Every document is validated before it is shown. New documents
are read ahead of any page when DDS notifies of them (IHE DSUBm, ``prefetch``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from nsp_sandbox import openapi_description as oa
from nsp_sandbox.actor_reset import reset_router
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.fastapi_telemetry import telemetry_options
from nsp_sandbox.fhir_http import install_error_handlers
from services.sundhed_view import api, pages
from services.sundhed_view.dds import Refused
from services.sundhed_view.models import ViewBase
from services.sundhed_view.nsp import Nsp
from services.sundhed_view.prefetch import Prefetch
from services.sundhed_view.prefetch import router as dsubm_router
from services.sundhed_view.site import FormRefused, PageNotFound, Pages, SignedOut
from services.sundhed_view.views import Views

STATIC = Path(__file__).parent / "static"
# A page answers a refusal as a page; a signed-out visitor, or a form done, is sent on (303).
PAGE = {"text/html": {"type": "string"}}
PAGE_ANSWERS: dict[int | str, dict[str, Any]] = {
    303: {"description": "See Other: signed out, or the form is done"},
    **{status: oa.answer(phrase, PAGE)[200] for status, phrase in (
        (403, "Forbidden: another site's form, or not this visitor's"),
        (502, "Bad Gateway: NSP or DDS failed"))},
    404: oa.answer("Not Found (a page, or an OperationOutcome for a URL with a line break, which no route takes)",
                   {**PAGE, oa.FHIR_JSON: oa.OUTCOME_REF})[200],
    400: oa.answer("Bad Request (a page, or an OperationOutcome for a URL with control characters)",
                   {**PAGE, oa.FHIR_JSON: oa.OUTCOME_REF})[200]}


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(str(request.scope.get("root_path", "")).rstrip("/") + "/api/")


def create_app(context: SandboxContext) -> FastAPI:
    app = FastAPI(title="Sundhed.dk (sandbox viewer)", docs_url="/docs", openapi_url="/openapi.json",
                  **telemetry_options())
    install_error_handlers(app)
    views = Views(context)
    nsp = Nsp(context)
    site = Pages(context, views, nsp)
    app.state.views = views
    # DSUBm: DDS notifies the viewer of new documents, which it reads before anyone looks (prefetch).
    prefetch = app.state.prefetch = Prefetch(context, views.documents)
    prefetch.start()

    @app.exception_handler(SignedOut)
    async def _signed_out(request: Request, _exc: SignedOut) -> Response:
        base = str(request.scope.get("root_path", "")).rstrip("/")
        response = RedirectResponse(f"{base}/", status_code=303)
        site.clear_cookie(request, response)
        ended = await run_in_threadpool(site.current, request)
        if ended is not None:
            await run_in_threadpool(site.sessions.end, ended)
        return response

    @app.exception_handler(FormRefused)
    async def _form_refused(request: Request, _exc: FormRefused) -> Response:
        """Another site's form, or one without its CSRF token: refused; whoever is signed in stays so."""
        return await site.render(request, "form_refused.html", None, status=403)

    @app.exception_handler(PageNotFound)
    async def _not_found(request: Request, _exc: PageNotFound) -> Response:
        return await site.render(request, "not_found.html", await run_in_threadpool(site.current, request), status=404)

    fhir_http_error = app.exception_handlers[StarletteHTTPException]

    @app.exception_handler(StarletteHTTPException)
    async def _no_such_path(request: Request, exc: StarletteHTTPException) -> Response:
        """A path the site does not have is a page saying so, as any other missing page; the JSON API
        (``/api/…``) answers an OperationOutcome as before."""
        if exc.status_code == 404 and not _is_api(request):
            signed_in = await run_in_threadpool(site.current, request)
            return await site.render(request, "not_found.html", signed_in, status=404)
        return await fhir_http_error(request, exc)  # type: ignore[no-any-return]

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> Response:
        """NSP or DDS failed outside a page's own handling (e.g. the persona list): say so, never a 500."""
        status = exc.status if 400 <= exc.status < 500 else 502
        if _is_api(request):
            return api.refused_response(exc)
        return await site.render(request, "refused.html", None, status=status, cpr="", refused=exc, citizen=None)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(api.router(views, nsp), responses=oa.errors(401, 403, 404, 502, 503))
    app.include_router(dsubm_router(prefetch))
    app.include_router(pages.router(site), dependencies=[Depends(site.check_origin)], responses=PAGE_ANSWERS)
    app.include_router(reset_router("view", context.database, [ViewBase.metadata], context.settings))
    return app
