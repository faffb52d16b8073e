"""The viewer's NSP: personas (the sign-in chooser), STS tokens, Min Log and Min Spærring — the last
two always with the signed-in person's own token — through the platform's NSP client."""

from __future__ import annotations

import time
from typing import Any

import httpx2 as httpx
import jwt

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.nsp_client import NspClient
from services.sundhed_view.dds import Refused, _outcome

AUDIENCES = ["dds", "nsp", "view"]


def _refused(why: str, response: httpx.Response | None) -> Refused:
    if response is None:
        return Refused(503, None, f"NSP could not be reached: {why}")
    return Refused(response.status_code, _outcome(response), f"NSP: {why}")


class Nsp:
    def __init__(self, context: SandboxContext) -> None:
        self.context = context
        self.client = NspClient(context.peers, context.clock, persona=None, on_failure=_refused)
        self._personas: tuple[float, list[dict[str, Any]]] | None = None

    async def personas(self, fresh: bool = False) -> list[dict[str, Any]]:
        """Everyone who can sign in (citizens, relatives, professionals, assistants), cached for a minute
        (``fresh``: asked again now)."""
        now = time.monotonic()
        if fresh or self._personas is None or now - self._personas[0] > 60:
            found = await self.client.personas()
            self._personas = (now, [p for p in found if p.get("kind") != "system"])
        return self._personas[1]

    async def persona(self, persona_id: str) -> dict[str, Any] | None:
        """The persona ``persona_id``; one not in the cached list is asked for again, so a persona a world file
        added (in this process or another worker) can sign in at once."""
        found = next((p for p in await self.personas() if p["id"] == persona_id), None)
        if found is None:
            found = next((p for p in await self.personas(fresh=True) if p["id"] == persona_id), None)
        return found

    async def token(self, persona_id: str) -> tuple[str, float]:
        """A token for the persona (audiences DDS, NSP and the viewer) and when it expires (epoch)."""
        answer = await self.client.token_for(persona_id, AUDIENCES)
        token = str(answer["access_token"])
        claims = jwt.decode(token, options={"verify_signature": False})
        return token, float(claims["exp"])

    async def minlog(self, token: str, cpr: str | None) -> list[dict[str, Any]]:
        return await self.client.minlog(cpr, as_=token)

    async def blocks(self, token: str, cpr: str) -> list[dict[str, Any]]:
        return await self.client.blocks(cpr, as_=token)

    async def add_block(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self.client.add_block(body, as_=token)

    async def revoke_block(self, token: str, block_id: str) -> dict[str, Any]:
        return await self.client.revoke_block(block_id, as_=token)

    async def organisation(self, sor: str) -> dict[str, Any] | None:
        try:
            return await self.client.organisation(sor)
        except Refused:
            return None
