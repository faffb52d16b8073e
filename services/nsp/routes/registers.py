"""The national registers:

* ``GET /organisations/{sor}``  the SOR register: an organisation, its parents and sub-units (no token)
* ``GET /persons/{cpr}``        the CPR register, for systems, professionals and the citizen (or those
                                acting for them); the address only for systems, professionals and the citizen
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request

from nsp_sandbox import openapi_description as oa
from nsp_sandbox.cpr import birth_date, gender
from nsp_sandbox.outcome import FhirError, Issue
from services.nsp.personas import citizen_details
from services.nsp.routes.platform import Platform


def _iso_date(born: date | None) -> str | None:
    return born.isoformat() if born else None


def router(nsp: Platform) -> APIRouter:
    faces = APIRouter()
    world = nsp.world

    # Both registers are read from the world in memory: async endpoints, with no trip to a worker thread
    # (DDS asks for a citizen at every look-up a citizen makes).
    @faces.get("/organisations/{sor}", responses=oa.errors(404))
    async def organisation(sor: str) -> dict[str, Any]:
        found = world.organisations.get(sor)
        if found is None:
            raise FhirError(404, Issue("error", "not-found", f"No organisation with SOR code {sor}",
                                       rule="sor-known"))
        return {"sor": found.sor, "name": found.name, "kind": found.kind, "parent": found.parent,
                "gln": found.gln, "producent_id": found.producent_id,
                "ydernummer": found.ydernummer,
                "ancestors": world.ancestors(sor), "sub_units": world.sub_units(sor)[1:]}

    @faces.get("/persons/{cpr}", responses=oa.errors(401, 403, 404))
    async def person(cpr: str, request: Request) -> dict[str, Any]:
        who = nsp.caller(request)
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

    return faces
