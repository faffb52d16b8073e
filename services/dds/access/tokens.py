"""Who is calling DDS: the bearer token, verified against the STS's JWKS fetched from NSP over HTTP."""

from __future__ import annotations

from typing import Any

from nsp_sandbox.clock import Clock
from nsp_sandbox.peers import Peers
from nsp_sandbox.tokens import Principal, audience, bearer_token, key_id, verify
from services.dds.access.nsp import nsp_unavailable


class TokenVerifier:
    """Verifies tokens for audience ``dds``; the JWKS is cached and re-fetched for an unknown key id."""

    def __init__(self, peers: Peers, clock: Clock) -> None:
        self.peers = peers
        self.clock = clock
        self._jwks: dict[str, Any] | None = None

    async def _fetch(self) -> dict[str, Any]:
        try:
            response = await self.peers.client("nsp").get(f"{self.peers.url('nsp')}/sts/jwks")
        except Exception as exc:  # any transport failure: NSP cannot be reached
            raise nsp_unavailable(f"the STS keys could not be fetched ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise nsp_unavailable(f"the STS keys answered HTTP {response.status_code}")
        self._jwks = response.json()
        return self._jwks

    async def principal(self, authorization: str | None) -> Principal:
        token = bearer_token(authorization)
        kid = key_id(token)
        jwks = self._jwks or await self._fetch()
        if kid not in {k.get("kid") for k in jwks.get("keys", [])}:
            jwks = await self._fetch()
        return verify(token, jwks, audience("dds"), self.clock.now())
