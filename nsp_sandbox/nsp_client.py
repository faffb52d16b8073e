"""The one client every actor reaches NSP with, over HTTP only (``docs/nsp.md``).

NSP answers JSON: the STS (tokens and its JWKS), the persona list, the CPR register (persons), the
SOR register (organisations), Min Spærring (consent blocks), BRS (treatment relations) and Min Log.
Actors differ only in who they speak as and in how they report that NSP could not answer:

* a call made as the actor's own IT system carries its system token (persona, audience ``nsp``),
  fetched from the STS and reused until shortly before it expires (:mod:`nsp_sandbox.system_tokens`);
  a call made for a signed-in person carries that person's token;
* when NSP cannot be reached, answers an unexpected status or unreadable JSON, the client raises
  what the actor's ``on_failure`` hook makes of it: DDS refuses the look-up with 503 (no check, no
  data), the PLSP hub with its own rule, the EOJ with 502, the viewer shows NSP's own answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx2 as httpx

from nsp_sandbox.clock import Clock
from nsp_sandbox.peers import Peers
from nsp_sandbox.system_tokens import StsUnavailable, SystemTokens

# What an actor raises when NSP did not answer: (what went wrong, NSP's response if there was one).
FailureHook = Callable[[str, httpx.Response | None], Exception]
SYSTEM = "system"  # ``as_=SYSTEM``: the call carries the actor's own system token


class NspClient:
    def __init__(self, peers: Peers, clock: Clock, *, persona: str | None, on_failure: FailureHook) -> None:
        self.peers = peers
        self.clock = clock
        self.persona = persona
        self._on_failure = on_failure
        self._sts = SystemTokens(peers, clock)
        self._personas: tuple[float, list[dict[str, Any]]] | None = None

    async def system_token(self, audience: str = "nsp") -> str:
        """The actor's own system token for ``audience``, reused until near its expiry (sandbox clock)."""
        if self.persona is None:
            raise self._on_failure("this actor has no system persona to ask the STS for", None)
        try:
            return await self._sts.token(self.persona, audience)
        except StsUnavailable as exc:
            raise self._on_failure(str(exc), None) from None

    async def call(self, method: str, path: str, *, as_: str | None = None, missing_ok: bool = False,
                   **kwargs: Any) -> Any:
        """NSP's JSON answer to ``method path``. ``as_`` is ``SYSTEM`` (the actor's system token), a
        person's bearer token, or None (no token). A 404 gives None when ``missing_ok``; any other
        non-2xx, a transport failure or an answer that is not JSON goes through ``on_failure``."""
        token = await self.system_token() if as_ == SYSTEM else as_
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = await self.peers.client("nsp").request(method, f"{self.peers.url('nsp')}{path}",
                                                               headers=headers, **kwargs)
        except Exception as exc:  # any transport failure: NSP cannot be reached
            raise self._on_failure(f"{method} {path} failed ({type(exc).__name__})", None) from None
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code >= 300:
            raise self._on_failure(f"{method} {path} answered HTTP {response.status_code}", response)
        try:
            return response.json()
        except ValueError:
            raise self._on_failure(f"{method} {path} answered with something that is not JSON", response) from None

    # -- the registers ---------------------------------------------------------------------------
    async def person(self, cpr: str, *, as_: str | None = SYSTEM) -> dict[str, Any] | None:
        """The CPR register's entry for ``cpr`` (None when unknown)."""
        found = await self.call("GET", f"/persons/{cpr}", as_=as_, missing_ok=True)
        return found if isinstance(found, dict) else None

    async def organisation(self, sor: str) -> dict[str, Any] | None:
        """The SOR register's entry for ``sor`` (None when unknown)."""
        found = await self.call("GET", f"/organisations/{sor}", missing_ok=True)
        return found if isinstance(found, dict) else None

    async def personas(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Who one can be in the sandbox (citizens, relatives, professionals, systems), optionally of one kind."""
        found = await self.call("GET", "/personas", params={"kind": kind} if kind else None)
        return [p for p in found if isinstance(p, dict)] if isinstance(found, list) else []

    async def recent_personas(self, max_age: float = 0.5) -> list[dict[str, Any]]:
        """:meth:`personas`, the list kept for ``max_age`` seconds: a world file loaded into NSP is followed
        within that, as every NSP process follows one (``services.nsp.world_additions``)."""
        now = time.monotonic()
        if self._personas is None or now - self._personas[0] > max_age:
            self._personas = (now, await self.personas())
        return self._personas[1]

    # -- the STS ---------------------------------------------------------------------------------
    async def jwks(self) -> dict[str, Any]:
        """The STS's public keys, to verify tokens with."""
        return dict(await self.call("GET", "/sts/jwks"))

    async def token_for(self, persona: str, audience: str | list[str]) -> dict[str, Any]:
        """The STS's answer (``access_token``, ``expires_in``) for ``persona`` and ``audience``."""
        return dict(await self.call("POST", "/sts/token", json={"persona": persona, "audience": audience}))

    # -- Min Spærring, BRS, Min Log --------------------------------------------------------------
    async def blocks(self, cpr: str, *, as_: str | None = SYSTEM) -> list[dict[str, Any]]:
        return list(await self.call("GET", "/consent/blocks", as_=as_, params={"cpr": cpr}) or [])

    async def add_block(self, body: dict[str, Any], *, as_: str) -> dict[str, Any]:
        return dict(await self.call("POST", "/consent/blocks", as_=as_, json=body))

    async def revoke_block(self, block_id: str, *, as_: str) -> dict[str, Any]:
        return dict(await self.call("POST", f"/consent/blocks/{block_id}/revoke", as_=as_))

    async def relations(self, authorisation: str, cpr: str) -> list[dict[str, Any]]:
        return list(await self.call("GET", "/brs/relations", as_=SYSTEM,
                                    params={"authorisation": authorisation, "cpr": cpr}) or [])

    async def write_minlog(self, entry: dict[str, Any]) -> None:
        await self.call("POST", "/minlog/entries", as_=SYSTEM, json=entry)

    async def minlog(self, cpr: str | None, *, as_: str) -> list[dict[str, Any]]:
        return list(await self.call("GET", "/minlog", as_=as_, params={"cpr": cpr} if cpr else None) or [])
