"""NSP — the national service platform's services the sandbox needs, mounted at ``/nsp``:

* ``GET  /personas``                  everyone who can get a token (citizens, relatives, professionals, systems)
* ``POST /sts/token``                 STS: a signed token for ``{"persona": id}`` (``GET /sts/jwks``: the keys)
* ``POST /sts/idcard``                STS: a signed DGWS ID card (XML) for ``{"persona": id}``
* ``POST /sts/services/NewSecurityTokenService``  STS: WS-Trust, an ID card for a request signed by the caller
* ``GET  /sts/certificate``           the certificate the STS signs ID cards with (PEM)
* ``GET  /organisations/{sor}``       the SOR register: an organisation, its parents and sub-units
* ``GET  /persons/{cpr}``             the CPR register (systems and professionals)
* ``POST|GET /consent/blocks``        Min Spærring; ``POST /consent/blocks/{id}/revoke``
* ``POST|GET /brs/relations``         BRS treatment relations
* ``GET  /minlog``                    Min Log for a citizen (or someone acting for them)
* ``POST /minlog/entries``            Min Log's write face, for systems (DDS logs look-ups here)

Every face but personas, token, JWKS and organisations needs a token with audience ``nsp``.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI
from starlette.concurrency import run_in_threadpool

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.fastapi_telemetry import telemetry_options
from nsp_sandbox.fhir_http import install_error_handlers
from services.nsp import dgws_sts, keys, schema
from services.nsp.brs import TreatmentRelations
from services.nsp.consent import Consent
from services.nsp.minlog import MinLog
from services.nsp.models import NspBase
from services.nsp.routes import brs, consent, minlog, registers, sandbox, sts
from services.nsp.routes.platform import Platform
from services.nsp.world import World, shipped_world
from services.nsp.world_additions import LiveWorld


def create_app(context: SandboxContext, world: World | None = None) -> FastAPI:
    """The NSP actor over ``context`` (tables created and the signing key made here if missing)."""
    context.database.create_tables(NspBase.metadata, upgrade=schema.upgrade)
    # The shipped world and the world files loaded since (POST /sandbox/world), followed in every process.
    live = LiveWorld(context.database, world or shipped_world())
    context.followers.append(lambda: live.refresh(force=True))
    world = live.world
    key = keys.load_or_create(context.database, context.clock.now())
    nsp = Platform(world, key, context.clock, TreatmentRelations(context.database, world),
                   tuple(context.settings.nsp_pseudonymised_cvrs))

    async def follow_world() -> None:
        """Every request sees the world files loaded by any process: the table is read in a worker thread,
        at most every REFRESH_SECONDS; the requests in between (DDS asks NSP at every look-up) make no trip
        to a thread at all, as a plain `def` dependency would."""
        if live.due():
            await run_in_threadpool(live.refresh)

    app = FastAPI(title="NSP platform services", docs_url="/docs", openapi_url="/openapi.json",
                  dependencies=[Depends(follow_world)], **telemetry_options())
    install_error_handlers(app)

    @app.get("/")
    def index() -> dict[str, Any]:
        return {"actor": "NSP", "faces": ["/personas", "/sts/token", "/sts/jwks", "/sts/idcard",
                                          "/sts/services/NewSecurityTokenService", "/organisations/{sor}",
                                          "/persons/{cpr}", "/consent/blocks", "/brs/relations", "/minlog"]}

    app.include_router(sts.router(nsp))
    app.include_router(dgws_sts.router(dgws_sts.DgwsStsDeps(context.database, context.clock, world, nsp.personas)))
    app.include_router(registers.router(nsp))
    blocks = Consent(context.database, world)
    app.include_router(consent.router(nsp, blocks))
    app.include_router(brs.router(nsp))
    app.include_router(minlog.router(nsp, MinLog(context.database, world)))
    app.include_router(sandbox.router(context, live, blocks))  # operator only (docs/control.md)
    return app
