"""Access tokens from NSP's STS (``POST /nsp/sts/token``), one per persona and audience, kept until a
minute before they expire; and requests sent with them.

Tokens expire on the *sandbox* clock, which a test may move: the handle forgets every kept token when
the clock, the fault switches or the data change through it, and a request answered 401 is sent once
more with a fresh token (as a real client fetches a new one), so a kept token never outlives the clock.
"""

from __future__ import annotations

import time
from typing import Any

import httpx2 as httpx

from sandbox.pytest_plugin.errors import SandboxError

MARGIN_SECONDS = 60.0  # a kept token is fetched again this long before it would expire


def _key(persona: str, audience: str | list[str] | None) -> tuple[str, tuple[str, ...] | None]:
    if audience is None:
        return persona, None
    return persona, (audience,) if isinstance(audience, str) else tuple(audience)


class Tokens:
    """The tokens of one sandbox, asked of its STS over ``http``."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self._kept: dict[tuple[str, tuple[str, ...] | None], tuple[str, float]] = {}

    def get(self, persona: str, audience: str | list[str] | None = None) -> str:
        """An access token of ``persona`` (for ``audience``: an actor name or a list; the STS's default,
        ``["dds", "nsp"]``, when None). Raises :class:`SandboxError` when the STS refuses."""
        key = _key(persona, audience)
        kept = self._kept.get(key)
        if kept is not None and time.monotonic() < kept[1]:
            return kept[0]
        body: dict[str, Any] = {"persona": persona}
        if audience is not None:
            body["audience"] = audience
        response = self.http.post("/nsp/sts/token", json=body)
        if response.status_code != 200:
            raise SandboxError(f"a token for {persona}", response)
        answer = response.json()
        lifetime = float(answer.get("expires_in", 0))
        self._kept[key] = (str(answer["access_token"]), time.monotonic() + lifetime - MARGIN_SECONDS)
        return self._kept[key][0]

    def forget(self, persona: str | None = None, audience: str | list[str] | None = None) -> None:
        """Drop the kept token of ``persona`` for ``audience``, or every kept token."""
        if persona is None:
            self._kept.clear()
        else:
            self._kept.pop(_key(persona, audience), None)

    def request(self, persona: str, audience: str | list[str] | None, method: str, url: str,
                **kwargs: Any) -> httpx.Response:
        """``method url`` as ``persona``: with its bearer token, sent once more with a fresh one on 401."""
        headers = dict(kwargs.pop("headers", None) or {})
        for attempt in (1, 2):
            headers["Authorization"] = f"Bearer {self.get(persona, audience)}"
            response = self.http.request(method, url, headers=headers, **kwargs)
            if response.status_code != 401 or attempt == 2:
                return response
            self.forget(persona, audience)
        raise AssertionError("unreachable")
