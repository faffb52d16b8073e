"""The tokens an actor's IT system gets from NSP's STS to call other actors (DGWS system ID card).

Every actor that calls another as a system — DDS asking NSP or an on-demand source, the EOJ sharing
to DDS, the PLSP hub registering entries — holds one :class:`SystemTokens`. It asks the STS
(``POST {nsp}/sts/token`` with the persona and the audience) once per persona and audience and
reuses the token until a minute before it expires on the sandbox clock; a clock that travelled back
before the token's issue fetches a new one too.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from nsp_sandbox.clock import Clock
from nsp_sandbox.peers import Peers

MARGIN = timedelta(seconds=60)  # fetch a new token this long before the old one expires


class StsUnavailable(Exception):
    """NSP's STS could not be reached or gave no token; the message says which."""


class SystemTokens:
    def __init__(self, peers: Peers, clock: Clock) -> None:
        self._peers = peers
        self._clock = clock
        self._tokens: dict[tuple[str, str], tuple[str, datetime, datetime]] = {}  # token, usable from, until

    async def token(self, persona: str, audience: str) -> str:
        """A token of system ``persona`` for ``audience``; :class:`StsUnavailable` when there is none."""
        now = self._clock.now()
        cached = self._tokens.get((persona, audience))
        if cached is not None and cached[1] <= now < cached[2]:
            return cached[0]
        try:
            response = await self._peers.client("nsp").post(f"{self._peers.url('nsp')}/sts/token",
                                                            json={"persona": persona, "audience": audience})
        except Exception as exc:  # any transport failure: the STS cannot be reached
            raise StsUnavailable(f"NSP's STS could not be reached ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise StsUnavailable(f"NSP's STS answered HTTP {response.status_code} for persona {persona} "
                                 f"and audience {audience}")
        try:
            answer = response.json()
            token, lifetime = str(answer["access_token"]), int(answer["expires_in"])
        except (ValueError, KeyError, TypeError):
            raise StsUnavailable("NSP's STS answered without a token") from None
        self._tokens[(persona, audience)] = (token, now, now + timedelta(seconds=lifetime) - MARGIN)
        return token
