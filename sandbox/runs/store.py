"""Conformance runs kept in the database (tables ``sandbox_run`` and ``sandbox_run_case``), so every process
on the database answers ``GET /sandbox/runs/{id}`` and nothing accepted is lost.

A run is written when it is accepted (status ``running``, the cases it will run), then as it goes: each
instruction for the participant as it is given, each case's result as soon as it is known, a heartbeat
every few seconds, and its verdict at the end. A run whose process is gone — on this machine a pid that
no longer lives (or, in this process, a run no task carries any more), anywhere a heartbeat older than
:data:`STALE_SECONDS` — is settled as failed with that reason the first time it is read.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Float, Integer, String, Text, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from nsp_sandbox.database import Database

HEARTBEAT_SECONDS = 5.0
STALE_SECONDS = 60.0
HOST = socket.gethostname()
_HERE: set[str] = set()  # the runs a task of this process carries now


def carried_here(run_id: str, carried: bool) -> None:
    """Say that a task of this process carries ``run_id`` now (or no longer)."""
    (_HERE.add if carried else _HERE.discard)(run_id)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class _Base(DeclarativeBase):
    pass


class RunRow(_Base):
    __tablename__ = "sandbox_run"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    suite: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    target_kind: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(Text)
    options: Mapped[str] = mapped_column(Text)  # JSON object
    planned: Mapped[str] = mapped_column(Text)  # JSON list of [name, title] in the order they run
    instructions: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of {case, text, at}
    status: Mapped[str] = mapped_column(String(16), index=True)
    message: Mapped[str] = mapped_column(Text, default="")
    started: Mapped[str] = mapped_column(String(40))
    started_epoch: Mapped[float] = mapped_column(Float, index=True)
    finished: Mapped[str | None] = mapped_column(String(40), nullable=True)
    owner_host: Mapped[str] = mapped_column(String(255))
    owner_pid: Mapped[int] = mapped_column(Integer)
    heartbeat: Mapped[float] = mapped_column(Float)


class RunCaseRow(_Base):
    __tablename__ = "sandbox_run_case"
    run_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    result: Mapped[str] = mapped_column(Text)  # CaseResult.to_json()


@dataclass
class Run:
    """A run as kept: what was asked, how far it is, and the results of its finished cases."""

    id: str
    suite: str
    title: str
    target_kind: str
    target: str
    options: dict[str, Any]
    planned: list[tuple[str, str]]
    instructions: list[dict[str, str]]
    status: str
    message: str
    started: str
    finished: str | None
    owner: str
    heartbeat: float
    cases: list[dict[str, Any]] = field(default_factory=list)  # CaseResult.to_json() of each finished case
    statuses: list[str] = field(default_factory=list)  # the finished cases' statuses (also without ``cases``)


@dataclass(frozen=True)
class NewRun:
    suite: str
    title: str
    target_kind: str
    target: str
    options: dict[str, Any]
    planned: list[tuple[str, str]]


def _gone(row: RunRow) -> str | None:
    """Why a run marked ``running`` has no process carrying it any more, or ``None`` if it may still go on."""
    here = row.owner_host == HOST
    if here and row.owner_pid == os.getpid():
        if row.id not in _HERE:
            return "the sandbox process that ran it no longer carries it"
    elif here:
        try:
            os.kill(row.owner_pid, 0)
        except ProcessLookupError:
            return f"the sandbox process that ran it (pid {row.owner_pid} on {row.owner_host}) has stopped"
        except PermissionError:
            pass
    silent = time.time() - row.heartbeat
    if silent > STALE_SECONDS:
        return (f"the sandbox process that ran it (pid {row.owner_pid} on {row.owner_host}) has given no sign "
                f"of life for {silent:.0f} s")
    return None


class RunStore:
    """The runs of one database."""

    def __init__(self, database: Database) -> None:
        self._database = database
        database.create_tables(_Base.metadata)

    def create(self, new: NewRun, *, carried: bool = False) -> str:
        """A new run, ``running`` and owned by this process; its id. ``carried``: a task of this process will
        carry it, said (:func:`carried_here`) before the row can be read, so that no reader in between finds
        it running with nobody carrying it."""
        run_id = str(uuid.uuid4())
        if carried:
            carried_here(run_id, True)
        try:
            with self._database.session() as session:
                session.add(RunRow(id=run_id, suite=new.suite, title=new.title, target_kind=new.target_kind,
                                   target=new.target, options=json.dumps(new.options),
                                   planned=json.dumps([list(p) for p in new.planned]), instructions="[]",
                                   status="running", message="", started=_now(), started_epoch=time.time(),
                                   finished=None, owner_host=HOST, owner_pid=os.getpid(), heartbeat=time.time()))
        except BaseException:
            carried_here(run_id, False)
            raise
        return run_id

    def add_instruction(self, run_id: str, case: str, text: str) -> None:
        with self._database.writing("run-instructions", run_id) as session:
            row = session.get(RunRow, run_id)
            if row is not None:
                row.instructions = json.dumps([*json.loads(row.instructions), {"case": case, "text": text,
                                                                                "at": _now()}])

    def add_result(self, run_id: str, position: int, result: dict[str, Any]) -> None:
        with self._database.session() as session:
            session.add(RunCaseRow(run_id=run_id, position=position, name=result["name"], status=result["status"],
                                   result=json.dumps(result)))
            row = session.get(RunRow, run_id)
            if row is not None:
                row.heartbeat = time.time()

    def beat(self, run_id: str) -> None:
        with self._database.session() as session:
            row = session.get(RunRow, run_id)
            if row is not None:
                row.heartbeat = time.time()

    def finish(self, run_id: str, status: str, message: str) -> bool:
        """The run's verdict; a run already settled (e.g. found gone) keeps its first one: a guarded update, so
        that of two verdicts at once (the owner's, and another page's or worker's finding it gone) one is kept.
        Whether this one was."""
        with self._database.session() as session:
            result = session.execute(update(RunRow).where((RunRow.id == run_id) & (RunRow.status == "running"))
                                     .values(status=status, message=message, finished=_now()))
            return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]

    def get(self, run_id: str) -> Run | None:
        """The run with every finished case's result (evidence included)."""
        self._settle(run_id)
        with self._database.session() as session:
            row = session.get(RunRow, run_id)
            if row is None:
                return None
            cases = session.scalars(select(RunCaseRow).where(RunCaseRow.run_id == run_id)
                                    .order_by(RunCaseRow.position)).all()
            run = _run(row)
            run.cases = [json.loads(c.result) for c in cases]
            run.statuses = [c.status for c in cases]
            return run

    def recent(self, limit: int = 100) -> list[Run]:
        """The newest ``limit`` runs, newest first, with their cases' statuses but not their results."""
        with self._database.session() as session:
            running = session.scalars(select(RunRow.id).where(RunRow.status == "running")).all()
        for run_id in running:
            self._settle(run_id)
        with self._database.session() as session:
            rows = session.scalars(select(RunRow).order_by(RunRow.started_epoch.desc()).limit(limit)).all()
            ids = [r.id for r in rows]
            statuses: dict[str, list[str]] = {i: [] for i in ids}
            for run_id, status in session.execute(select(RunCaseRow.run_id, RunCaseRow.status)
                                                  .where(RunCaseRow.run_id.in_(ids))
                                                  .order_by(RunCaseRow.run_id, RunCaseRow.position)):
                statuses[run_id].append(status)
            runs = [_run(r) for r in rows]
        for run in runs:
            run.statuses = statuses[run.id]
        return runs

    def _settle(self, run_id: str) -> None:
        """A running run whose process is gone: failed, saying so (once)."""
        with self._database.session() as session:
            row = session.get(RunRow, run_id)
            reason = _gone(row) if row is not None and row.status == "running" else None
        if reason is not None:
            self.finish(run_id, "failed", f"The run stopped unfinished: {reason}.")


def _run(row: RunRow) -> Run:
    return Run(row.id, row.suite, row.title, row.target_kind, row.target, json.loads(row.options),
               [(p[0], p[1]) for p in json.loads(row.planned)], json.loads(row.instructions), row.status,
               row.message, row.started, row.finished, f"pid {row.owner_pid} on {row.owner_host}", row.heartbeat)
