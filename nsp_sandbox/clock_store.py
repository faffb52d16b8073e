"""The sandbox clock's setting in the database (table ``sandbox_clock``, one row), so that every
process on that database reads the same time (:class:`nsp_sandbox.clock.Clock.share`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import DateTime, Float, Integer
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from nsp_sandbox.clock import ClockSetting, naive_utc
from nsp_sandbox.database import Database


class _Base(DeclarativeBase):
    pass


class ClockRow(_Base):
    __tablename__ = "sandbox_clock"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    offset_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    frozen_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class DatabaseClockStore:
    def __init__(self, database: Database) -> None:
        self._database = database
        database.create_tables(_Base.metadata)

    def load(self) -> ClockSetting | None:
        with self._database.reading() as session:
            row = session.get(ClockRow, 1)
            if row is None:
                return None
            frozen = row.frozen_at.replace(tzinfo=UTC) if row.frozen_at else None
            return ClockSetting(offset=timedelta(seconds=row.offset_seconds), frozen=frozen)

    def save(self, setting: ClockSetting) -> None:
        with self._database.writing("clock") as session:  # the first move in two workers at once: one row
            row = session.get(ClockRow, 1) or ClockRow(id=1)
            row.offset_seconds = setting.offset.total_seconds()
            row.frozen_at = naive_utc(setting.frozen) if setting.frozen else None
            session.add(row)
