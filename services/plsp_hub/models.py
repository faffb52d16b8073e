"""The hub's own tables (prefix ``plsp_``): diagnosis cards, notes, on-demand DDS entries and the
event log. Times are naive UTC.

A purged note keeps its row (key, times, state) but loses its content: ``body_html`` and the
author become NULL; the event log keeps that it existed and when it was purged.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Engine, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from nsp_sandbox.database import add_columns

# columns added after the tables' first version: (table, column, SQL type and default)
ADDED_COLUMNS = (
    ("plsp_entry", "claimed_at", "TIMESTAMP"),
)


def upgrade(engine: Engine) -> None:
    """Bring tables an earlier version made up to this one: add the later columns."""
    add_columns(engine, ADDED_COLUMNS)


class PlspBase(DeclarativeBase):
    pass


class CardRow(PlspBase):
    """One clinic's diagnosis card for one patient, as last submitted (every diagnosis, private ones too)."""

    __tablename__ = "plsp_card"
    __table_args__ = (UniqueConstraint("cpr", "clinic_sor"),)
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cpr: Mapped[str] = mapped_column(String(16), index=True)
    clinic_sor: Mapped[str] = mapped_column(String(32))
    clinic: Mapped[dict] = mapped_column(JSON)  # type: ignore[type-arg]  # Clinic as NSP knows it
    patient: Mapped[dict] = mapped_column(JSON)  # type: ignore[type-arg]  # Patient from the CPR register
    diagnoses: Mapped[list[dict]] = mapped_column(JSON)  # type: ignore[type-arg]
    approval: Mapped[dict | None] = mapped_column(JSON)  # type: ignore[type-arg]
    updated: Mapped[datetime] = mapped_column(DateTime)  # the card's last change (Composition.date)
    submitted_at: Mapped[datetime] = mapped_column(DateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)


class NoteRow(PlspBase):
    """One journal note in its newest version; ``state`` active | cancelled | purged."""

    __tablename__ = "plsp_note"
    __table_args__ = (UniqueConstraint("clinic_sor", "key"),)
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200))
    clinic_sor: Mapped[str] = mapped_column(String(32))
    cpr: Mapped[str] = mapped_column(String(16), index=True)
    clinic: Mapped[dict] = mapped_column(JSON)  # type: ignore[type-arg]
    patient: Mapped[dict | None] = mapped_column(JSON)  # type: ignore[type-arg]
    created: Mapped[datetime] = mapped_column(DateTime)
    created_offset: Mapped[int] = mapped_column(Integer, default=0)  # the sender's UTC offset, minutes
    updated: Mapped[datetime] = mapped_column(DateTime)
    updated_offset: Mapped[int] = mapped_column(Integer, default=0)
    ended: Mapped[datetime | None] = mapped_column(DateTime)
    body_html: Mapped[str | None] = mapped_column(Text)
    author: Mapped[dict | None] = mapped_column(JSON)  # type: ignore[type-arg]
    version: Mapped[int] = mapped_column(Integer, default=1)
    do_not_share: Mapped[bool] = mapped_column(Boolean, default=False)
    available_from: Mapped[datetime] = mapped_column(DateTime)  # "after midnight" (§5.2), else submission
    state: Mapped[str] = mapped_column(String(16), default="active")
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime)
    purge_due: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    purged_at: Mapped[datetime | None] = mapped_column(DateTime)


class EntryRow(PlspBase):
    """One on-demand entry the hub registers in DDS: the patient's ConditionList or one shared note.

    ``state``: pending (to register) → registered → withdrawing (to deprecate) → deprecated;
    a pending entry no longer wanted becomes ``dropped`` without ever reaching DDS.
    """

    __tablename__ = "plsp_entry"
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)  # the retrieve URL's key
    kind: Mapped[str] = mapped_column(String(16))  # conditionlist | note
    cpr: Mapped[str] = mapped_column(String(16), index=True)
    clinic_sor: Mapped[str] = mapped_column(String(32))
    note_key: Mapped[str | None] = mapped_column(String(200))
    entry_uuid: Mapped[str] = mapped_column(String(64))
    unique_id: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(16), index=True)
    withdraw_status: Mapped[str | None] = mapped_column(String(32))  # superseded | entered-in-error
    withdraw_rule: Mapped[str | None] = mapped_column(String(64))
    withdraw_reason: Mapped[str | None] = mapped_column(String(500))
    dds_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    # when a push took it to tell DDS (real time, naive UTC); None: no push has it (Registrar._claim)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime)


class EventRow(PlspBase):
    """The hub's event log: what each clinic submitted, what was refused, shared, unshared, cancelled,
    purged and served, per patient."""

    __tablename__ = "plsp_event"
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    cpr: Mapped[str] = mapped_column(String(16), index=True)
    clinic_sor: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(220))  # conditionlist | note:<key>
    version: Mapped[int | None] = mapped_column(Integer)
    rule: Mapped[str | None] = mapped_column(String(64))
    path: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    details: Mapped[dict | None] = mapped_column(JSON)  # type: ignore[type-arg]


class SettingRow(PlspBase):
    """Hub settings changed at run time (``notes_after_midnight``), over the configured defaults."""

    __tablename__ = "plsp_setting"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict] = mapped_column(JSON)  # type: ignore[type-arg]
