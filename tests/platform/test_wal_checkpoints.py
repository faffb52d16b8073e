"""SQLite's write-ahead log is copied back into the database by a thread of its own: a commit never
waits for a checkpoint, every committed page reaches the database file soon after, and the log stays
bounded while commits keep coming."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, LargeBinary, insert, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from nsp_sandbox import wal_checkpoints
from nsp_sandbox.database import make_engine

PAGE = 4096
FRAME = PAGE + 24  # a log frame: its header and one page


class Base(DeclarativeBase):
    pass


class Blob(Base):
    __tablename__ = "test_blobs"
    id: Mapped[int] = mapped_column(primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


def _engine(path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    return engine


def _commit_pages(engine: Engine, transactions: int, pages_each: int) -> None:
    for _ in range(transactions):
        with engine.begin() as connection:
            connection.execute(insert(Blob.__table__), [{"data": bytes(PAGE - 100)} for _ in range(pages_each)])


def _log_state(path: Path) -> tuple[int, int]:
    """(frames in the log, frames copied into the database) from the log's index (``-shm``), as SQLite's file
    format lays it out: the header's ``mxFrame`` at byte 16, the checkpoint's ``nBackfill`` at byte 96."""
    shm = Path(f"{path}-shm").read_bytes()
    return struct.unpack_from("=I", shm, 16)[0], struct.unpack_from("=I", shm, 96)[0]


def _checkpoint_threads(path: Path) -> list[threading.Thread]:
    """The checkpoint threads of the database file ``path`` (each names its file)."""
    return [t for t in threading.enumerate() if t.name == f"sqlite-checkpoints {path}"]


def test_a_commit_never_checkpoints_and_the_thread_copies_the_log_soon_after(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wal_checkpoints, "EVERY", 0.02)
    held = threading.Event()
    real_checkpoint = wal_checkpoints.WalCheckpoints.checkpoint
    monkeypatch.setattr(wal_checkpoints.WalCheckpoints, "checkpoint", lambda self: held.wait(30))
    path = tmp_path / "log.db"
    engine = _engine(path)
    _commit_pages(engine, transactions=30, pages_each=50)  # 1,500 pages: past SQLite's own 1,000
    frames, copied = _log_state(path)
    assert frames >= 1500 and copied == 0  # no committing connection checkpointed
    assert Path(f"{path}-wal").stat().st_size >= 1500 * FRAME
    assert _checkpoint_threads(path)  # started by the first commit

    monkeypatch.setattr(wal_checkpoints.WalCheckpoints, "checkpoint", real_checkpoint)
    held.set()
    _commit_pages(engine, transactions=1, pages_each=1)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        frames, copied = _log_state(path)
        if copied == frames:
            break
        time.sleep(0.02)
    assert copied == frames > 1500  # every committed page is in the database file
    with engine.connect() as connection:
        assert len(connection.execute(select(Blob.id)).all()) == 1501
    engine.dispose()


@pytest.mark.timing
def test_the_log_stays_bounded_while_commits_keep_coming(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A PASSIVE checkpoint cannot copy what commits append while it runs, and the log only starts again from
    its beginning once every page in it is copied: the RESTART checkpoint past ``RESTART_ABOVE`` pages bounds it.

    A wall-clock test, run alone (``scripts/test.sh``): the log's size is its high-water mark, and on a machine
    busy with other tests the checkpoint thread can be kept waiting while the commits go on (once the suite's three
    workers on two cores let the log reach 19,020 frames for 33,748 pages written)."""
    monkeypatch.setattr(wal_checkpoints, "EVERY", 0.01)
    monkeypatch.setattr(wal_checkpoints, "RESTART_ABOVE", 200)
    path = tmp_path / "bounded.db"
    engine = _engine(path)
    written = 0
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        _commit_pages(engine, transactions=1, pages_each=4)
        written += 4
    size = Path(f"{path}-wal").stat().st_size
    assert written > 2000  # the commits went on
    # Without the RESTART the log holds more frames than the pages written (each commit's pages, and the
    # index pages they change); with it, a fraction of them.
    assert size < 0.4 * written * FRAME, f"the log grew to {size // FRAME} frames for {written} pages written"
    engine.dispose()


def test_the_thread_ends_when_commits_stop_and_a_database_in_memory_has_none(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wal_checkpoints, "EVERY", 0.01)
    monkeypatch.setattr(wal_checkpoints, "IDLE_END", 0.05)
    path = tmp_path / "idle.db"
    engine = _engine(path)
    _commit_pages(engine, transactions=2, pages_each=1)
    assert _checkpoint_threads(path)
    deadline = time.monotonic() + 10
    while _checkpoint_threads(path) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _checkpoint_threads(path)
    _commit_pages(engine, transactions=1, pages_each=1)  # a later commit starts it again
    assert _checkpoint_threads(path)
    engine.dispose()

    memory = make_engine("sqlite://")  # no log, so no checkpoints
    Base.metadata.create_all(memory)
    _commit_pages(memory, transactions=1, pages_each=1)
    assert not [t for t in threading.enumerate() if t.name.startswith("sqlite-checkpoints") and "memory" in t.name]
    assert wal_checkpoints.WalCheckpoints.install(memory) is None
    memory.dispose()


# Run in a process of its own: keeping to one core is the whole process's.
BESIDE = """
import json, os, sys, threading, time
from sqlalchemy import text
from nsp_sandbox.database import make_engine
from nsp_sandbox.one_core import keep_to_one_core
core = keep_to_one_core()
engine = make_engine("sqlite:///" + sys.argv[1])
with engine.begin() as connection:
    connection.execute(text("CREATE TABLE t (x INTEGER)"))
name = "sqlite-checkpoints " + os.path.abspath(sys.argv[1])
thread = next(t for t in threading.enumerate() if t.name == name)
deadline = time.monotonic() + 10
while os.sched_getaffinity(thread.native_id) == {core} and time.monotonic() < deadline:
    time.sleep(0.01)  # it steps aside as it starts
print(json.dumps([core, sorted(os.sched_getaffinity(0)), sorted(os.sched_getaffinity(thread.native_id)),
                  os.sched_getscheduler(thread.native_id) == os.SCHED_OTHER]))
"""


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs Linux and at least two CPU cores allowed to this process")
def test_in_a_process_kept_to_one_core_the_thread_runs_beside_that_core(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", BESIDE, str(tmp_path / "beside.db")], capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parents[2], check=True)
    core, main, checkpoints, default_policy = json.loads(done.stdout)
    assert main == [core]
    assert checkpoints == sorted(os.sched_getaffinity(0) - {core}) and default_policy
