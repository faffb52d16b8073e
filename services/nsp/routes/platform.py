"""What every NSP face shares: the world, the signing key, the clock, and who is calling.

Every face but personas, token, JWKS and organisations needs a token with audience ``nsp``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request

from nsp_sandbox.clock import Clock
from nsp_sandbox.outcome import FhirError, Issue
from nsp_sandbox.tokens import Principal, audience, bearer_token, verify
from services.nsp.brs import TreatmentRelations
from services.nsp.keys import SigningKey
from services.nsp.personas import Persona, personas
from services.nsp.world import World

MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class Platform:
    """The NSP actor's state as its faces see it."""

    world: World
    key: SigningKey
    clock: Clock
    relations: TreatmentRelations
    pseudonymised_cvrs: tuple[str, ...] = ()  # CVRs whose staff citizens' tokens ask to see pseudonymised

    def caller(self, request: Request) -> Principal:
        """The verified bearer token of ``request`` (audience ``nsp``); 401 otherwise."""
        return verify(bearer_token(request.headers.get("authorization")), self.key.jwks(), audience("nsp"),
                      self.clock.now())

    def personas(self) -> list[Persona]:
        """Everyone who can get a token now, with the relations professionals registered themselves."""
        now = self.clock.now()
        return personas(self.world, now, self.relations.added_by_professional(now))


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
