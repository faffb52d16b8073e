"""A SQLite database's write-ahead log copied back into the database by a thread of its own.

In WAL mode a commit appends pages to the log; a checkpoint copies them into the database file and
syncs both files (``synchronous=NORMAL`` syncs at checkpoints only). SQLite's own rule checkpoints in
the connection that commits, once the log holds 1,000 pages: a provide that crossed it waited for the
copy and two or more ``fdatasync`` calls (3–10 ms each on a virtual disk), some 0.5 ms per provide on
the CPU lane that nothing else could use. Here the connections never checkpoint
(``wal_autocheckpoint=0``); :class:`WalCheckpoints` does, on a connection of its own:

* every :data:`EVERY` seconds while commits come, a ``PASSIVE`` checkpoint: it copies what is
  committed without stopping a writer or a reader;
* a ``PASSIVE`` checkpoint cannot finish while commits keep coming, and the log starts again from
  its beginning only once every page in it has been copied: when it has grown past
  :data:`RESTART_ABOVE` pages, a ``RESTART`` checkpoint, which holds new writers back for the few pages
  left to copy (waiting at most :data:`RESTART_WAIT` for readers), so the log stays bounded under a
  constant load.

The copy and the syncs run in SQLite's C code and the kernel, without Python's lock: in a process kept to one
core (:mod:`nsp_sandbox.one_core`) the thread runs on the cores left, beside the threads that take turns on it.

The thread starts at the first unit of work and ends after :data:`IDLE_END` seconds without one (a
database a test made and forgot keeps no thread). When the last connection closes, SQLite
checkpoints the rest and removes the log, as before.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from urllib.parse import quote

from sqlalchemy import URL, Engine, event

from nsp_sandbox.one_core import step_aside
from nsp_sandbox.thread_names import NamedThread

log = logging.getLogger(__name__)

EVERY = 0.25  # seconds between checkpoints while commits come
RESTART_ABOVE = 4096  # pages in the log (16 MiB of 4 KiB pages) after which a RESTART checkpoint bounds it
RESTART_WAIT = 0.1  # seconds a RESTART checkpoint waits for readers (writers wait that long at most)
IDLE_END = 5.0  # seconds without a unit of work after which the thread ends


def database_file(url: URL) -> str | None:
    """The file of a SQLite URL (``sqlite:///path``); None for a database in memory or named by a URI."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:") or url.query.get("uri"):
        return None
    return database


class WalCheckpoints:
    """Checkpoints of one SQLite database file's log, off the threads that commit."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        self.done = 0  # checkpoints run (for tests and benchmarks)
        self._used_since = False
        self._running = False
        self._log_seen: tuple[int, int] | None = None  # the log file's size and time of change at the last checkpoint
        self._lock = threading.Lock()

    @classmethod
    def install(cls, engine: Engine) -> WalCheckpoints | None:
        """Checkpoint ``engine``'s database file this way; None for a database held in memory (no log)."""
        database = database_file(engine.url)
        if database is None:
            return None
        checkpoints = cls(database)
        # A connection given back to the pool has ended a unit of work, which may have committed. A pool event:
        # a listener of the connections' own events ("commit") would make every statement look for listeners.
        event.listen(engine, "checkin", checkpoints._used)
        return checkpoints

    def _used(self, *_connection: object) -> None:
        self._used_since = True
        if not self._running:
            with self._lock:
                if not self._running:
                    self._running = True
                    NamedThread(target=self._run, name=f"sqlite-checkpoints {self.path}", daemon=True).start()

    def _run(self) -> None:
        step_aside()
        quiet_since = time.monotonic()
        while True:
            time.sleep(EVERY)
            if self._used_since:
                self._used_since = False
                quiet_since = time.monotonic()
                self.checkpoint()
                continue
            if time.monotonic() - quiet_since >= IDLE_END:
                with self._lock:
                    if not self._used_since:
                        self._running = False
                        return

    def checkpoint(self) -> None:
        """One ``PASSIVE`` checkpoint, and a ``RESTART`` one when the log has grown past :data:`RESTART_ABOVE`;
        none when the log file has not changed since the last one (units of work that only read)."""
        try:
            status = os.stat(f"{self.path}-wal")
        except OSError:  # no log: nothing was written since the last connection closed
            return
        seen = (status.st_size, status.st_mtime_ns)
        if seen == self._log_seen:
            return
        try:
            connection = sqlite3.connect(f"file:{quote(self.path)}?mode=rw", uri=True, timeout=RESTART_WAIT,
                                         check_same_thread=False)
        except sqlite3.Error:  # the file is gone (a test's folder, removed)
            return
        try:
            busy, pages, _copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if not busy and pages > RESTART_ABOVE:
                connection.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
            self.done += 1
            self._log_seen = seen
        except sqlite3.Error as exc:  # busy or locked: the next round tries again
            log.debug("checkpoint of %s not done: %s", self.path, exc)
        finally:
            connection.close()
