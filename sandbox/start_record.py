"""One start of ``nsp-sandbox up --workers N`` as the worker processes see it, in the database.

The supervising process writes the start (``sandbox_start``: its id, how many workers, whether to load
the demo data and which world file) before it starts the workers; each worker finds it by the id in
``NSP_SANDBOX_START_ID``. A worker that has built its actors and loaded the FHIR packages says so
(``sandbox_start_worker``: one row per process). The first worker to *claim* the start (a guarded
``UPDATE`` from ``starting`` to ``seeding``: of concurrent claims exactly one changes the row) waits
until all N are built, loads the world file and the demo data once, through the shared port, and
writes the outcome (``ready`` or ``degraded`` with what is missing); every worker's ``GET /health``
follows that outcome. The supervisor reads the same rows to print progress.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Integer, String, Text, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from nsp_sandbox.clock import naive_utc
from nsp_sandbox.database import Database

START_ID = "NSP_SANDBOX_START_ID"  # the environment variable naming the start a worker belongs to
FINAL = ("ready", "degraded", "failed")


class _Base(DeclarativeBase):
    pass


class StartRow(_Base):
    __tablename__ = "sandbox_start"
    start_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    workers: Mapped[int] = mapped_column(Integer)
    demo: Mapped[bool] = mapped_column(Boolean)
    world: Mapped[str | None] = mapped_column(Text, nullable=True)
    origin: Mapped[str] = mapped_column(Text)  # where a worker reaches the actors: the shared port
    status: Mapped[str] = mapped_column(String(16))  # starting | seeding | ready | degraded | failed
    missing: Mapped[list] = mapped_column(JSON, default=list)  # type: ignore[type-arg]
    seeded_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    started_at: Mapped[datetime] = mapped_column(DateTime)


class StartWorkerRow(_Base):
    __tablename__ = "sandbox_start_worker"
    start_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    pid: Mapped[int] = mapped_column(Integer, primary_key=True)
    built_at: Mapped[datetime] = mapped_column(DateTime)


@dataclass(frozen=True)
class Start:
    """What a start asks for and where it stands."""

    start_id: str
    workers: int
    demo: bool
    world: str | None
    origin: str
    status: str
    missing: list[str]
    seeded_by: int | None

    @property
    def final(self) -> bool:
        return self.status in FINAL


class StartRecord:
    """The rows of one start (the tables are created here if missing)."""

    def __init__(self, database: Database, start_id: str) -> None:
        self._database = database
        self.start_id = start_id
        database.create_tables(_Base.metadata)

    @classmethod
    def new(cls, database: Database, workers: int, demo: bool, world: str | None, origin: str,
            now: datetime) -> StartRecord:
        """A new start, written before its workers are started."""
        record = cls(database, uuid.uuid4().hex)
        with database.session() as session:
            session.add(StartRow(start_id=record.start_id, workers=workers, demo=demo, world=world, origin=origin,
                                 status="starting", missing=[], started_at=naive_utc(now)))
        return record

    def read(self) -> Start:
        with self._database.session() as session:
            row = session.get(StartRow, self.start_id)
            if row is None:
                raise LookupError(f"no sandbox start {self.start_id} in the database")
            return Start(row.start_id, row.workers, row.demo, row.world, row.origin, row.status,
                         list(row.missing or []), row.seeded_by)

    def built(self, pid: int, now: datetime) -> None:
        """Worker ``pid`` has its actors built and the FHIR packages loaded."""
        with self._database.session() as session:
            if session.get(StartWorkerRow, (self.start_id, pid)) is None:
                session.add(StartWorkerRow(start_id=self.start_id, pid=pid, built_at=naive_utc(now)))

    def built_workers(self) -> list[int]:
        with self._database.session() as session:
            return list(session.scalars(select(StartWorkerRow.pid).where(StartWorkerRow.start_id == self.start_id)
                                        .order_by(StartWorkerRow.built_at, StartWorkerRow.pid)))

    def claim(self, pid: int) -> bool:
        """Whether worker ``pid`` is the one to load the world file and the demo data (exactly one is)."""
        with self._database.session() as session:
            changed = session.execute(update(StartRow).where((StartRow.start_id == self.start_id)
                                                             & (StartRow.status == "starting"))
                                      .values(status="seeding", seeded_by=pid))
            return getattr(changed, "rowcount", 0) == 1

    def finish(self, status: str, missing: list[str]) -> None:
        """The outcome every worker's readiness follows."""
        with self._database.session() as session:
            session.execute(update(StartRow).where(StartRow.start_id == self.start_id)
                            .values(status=status, missing=list(missing)))
