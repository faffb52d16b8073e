"""NSP's own tables (prefix ``nsp_``): signing keys, Min Spærring blocks, added treatment
relations and Min Log entries. Timestamps are naive UTC. Nothing here is erased except Min Log
entries older than two years, as NSP purges them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class NspBase(DeclarativeBase):
    pass


class SigningKeyRow(NspBase):
    """The STS's signing key pair, generated at first start."""

    __tablename__ = "nsp_signing_key"
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    private_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ConsentBlockRow(NspBase):
    """A Min Spærring consent item (``consentitem``): negative (a block) or positive; revoking keeps
    the row as history. ``who_*`` is the whoItem (``all`` = everyone, or one professional by
    authorisation id); ``what_*`` the whatItem (``all`` data, or data from a treatment place by SOR
    code, with its sub-units when ``include_sub_units``)."""

    __tablename__ = "nsp_consent_block"
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    cpr: Mapped[str] = mapped_column(String(10), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="negative")  # negative | positive
    who_type: Mapped[str] = mapped_column(String(16))  # professional | all
    who_id: Mapped[str | None] = mapped_column(String(64))
    what_type: Mapped[str] = mapped_column(String(16), default="all")  # all | organisation
    what_id: Mapped[str | None] = mapped_column(String(64))
    include_sub_units: Mapped[bool] = mapped_column(Boolean, default=False)
    valid_from: Mapped[datetime] = mapped_column(DateTime)
    valid_to: Mapped[datetime | None] = mapped_column(DateTime)
    data_from: Mapped[datetime | None] = mapped_column(DateTime)
    data_to: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    created_by_system: Mapped[str | None] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(64))


class TreatmentRelationRow(NspBase):
    """A treatment relation added through BRS (the seeded ones come from the world)."""

    __tablename__ = "nsp_treatment_relation"
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    authorisation: Mapped[str] = mapped_column(String(16))
    cpr: Mapped[str] = mapped_column(String(10))
    valid_from: Mapped[datetime] = mapped_column(DateTime)
    valid_to: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_nsp_relation_pair", "authorisation", "cpr"),)


class MinLogEntryRow(NspBase):
    """One Min Log statement (fields as NSP's ListLogStatementsResponse/LogDataGroup)."""

    __tablename__ = "nsp_minlog_entry"
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    cpr: Mapped[str] = mapped_column(String(10), index=True)  # PersonIdentifier: whose data
    logged_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    activity: Mapped[str] = mapped_column(String(200))
    organisation_id: Mapped[str | None] = mapped_column(String(64))
    organisation_name: Mapped[str | None] = mapped_column(String(200))
    user_identifier: Mapped[str | None] = mapped_column(String(64))  # UserPersonIdentifier
    user_name: Mapped[str | None] = mapped_column(String(200))
    user_role: Mapped[str | None] = mapped_column(String(100))
    consent_override: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(Text)
    system_name: Mapped[str] = mapped_column(String(200))
    addition: Mapped[str | None] = mapped_column(Text)
    criticality: Mapped[str | None] = mapped_column(String(100))
    person_name: Mapped[str | None] = mapped_column(String(200))  # PersonName: the citizen whose data
    responsible_user_identifier: Mapped[str | None] = mapped_column(String(64))  # medhjælpslog
    responsible_user_name: Mapped[str | None] = mapped_column(String(200))
    acting_as: Mapped[str | None] = mapped_column(String(16))  # self | fuldmagt | parent | guardian
