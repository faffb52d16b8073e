"""DDS's client for NSP, over HTTP only: consent blocks, treatment relations, persons, Min Log.

DDS acts towards NSP with its own system token (persona ``settings.dds_nsp_persona``, audience
``nsp``), fetched from the STS and reused until shortly before it expires. When NSP cannot answer,
the look-up is refused (503): DDS never shows data it cannot check or log.
"""

from __future__ import annotations

from typing import Any

from nsp_sandbox.clock import Clock
from nsp_sandbox.outcome import FhirError, Issue
from nsp_sandbox.peers import Peers
from nsp_sandbox.system_tokens import StsUnavailable, SystemTokens

SOURCE = "DDS consent handling (nspop 121380616): no check, no data"


def nsp_unavailable(why: str) -> FhirError:
    return FhirError(503, Issue("error", "transient", f"NSP could not be asked, so the look-up is refused: {why}",
                                rule="nsp-available", source=SOURCE), headers={"Retry-After": "5"})


class NspClient:
    def __init__(self, peers: Peers, clock: Clock, persona: str) -> None:
        self.peers = peers
        self.clock = clock
        self.persona = persona
        self._sts = SystemTokens(peers, clock)

    async def _request(self, method: str, path: str, *, authorised: bool = True, missing_ok: bool = False,
                       **kwargs: Any) -> Any:
        """NSP's JSON answer; ``None`` for a 404 only when ``missing_ok`` (else every non-2xx is a 503)."""
        headers = {"Authorization": f"Bearer {await self._own_token()}"} if authorised else {}
        try:
            response = await self.peers.client("nsp").request(method, f"{self.peers.url('nsp')}{path}",
                                                               headers=headers, **kwargs)
        except Exception as exc:  # any transport failure: NSP cannot be reached
            raise nsp_unavailable(f"{method} {path} failed ({type(exc).__name__})") from None
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code >= 300:
            raise nsp_unavailable(f"{method} {path} answered HTTP {response.status_code}")
        return response.json()

    async def _own_token(self) -> str:
        """DDS's system token towards NSP, reused until near its expiry (sandbox clock)."""
        try:
            return await self._sts.token(self.persona, "nsp")
        except StsUnavailable as exc:
            raise nsp_unavailable(str(exc)) from None

    async def blocks(self, cpr: str) -> list[dict[str, Any]]:
        return list(await self._request("GET", "/consent/blocks", params={"cpr": cpr}) or [])

    async def relations(self, authorisation: str, cpr: str) -> list[dict[str, Any]]:
        return list(await self._request("GET", "/brs/relations",
                                        params={"authorisation": authorisation, "cpr": cpr}) or [])

    async def person(self, cpr: str) -> dict[str, Any] | None:
        found = await self._request("GET", f"/persons/{cpr}", missing_ok=True)
        return found if isinstance(found, dict) else None

    async def write_minlog(self, entry: dict[str, Any]) -> None:
        await self._request("POST", "/minlog/entries", json=entry)
