"""Who is calling the hub: a clinic's GP system, or DDS retrieving an on-demand document.

Tokens come from NSP's STS (audience ``plsp``) and are verified against its published keys. The
kind of an IT system (``gp-system``, ``platform``) is NSP's, read from its persona list:

* the LPS → PLSP interface takes a system token of kind ``gp-system``; the clinic is the token's
  organisation (SOR) — a GP system acts only for its own clinic;
* the retrieve endpoint takes a system token of kind ``platform`` (DDS); anyone else gets 403.
"""

from __future__ import annotations

from fastapi import Request

from nsp_sandbox.outcome import FhirError, Issue
from nsp_sandbox.tokens import Principal, audience, bearer_token, key_id, verify
from services.plsp_hub.nsp import HubNsp

SOURCE = "PLSP Health Hub: LPS interface and on-demand retrieval (system ID cards)"


def forbidden(message: str, rule: str) -> FhirError:
    return FhirError(403, Issue("error", "forbidden", message, rule=rule, source=SOURCE))


class Callers:
    def __init__(self, nsp: HubNsp) -> None:
        self.nsp = nsp

    async def principal(self, request: Request) -> Principal:
        token = bearer_token(request.headers.get("authorization"))
        kid = key_id(token)
        jwks = await self.nsp.jwks()
        if kid not in {k.get("kid") for k in jwks.get("keys", [])}:
            jwks = await self.nsp.jwks(refresh=True)
        return verify(token, jwks, audience("plsp"), self.nsp.clock.now())

    async def clinic(self, request: Request) -> Principal:
        """A GP system's token; its organisation is the clinic it acts for."""
        who = await self.principal(request)
        kind = await self.nsp.system_kind(who.persona) if who.is_system else None
        if kind != "gp-system" or not who.organisation_sor:
            raise forbidden(f"{who.name} is not a GP system: the LPS interface takes the system token of a "
                            "clinic's GP system (STS persona of kind gp-system, audience plsp)", "plsp-gp-system")
        return who

    async def platform(self, request: Request) -> Principal:
        """DDS's system token: only DDS retrieves on-demand documents from the hub."""
        who = await self.principal(request)
        kind = await self.nsp.system_kind(who.persona) if who.is_system else None
        if kind != "platform":
            raise forbidden(f"{who.name} is not DDS: on-demand documents are retrieved through DDS, which "
                            "applies the citizen's access rules (ITI-68)", "plsp-retrieve-dds-only")
        return who
