"""The viewer's own tables (prefix ``view_``): page views (``statistics``) and sign-in sessions
(``session``). Instants are naive UTC on the sandbox clock."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class ViewBase(DeclarativeBase):
    pass


class PageViewRow(ViewBase):
    """One page rendered for a signed-in person: when (naive UTC), their kind and the page's template."""

    __tablename__ = "view_page_view"
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    page: Mapped[str] = mapped_column(String(64))


class SessionRow(ViewBase):
    """A browser's session: the sign-in form's (``signed_in`` false: only its CSRF token) or a signed-in
    person's, with their STS token. The cookie holds a random id; only its SHA-256 is stored here."""

    __tablename__ = "view_session"
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf: Mapped[str] = mapped_column(String(64))
    signed_in: Mapped[bool] = mapped_column(Boolean, default=False)
    persona: Mapped[str | None] = mapped_column(String(128))
    kind: Mapped[str | None] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(String(256))
    cpr: Mapped[str | None] = mapped_column(String(10))
    organisation: Mapped[str | None] = mapped_column(String(256))
    acts_for: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of CPR numbers
    acting: Mapped[str | None] = mapped_column(String(10))
    overrides: Mapped[str] = mapped_column(Text, default="{}")  # JSON: CPR → værdispring reason
    token: Mapped[str | None] = mapped_column(Text)  # the person's STS token: never leaves the server
    token_expires: Mapped[datetime | None] = mapped_column(DateTime)
    issued_at: Mapped[datetime] = mapped_column(DateTime)
    last_used_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)  # absolute end
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
