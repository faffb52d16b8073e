"""One process, one origin: every built actor mounted under its prefix (:mod:`sandbox.root_app`), and a landing
page."""

from __future__ import annotations

import base64
import hashlib
import html
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from nsp_sandbox import __version__
from nsp_sandbox import fastapi_telemetry as telemetry
from nsp_sandbox.clock_store import DatabaseClockStore
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.fault_middleware import FaultInjection
from nsp_sandbox.faults import FaultSwitches
from nsp_sandbox.fhir_http import install_error_handlers
from nsp_sandbox.security_headers import SecurityHeaders
from sandbox import openapi_merged
from sandbox.actors import ACTORS, Actor
from sandbox.control.app import create_app as control_app
from sandbox.lazy_actor import LazyActor
from sandbox.readiness import Readiness
from sandbox.root_app import SandboxApp
from sandbox.start_steps import freeze_long_lived

LANDING_STYLE = ("body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}"
                 "table{border-collapse:collapse}"
                 "td,th{padding:.4rem .8rem;border-bottom:1px solid #ddd;text-align:left}")
# The landing page's one inline stylesheet, allowed by its hash (CSP level 2) and nothing else.
LANDING_POLICY = ("default-src 'none'; style-src 'sha256-"
                  + base64.b64encode(hashlib.sha256(LANDING_STYLE.encode()).digest()).decode()
                  + "'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


def _mount_actors(app: FastAPI, context: SandboxContext, switches: FaultSwitches, only: set[str] | None,
                  lazy: bool) -> list[Actor]:
    """Mount every built actor (or those in ``only``) and the control face; built now, or at their first
    request with ``lazy``. Answers the actors mounted."""
    mounted: list[Actor] = []
    for actor in ACTORS:
        if only is not None and actor.name not in only:
            continue
        factory = actor.factory()
        if factory is None:
            continue

        def build(factory: Callable[[SandboxContext], FastAPI] = factory, name: str = actor.name) -> FastAPI:
            actor_app = factory(context)
            # Every actor's fault switches (GET /sandbox/faults), from the one store in the database.
            actor_app.add_middleware(FaultInjection, switches=switches, actor=name)
            return actor_app

        app.mount(actor.prefix, LazyActor(build) if lazy else build())
        mounted.append(actor)
    # The control face, in every process (the clock is shared).
    app.mount("/sandbox", LazyActor(lambda: control_app(context)) if lazy else control_app(context))
    return mounted


def create_sandbox_app(context: SandboxContext | None = None, *, warm_packages: bool = True,
                       only: set[str] | None = None, seeding: bool = False, lazy_actors: bool = False) -> FastAPI:
    """The sandbox as one ASGI app; ``only`` limits it to some actors (by name, e.g. ``{"dds"}``).

    It is ready (``GET /health`` 200) once the FHIR packages are loaded and, with ``seeding``, once the
    caller has put the demo data in and called ``app.state.readiness.ready()``. With ``lazy_actors`` each
    actor (and the control face) is built at the first request to its prefix (:mod:`sandbox.lazy_actor`:
    the test suite's sandbox), else all of them now."""
    context = context or SandboxContext.from_settings()
    # One clock for the whole sandbox: every process on this database follows PUT /sandbox/clock.
    context.clock.share(DatabaseClockStore(context.database))
    switches = FaultSwitches.of(context.database, context.clock)
    context.followers += [context.clock.follow, switches.follow]
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        context.stop_background()  # e.g. DDS's notification sender, the viewer's subscribing

    app = SandboxApp(title="nsp-sandbox", version=__version__, docs_url="/docs", lifespan=lifespan,
                     traced=telemetry.configured(), **telemetry.telemetry_options())
    app.state.context = context
    app.add_middleware(SecurityHeaders)
    mounted = app.state.actors = _mount_actors(app, context, switches, only, lazy_actors)
    install_error_handlers(app)  # a path no actor serves: 404 OperationOutcome, as inside every actor
    openapi_merged.install(app)  # GET /openapi.json: every actor's description under its prefix
    context.peers.attach(app)

    readiness = app.state.readiness = Readiness()

    def load_packages() -> None:
        context.packages  # noqa: B018 (loads them)
        if warm_packages:  # a server (up, its workers, uvicorn --factory): built, before it says so
            freeze_long_lived()
        if seeding:
            readiness.seeding()
        else:
            readiness.ready()

    if warm_packages:
        # Load the FHIR packages in the background: the server answers at once (503 "starting").
        threading.Thread(target=load_packages, name="warm-packages", daemon=True).start()
    else:
        load_packages()

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def landing(request: Request) -> HTMLResponse:
        base = str(request.base_url).rstrip("/")
        rows = "\n".join(
            f'<tr><td><a href="{html.escape(base + a.prefix + a.entry)}">{html.escape(a.title)}</a></td>'
            f"<td><code>{html.escape(a.prefix)}</code></td><td>{html.escape(a.summary)}</td></tr>"
            for a in mounted
        )
        page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>nsp-sandbox</title>
<style>{LANDING_STYLE}</style>
</head><body>
<h1>nsp-sandbox {__version__}</h1>
<p>A runnable sandbox of the Danish national health-data sharing infrastructure.</p>
<table><thead><tr><th>Actor</th><th>Path</th><th>What it does</th></tr></thead>
<tbody>
{rows}
</tbody></table>
</body></html>"""
        return HTMLResponse(page, headers={"Content-Security-Policy": LANDING_POLICY})

    @app.get("/health", include_in_schema=False)
    def health() -> JSONResponse:
        """200 ``ready``; 503 ``starting`` / ``seeding`` / ``degraded`` (with what is missing)."""
        status = readiness.current()
        body = {**readiness.to_json(), "actors": [a.prefix for a in mounted]}
        return JSONResponse(body, status_code=200 if status == "ready" else 503)

    return app
