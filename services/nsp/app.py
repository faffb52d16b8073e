"""NSP — the national service platform's services the sandbox needs, mounted at ``/nsp``:

* ``GET  /personas``                  everyone who can get a token (citizens, relatives, professionals, systems)
* ``POST /sts/token``                 STS: a signed token for ``{"persona": id}`` (``GET /sts/jwks``: the keys)
* ``GET  /organisations/{sor}``       the SOR register: an organisation, its parents and sub-units
* ``GET  /persons/{cpr}``             the CPR register (systems and professionals)
* ``POST|GET /consent/blocks``        Min Spærring; ``POST /consent/blocks/{id}/revoke``
* ``POST|GET /brs/relations``         BRS treatment relations
* ``GET  /minlog``                    Min Log for a citizen (or someone acting for them)
* ``POST /minlog/entries``            Min Log's write face, for systems (DDS logs look-ups here)

Every face but personas, token, JWKS and organisations needs a token with audience ``nsp``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.cpr import birth_date, gender
from nsp_sandbox.fhir_http import install_error_handlers, read_json_object
from nsp_sandbox.outcome import FhirError, Issue
from nsp_sandbox.tokens import Principal, audience, bearer_token, verify
from services.nsp import keys, sts
from services.nsp.brs import TreatmentRelations
from services.nsp.consent import Consent
from services.nsp.minlog import MinLog
from services.nsp.models import NspBase
from services.nsp.personas import citizen_details, personas
from services.nsp.world import World, shipped_world

MAX_BODY = 64 * 1024


def create_app(context: SandboxContext, world: World | None = None) -> FastAPI:
    """The NSP actor over ``context`` (tables created and the signing key made here if missing)."""
    world = world or shipped_world()
    context.database.create_tables(NspBase.metadata)
    key = keys.load_or_create(context.database, context.clock.now())
    consent = Consent(context.database, world)
    relations = TreatmentRelations(context.database, world)
    minlog = MinLog(context.database)
    clock = context.clock

    app = FastAPI(title="NSP platform services", docs_url="/docs", openapi_url="/openapi.json")
    install_error_handlers(app)

    def caller(request: Request) -> Principal:
        return verify(bearer_token(request.headers.get("authorization")), key.jwks(), audience("nsp"), clock.now())

    def all_personas() -> list[Any]:
        return personas(world, clock.now(), relations.added_by_professional(clock.now()))

    @app.get("/")
    def index() -> dict[str, Any]:
        return {"actor": "NSP", "faces": ["/personas", "/sts/token", "/sts/jwks", "/organisations/{sor}",
                                          "/persons/{cpr}", "/consent/blocks", "/brs/relations", "/minlog"]}

    @app.get("/personas")
    def list_personas(kind: str | None = None) -> list[dict[str, Any]]:
        return [p.to_json(world) for p in all_personas() if kind in (None, p.kind)]

    @app.post("/sts/token")
    async def token(request: Request) -> JSONResponse:
        body = await read_json_object(request, MAX_BODY)
        persona_id = body.get("persona")
        if not isinstance(persona_id, str):
            raise FhirError(400, Issue("error", "required", "Send {\"persona\": \"<id>\"}", expression="persona",
                                       rule="sts-persona", source=sts.SOURCE))
        found = next((p for p in all_personas() if p.id == persona_id), None)
        answer = sts.issue(key, world, found, persona_id, body.get("audience"), clock.now())
        return JSONResponse(answer, headers={"Cache-Control": "no-store"})

    @app.get("/sts/jwks")
    def jwks() -> dict[str, Any]:
        return key.jwks()

    @app.get("/organisations/{sor}")
    def organisation(sor: str) -> dict[str, Any]:
        found = world.organisations.get(sor)
        if found is None:
            raise FhirError(404, Issue("error", "not-found", f"No organisation with SOR code {sor}",
                                       rule="sor-known"))
        return {"sor": found.sor, "name": found.name, "kind": found.kind, "parent": found.parent,
                "gln": found.gln, "producent_id": found.producent_id,
                "ydernummer": found.ydernummer,
                "ancestors": world.ancestors(sor), "sub_units": world.sub_units(sor)[1:]}

    @app.get("/persons/{cpr}")
    def person(cpr: str, request: Request) -> dict[str, Any]:
        who = caller(request)
        if not (who.is_system or who.is_professional or cpr in who.citizens_represented()):
            raise FhirError(403, Issue("error", "forbidden", "The CPR register answers systems, professionals "
                                       "and the citizen (or those acting for them)", rule="cpr-lookup"))
        citizen = world.citizens.get(cpr)
        if citizen is None:
            raise FhirError(404, Issue("error", "not-found", f"No citizen with CPR {cpr}", rule="cpr-known"))
        authority = who.is_system or who.is_professional or who.acting_cpr == cpr
        given, _, family = citizen.name.rpartition(" ")
        return {"cpr": cpr, "name": citizen.name, "given": given.split(), "family": family,
                "gender": gender(cpr), "birth_date": _iso_date(birth_date(cpr)),
                **citizen_details(world, cpr, show_address=authority)}

    def represented(who: Principal, cpr: Any) -> str:
        """The citizen a citizen user acts as: ``cpr`` if given (own or acted for), else their own."""
        if not who.is_citizen:
            raise FhirError(403, Issue("error", "forbidden", "Min Spærring and Min Log are for citizens and "
                                       "those acting for them", rule="citizen-self-service"))
        allowed = who.citizens_represented()
        wanted = cpr if cpr is not None else (who.acting_cpr if not who.acts_for or who.kind == "citizen"
                                              else who.acts_for[0])
        if wanted not in allowed:
            raise FhirError(403, Issue("error", "forbidden", f"You do not act for CPR {wanted}",
                                       rule="acts-for"))
        return str(wanted)

    @app.post("/consent/blocks", status_code=201)
    async def add_block(request: Request) -> dict[str, Any]:
        who = caller(request)
        body = await read_json_object(request, MAX_BODY)
        return consent.add(represented(who, body.get("cpr")), body, who.persona, clock.now())

    @app.get("/consent/blocks")
    def list_blocks(request: Request, cpr: str | None = None) -> list[dict[str, Any]]:
        who = caller(request)
        if who.is_system:
            if cpr is None:
                raise FhirError(400, Issue("error", "required", "A system names the citizen: ?cpr=",
                                           expression="cpr", rule="consent-lookup"))
            return consent.blocks([cpr], clock.now())
        return consent.blocks([represented(who, cpr)], clock.now())

    @app.post("/consent/blocks/{block_id}/revoke")
    def revoke_block(block_id: str, request: Request) -> dict[str, Any]:
        who = caller(request)
        represented(who, None)
        return consent.revoke(block_id, who.citizens_represented(), who.persona, clock.now())

    @app.post("/brs/relations", status_code=201)
    async def add_relation(request: Request) -> dict[str, Any]:
        who = caller(request)
        body = await read_json_object(request, MAX_BODY)
        if not who.is_system:
            if not who.is_professional:
                raise FhirError(403, Issue("error", "forbidden", "Treatment relations are registered by "
                                           "health-care systems or the professional", rule="brs-register"))
            body = {**body, "authorisation": who.authorisation, "professional": None}
        return relations.add(body, who.persona, clock.now())

    @app.get("/brs/relations")
    def find_relations(request: Request, authorisation: str | None = None,
                       cpr: str | None = None) -> list[dict[str, Any]]:
        who = caller(request)
        if not who.is_system:
            if not who.is_professional:
                raise FhirError(403, Issue("error", "forbidden", "BRS answers systems and professionals",
                                           rule="brs-lookup"))
            authorisation = who.authorisation
        return relations.find(authorisation, cpr, clock.now())

    @app.get("/minlog")
    def read_minlog(request: Request, cpr: str | None = None) -> list[dict[str, Any]]:
        who = caller(request)
        return minlog.entries([represented(who, cpr)], clock.now())

    @app.post("/minlog/entries", status_code=201)
    async def write_minlog(request: Request) -> dict[str, Any]:
        who = caller(request)
        if not who.is_system:
            raise FhirError(403, Issue("error", "forbidden", "Only systems write to Min Log",
                                       rule="minlog-writer"))
        return minlog.write(await read_json_object(request, MAX_BODY), who.system_name or who.name, clock.now())

    return app


def _iso_date(born: date | None) -> str | None:
    return born.isoformat() if born else None
