"""The sandbox STS's ID-card signing key: an RSA key and a self-signed certificate generated at
first use (the first ID card or certificate asked for, not at start-up: an RSA key takes tens of
milliseconds to make) and kept in ``nsp_dgws_sts_key`` (as ``keys.py`` keeps the JWT key), so cards stay
verifiable across restarts. DDS learns the certificate from ``GET /nsp/sts/certificate``."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import DateTime, Integer, Text, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from nsp_sandbox.clock import naive_utc
from nsp_sandbox.database import Database
from nsp_sandbox.dgws.keys import KeyPair, self_signed

COMMON_NAME = "NSP Sandbox STS (funktionscertifikat)"
ORGANISATION = "nsp-sandbox"


class DgwsKeyBase(DeclarativeBase):
    pass


class DgwsStsKeyRow(DgwsKeyBase):
    """The STS's ID-card signing key and certificate (PEM); the first row is the one in use."""

    __tablename__ = "nsp_dgws_sts_key"
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    private_pem: Mapped[str] = mapped_column(Text)
    certificate_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class StsKey:
    """The key pair in use, read or made at its first use and then kept by this process."""

    def __init__(self, database: Database, now: Callable[[], datetime]) -> None:
        database.create_tables(DgwsKeyBase.metadata)
        self._database = database
        self._now = now
        self._pair: KeyPair | None = None
        self._lock = threading.Lock()

    def pair(self) -> KeyPair:
        with self._lock:
            if self._pair is None:
                self._pair = load_or_create(self._database, self._now())
            return self._pair


def load_or_create(database: Database, now: datetime) -> KeyPair:
    """The stored key pair, or a new one stored now (the table is created if missing; concurrent
    first starts all read back the first row)."""
    database.create_tables(DgwsKeyBase.metadata)
    stored = _first(database)
    if stored is not None:
        return KeyPair.from_pem(*stored, own=True)
    pair = self_signed(COMMON_NAME, ORGANISATION, now)
    try:
        with database.session() as session:
            session.add(DgwsStsKeyRow(private_pem=pair.private_pem(), certificate_pem=pair.certificate_pem(),
                                      created_at=naive_utc(now)))
    except IntegrityError:
        pass
    stored = _first(database)  # a concurrent first start may have stored its pair first: that one is used
    if stored == (pair.private_pem(), pair.certificate_pem()):
        return pair
    assert stored is not None
    return KeyPair.from_pem(*stored, own=True)


def _first(database: Database) -> tuple[str, str] | None:
    """The key pair in use (the first row), as PEM."""
    with database.session() as session:
        row = session.scalars(select(DgwsStsKeyRow).order_by(DgwsStsKeyRow.pk)).first()
        return None if row is None else (row.private_pem, row.certificate_pem)
