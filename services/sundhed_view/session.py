"""The sign-in session: a signed cookie (HMAC-SHA256) holding the persona and their STS token.

The cookie is ``HttpOnly`` and ``SameSite=Lax`` under ``/view``; it cannot be forged or altered
without the viewer's key (made at start-up, so a restart signs everyone out). Every form that
changes something carries the session's CSRF token. The token itself is renewed from NSP's STS when
it is about to expire (the sign-in stand-in: MitID would be asked again).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any

COOKIE = "sundhed_session"
MAX_AGE = 8 * 3600


@dataclass
class Session:
    persona: str
    kind: str  # citizen | relative | professional
    name: str
    token: str
    expires: float
    cpr: str | None = None  # the person's own CPR (citizens and relatives)
    acts_for: list[str] = field(default_factory=list)
    acting: str | None = None  # whose data a citizen user is looking at
    organisation: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)  # CPR → værdispring reason
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    changed: bool = False

    @property
    def is_professional(self) -> bool:
        return self.kind == "professional"

    @property
    def represented(self) -> list[str]:
        own = [self.cpr] if self.cpr else []
        return own + [c for c in self.acts_for if c not in own]


class Signer:
    def __init__(self, key: bytes | None = None) -> None:
        self.key = key or secrets.token_bytes(32)

    def _mac(self, payload: bytes) -> str:
        return base64.urlsafe_b64encode(hmac.new(self.key, payload, hashlib.sha256).digest()).decode().rstrip("=")

    def dump(self, session: Session) -> str:
        data = asdict(session)
        data.pop("changed")
        payload = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")
        return f"{payload}.{self._mac(payload.encode())}"

    def load(self, cookie: str | None) -> Session | None:
        if not cookie or "." not in cookie:
            return None
        payload, mac = cookie.rsplit(".", 1)
        if not hmac.compare_digest(mac, self._mac(payload.encode())):
            return None
        try:
            data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            return Session(**data)
        except (ValueError, TypeError):
            return None
