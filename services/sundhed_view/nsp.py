"""The viewer's client for NSP over HTTP: personas (the sign-in chooser), STS tokens, Min Log and
Min Spærring — the last two always with the signed-in person's own token."""

from __future__ import annotations

import time
from typing import Any

import httpx2 as httpx
import jwt

from nsp_sandbox.context import SandboxContext
from services.sundhed_view.dds import Refused, _outcome

AUDIENCES = ["dds", "nsp", "view"]


class Nsp:
    def __init__(self, context: SandboxContext) -> None:
        self.context = context
        self._personas: tuple[float, list[dict[str, Any]]] | None = None

    def _url(self, path: str) -> str:
        return f"{self.context.peers.url('nsp')}{path}"

    async def _call(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = await self.context.peers.client("nsp").request(method, self._url(path), headers=headers,
                                                                        **kwargs)
        except httpx.HTTPError as exc:
            raise Refused(503, None, f"NSP could not be reached ({type(exc).__name__})") from None
        if response.status_code >= 300:
            raise Refused(response.status_code, _outcome(response), f"NSP {path}")
        return response.json()

    async def personas(self) -> list[dict[str, Any]]:
        """Everyone who can sign in (citizens, relatives, professionals), cached for a minute."""
        now = time.monotonic()
        if self._personas is None or now - self._personas[0] > 60:
            found = await self._call("GET", "/personas")
            self._personas = (now, [p for p in found if p.get("kind") != "system"])
        return self._personas[1]

    async def persona(self, persona_id: str) -> dict[str, Any] | None:
        return next((p for p in await self.personas() if p["id"] == persona_id), None)

    async def token(self, persona_id: str) -> tuple[str, float]:
        """A token for the persona (audiences DDS, NSP and the viewer) and when it expires (epoch)."""
        answer = await self._call("POST", "/sts/token", json={"persona": persona_id, "audience": AUDIENCES})
        token = str(answer["access_token"])
        claims = jwt.decode(token, options={"verify_signature": False})
        return token, float(claims["exp"])

    async def minlog(self, token: str, cpr: str | None) -> list[dict[str, Any]]:
        return list(await self._call("GET", "/minlog", token, params={"cpr": cpr} if cpr else None))

    async def blocks(self, token: str, cpr: str) -> list[dict[str, Any]]:
        return list(await self._call("GET", "/consent/blocks", token, params={"cpr": cpr}))

    async def add_block(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        return dict(await self._call("POST", "/consent/blocks", token, json=body))

    async def revoke_block(self, token: str, block_id: str) -> dict[str, Any]:
        return dict(await self._call("POST", f"/consent/blocks/{block_id}/revoke", token))

    async def organisation(self, sor: str) -> dict[str, Any] | None:
        try:
            return dict(await self._call("GET", f"/organisations/{sor}"))
        except Refused:
            return None
