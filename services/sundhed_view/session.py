"""Sign-in sessions, kept server-side in the viewer's table ``view_session`` (OWASP Session
Management): the cookie holds only a random id (256 bits; the table keeps its SHA-256), never the
person's STS token.

* **The sign-in form** has a session of its own (not signed in: a CSRF token only, one hour), so a
  login from another site fails (login CSRF). Signing in ends it and issues a new id (no fixation).
* **A signed-in session** ends after 30 minutes without use (idle) or 8 hours after sign-in
  (absolute), both on the sandbox clock, or at sign-out, which marks it revoked: a copy of the cookie
  replayed afterwards is no session. Ended sessions are purged a day after they end, the sign-in
  form's sessions when they expire.
* The STS token is renewed from NSP's STS when it is about to expire, within the session's life (the
  sign-in stand-in: MitID would be asked again).

Every process serving the viewer reads the same table, so any number of them share the sessions.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update

from nsp_sandbox.clock import Clock, naive_utc
from nsp_sandbox.database import Database
from services.sundhed_view.models import SessionRow, ViewBase

COOKIE = "sundhed_session"
IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=8)
SIGN_IN_FORM = timedelta(hours=1)
RETAIN = timedelta(days=1)
PROFESSIONAL_KINDS = ("professional", "assistant")


@dataclass
class Session:
    persona: str
    kind: str  # citizen | relative | professional | assistant
    name: str
    token: str
    expires: float  # the STS token's expiry (POSIX seconds)
    cpr: str | None = None  # the person's own CPR (citizens and relatives)
    acts_for: list[str] = field(default_factory=list)
    acting: str | None = None  # whose data a citizen user is looking at
    organisation: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)  # CPR → værdispring reason
    csrf: str = ""
    key: str = ""  # the SHA-256 of the cookie's id

    @property
    def is_professional(self) -> bool:
        """Looks citizens up in the professional's way: a professional, or an assistant acting for one
        (DDS judges the treatment relation and the blocks on the responsible professional)."""
        return self.kind in PROFESSIONAL_KINDS

    @property
    def may_override(self) -> bool:
        """May use værdispring: an authorised professional only — DDS refuses it to an assistant, whose
        look-ups are the responsible professional's (docs/dds.md, Værdispring)."""
        return self.kind == "professional"

    @property
    def represented(self) -> list[str]:
        own = [self.cpr] if self.cpr else []
        return own + [c for c in self.acts_for if c not in own]


def _key(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


def _session(row: SessionRow) -> Session:
    expires = row.token_expires.replace(tzinfo=UTC).timestamp() if row.token_expires else 0.0
    return Session(row.persona or "", row.kind or "", row.name or "", row.token or "", expires, cpr=row.cpr,
                   acts_for=list(json.loads(row.acts_for)), acting=row.acting, organisation=row.organisation,
                   overrides=dict(json.loads(row.overrides)), csrf=row.csrf, key=row.id_hash)


class SessionStore:
    """The sessions in the database, judged on the sandbox clock (the table is created here if missing)."""

    def __init__(self, database: Database, clock: Clock) -> None:
        self.database = database
        self.clock = clock
        database.create_tables(ViewBase.metadata)

    def _now(self) -> datetime:
        return naive_utc(self.clock.now())

    def _live(self, cookie: str | None, signed_in: bool) -> SessionRow | None:
        """The live row of ``cookie`` (its last use now), or None: unknown, revoked, idle or too old."""
        if not cookie or len(cookie) > 128:
            return None
        now = self._now()
        idle = IDLE if signed_in else SIGN_IN_FORM
        with self.database.session() as s:
            row = s.scalars(select(SessionRow).where(SessionRow.id_hash == _key(cookie))).first()
            if (row is None or row.signed_in != signed_in or row.revoked_at is not None or now >= row.expires_at
                    or now - row.last_used_at > idle):
                return None
            s.execute(update(SessionRow).where(SessionRow.pk == row.pk).values(last_used_at=max(now, row.last_used_at)))
        return row

    def load(self, cookie: str | None) -> Session | None:
        """The signed-in session of ``cookie``, or None."""
        row = self._live(cookie, signed_in=True)
        return _session(row) if row is not None else None

    def _insert(self, signed_in: bool, lifetime: timedelta, **values: Any) -> tuple[str, SessionRow]:
        cookie, now = secrets.token_urlsafe(32), self._now()
        row = SessionRow(id_hash=_key(cookie), csrf=secrets.token_urlsafe(32), signed_in=signed_in, issued_at=now,
                         last_used_at=now, expires_at=now + lifetime, **values)
        with self.database.session() as s:
            s.execute(delete(SessionRow).where(or_(SessionRow.expires_at < now - RETAIN,
                                                   SessionRow.revoked_at < now - RETAIN,
                                                   (SessionRow.signed_in.is_(False)) & (SessionRow.expires_at < now))))
            s.add(row)
        return cookie, row

    def sign_in_form(self, cookie: str | None) -> tuple[str | None, str]:
        """The CSRF token of the sign-in form's session (``cookie``'s if live) and the new cookie if one was made."""
        row = self._live(cookie, signed_in=False)
        if row is not None:
            return None, row.csrf
        new, row = self._insert(False, SIGN_IN_FORM)
        return new, row.csrf

    def sign_in_allowed(self, cookie: str | None, csrf: str) -> bool:
        """Whether ``csrf`` is the token of the sign-in form's session of ``cookie``."""
        row = self._live(cookie, signed_in=False)
        return row is not None and hmac.compare_digest(row.csrf.encode(), csrf.encode())

    def start(self, form_cookie: str | None, session: Session) -> str:
        """Sign ``session`` in under a new id (the sign-in form's session ends); the cookie to set."""
        if form_cookie:
            self._revoke(_key(form_cookie))
        cookie, row = self._insert(True, ABSOLUTE, **self._values(session))
        session.csrf, session.key = row.csrf, row.id_hash
        return cookie

    @staticmethod
    def _values(session: Session) -> dict[str, Any]:
        return {"persona": session.persona, "kind": session.kind, "name": session.name, "cpr": session.cpr,
                "organisation": session.organisation, "acts_for": json.dumps(session.acts_for),
                "acting": session.acting, "overrides": json.dumps(session.overrides), "token": session.token,
                "token_expires": naive_utc(datetime.fromtimestamp(session.expires, UTC))}

    # Each change writes only what it changes, so that requests of one session at once (two tabs, two workers)
    # never write back what another has just changed: not after sign-out.

    def renew_token(self, session: Session) -> None:
        """Keep the session's renewed STS token."""
        self._set(session.key, token=session.token,
                  token_expires=naive_utc(datetime.fromtimestamp(session.expires, UTC)))

    def act_as(self, session: Session, cpr: str) -> None:
        """A citizen user looks at ``cpr``'s data (one they represent) from now on."""
        self._set(session.key, acting=cpr)
        session.acting = cpr

    def override(self, session: Session, cpr: str, reason: str | None) -> None:
        """Værdispring for ``cpr`` with ``reason``, or (None) its end; the session's other overrides as stored."""
        with self.database.writing("view-session", session.key) as s:
            stored = s.scalar(select(SessionRow.overrides).where(SessionRow.id_hash == session.key,
                                                                 SessionRow.revoked_at.is_(None)))
            if stored is None:
                return
            overrides = json.loads(stored)
            if reason is None:
                overrides.pop(cpr, None)
            else:
                overrides[cpr] = reason
            s.execute(update(SessionRow).where(SessionRow.id_hash == session.key)
                      .values(overrides=json.dumps(overrides)))
        session.overrides = overrides

    def _set(self, key: str, **values: Any) -> None:
        with self.database.session() as s:
            s.execute(update(SessionRow).where(SessionRow.id_hash == key, SessionRow.revoked_at.is_(None))
                      .values(**values))

    def end(self, session: Session) -> None:
        """Sign out: the session is revoked (kept until purged), its STS token dropped."""
        self._revoke(session.key)

    def _revoke(self, key: str) -> None:
        with self.database.session() as s:
            s.execute(update(SessionRow).where(SessionRow.id_hash == key, SessionRow.revoked_at.is_(None))
                      .values(revoked_at=self._now(), token=None))
