"""The viewer's own tables (prefix ``view_``): page views (``statistics``), sign-in sessions
(``session``) and what documents yielded (``extract_cache``). Instants are naive UTC on the sandbox clock."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Integer, LargeBinary, String, Text, UniqueConstraint
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


class ExtractRow(ViewBase):
    """What one document's bytes yield (view model or reasons, and its patient), by content digest."""

    __tablename__ = "view_document_extract"
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of kind, HCO version and bytes
    version: Mapped[int] = mapped_column(Integer)  # extract_cache.MODEL_VERSION it was written by
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class EntryContentRow(ViewBase):
    """Which content (extract digest) a DocumentReference (id and ``attachment.hash``) has."""

    __tablename__ = "view_entry_content"
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entry_id: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (UniqueConstraint("entry_id", "entry_hash"),)
