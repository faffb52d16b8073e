"""STS — the security token service: a signed token for a persona, modelling the DGWS ID card and
HSUID header (see ``nsp_sandbox.tokens`` for the claim mapping). Personal users (citizens,
relatives, professionals, assistants) get assurance level 4 (MOCES/MitID), systems level 3
(VOCES/FOCES). A citizen's token lists the CVR numbers whose staff Min Log shows pseudonymised
("sløring", from the setting ``nsp_pseudonymised_cvrs``); an assistant's names the responsible
professional (``responsible``: their authorisation id)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from nsp_sandbox.outcome import FhirError, Issue
from nsp_sandbox.tokens import ISSUER, audience
from services.nsp.keys import SigningKey
from services.nsp.personas import Persona
from services.nsp.world import World

TOKEN_LIFETIME_SECONDS = 600
DEFAULT_AUDIENCES = ("dds", "nsp")
KNOWN_AUDIENCES = frozenset({"dds", "nsp", "plsp", "eoj", "lps", "view", "conformance"})
SOURCE = "NSP STS (DGWS 1.0.1 ID card, HSUID 1.1)"


def claims_for(persona: Persona, world: World, audiences: list[str], now: datetime,
               pseudonymised_cvrs: tuple[str, ...] = ()) -> dict[str, Any]:
    issued = int(now.timestamp())
    claims: dict[str, Any] = {
        "iss": ISSUER, "sub": persona.id, "aud": [audience(a) for a in audiences],
        "iat": issued, "nbf": issued, "exp": issued + TOKEN_LIFETIME_SECONDS, "jti": str(uuid.uuid4()),
        "persona_kind": persona.kind, "name": persona.name,
    }
    if persona.kind == "system":
        system = world.systems[persona.id]
        claims.update(id_card_type="system", assurance_level=3, user_type=None, system_name=system.name)
        if system.rights:
            claims["rights"] = list(system.rights)
    else:
        claims.update(id_card_type="user", assurance_level=4, system_name="nsp-sandbox persona")
    if persona.kind in ("citizen", "relative"):
        claims.update(user_type="nsi:Citizen", acting_cpr=persona.cpr, acts_for=list(persona.acts_for),
                      citizen_user_relation="nsi:Citizen" if persona.kind == "citizen" else "nsi:Representative",
                      pseudonymised_cvrs=list(pseudonymised_cvrs))
    if persona.kind == "relative":
        claims.update(acting_as=dict(persona.extra.get("acting_as") or {}),
                      fuldmagt_scopes=dict(persona.extra.get("power_of_attorney_scopes") or {}))
    if persona.kind == "professional":
        claims.update(user_type="nsi:HealthcareProfessional", acting_cpr=world.professionals[persona.id].cpr,
                      authorisation=persona.authorisation, role=persona.role)
    if persona.kind == "assistant":  # HSUID: acting user ≠ responsible user
        claims.update(user_type="nsi:HealthcareProfessional", acting_cpr=world.assistants[persona.id].cpr,
                      role=persona.role, responsible=persona.extra["responsible"],
                      responsible_name=persona.extra["responsible_name"])
    if persona.organisation:
        claims["organisation"] = {"sor": persona.organisation,
                                  "name": world.organisations[persona.organisation].name}
    return claims


def issue(key: SigningKey, world: World, persona: Persona | None, persona_id: str, requested: Any,
          now: datetime, pseudonymised_cvrs: tuple[str, ...] = ()) -> dict[str, Any]:
    """The token response for ``persona``; 404 for an unknown persona, 403 for a deceased citizen."""
    if persona is None:
        raise FhirError(404, Issue("error", "not-found", f"No persona '{persona_id}' (see GET /nsp/personas)",
                                   expression="persona", rule="sts-known-persona", source=SOURCE))
    if persona.cpr and (citizen := world.citizens.get(persona.cpr)) and citizen.deceased \
            and citizen.deceased <= now.date():
        raise FhirError(403, Issue("error", "forbidden", f"{persona.name} died on {citizen.deceased.isoformat()}; "
                                   "no token is issued", rule="sts-living-citizen", source=SOURCE))
    audiences = _audiences(requested)
    token = key.sign(claims_for(persona, world, audiences, now, pseudonymised_cvrs))
    return {"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME_SECONDS}


def _audiences(requested: Any) -> list[str]:
    if requested is None:
        return list(DEFAULT_AUDIENCES)
    values = [requested] if isinstance(requested, str) else requested
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise FhirError(400, Issue("error", "invalid", "'audience' is an actor name or a list of them",
                                   expression="audience", rule="sts-audience", source=SOURCE))
    unknown = sorted(set(values) - KNOWN_AUDIENCES)
    if unknown:
        raise FhirError(400, Issue("error", "invalid", f"Unknown audience {', '.join(unknown)}; known: "
                                   f"{', '.join(sorted(KNOWN_AUDIENCES))}", expression="audience",
                                   rule="sts-audience", source=SOURCE))
    return values
