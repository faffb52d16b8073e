"""Who is calling an actor's own face: the bearer token from NSP's STS, verified against the STS's
published keys (fetched over HTTP through the actor's NSP client, cached, fetched again for a key id
it does not know). The EOJ and the GP system use it on their faces; what a verified caller may do
there is each actor's own ``access`` module."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx
from fastapi import Request

from nsp_sandbox.clock import Clock
from nsp_sandbox.nsp_client import NspClient
from nsp_sandbox.outcome import FhirError, Issue
from nsp_sandbox.peers import Peers
from nsp_sandbox.tokens import Principal, audience, bearer_token, key_id, verify

SOURCE = "NSP STS keys (GET /nsp/sts/jwks)"


def keys_unavailable(why: str, _response: httpx.Response | None = None) -> FhirError:
    """503: without NSP's keys no token can be checked, so the call is refused."""
    return FhirError(503, Issue("error", "transient", f"NSP could not be asked, so the token cannot be checked: "
                                f"{why}", rule="nsp-available", source=SOURCE), headers={"Retry-After": "5"})


def route_path(request: Request) -> str | None:
    """The path template of the route ``request`` matched, relative to the actor's app (``/ehmi``):
    what a router-level dependency checks to leave one of the router's faces open."""
    return getattr(request.scope.get("route"), "path", None)


class BearerVerifier:
    """Verifies the tokens for ``actor`` (audience ``urn:nsp-sandbox:<actor>``) on the sandbox clock."""

    def __init__(self, peers: Peers, clock: Clock, actor: str, persona: str | None) -> None:
        self.nsp = NspClient(peers, clock, persona=persona, on_failure=keys_unavailable)
        self._actor = actor
        self._clock = clock
        self._jwks: dict[str, Any] | None = None

    async def principal(self, request: Request) -> Principal:
        """The verified caller; 401 (with ``WWW-Authenticate``) without a valid token for this actor."""
        token = bearer_token(request.headers.get("authorization"))
        kid = key_id(token)
        if self._jwks is None or kid not in {k.get("kid") for k in self._jwks.get("keys", [])}:
            self._jwks = await self.nsp.jwks()
        return verify(token, self._jwks, audience(self._actor), self._clock.now())
