"""Every SQL statement the test suite runs on SQLite, with SQLite's plan for it: the statements that read a whole
table, which cost more the longer a sandbox runs.

Run as a script, it runs pytest (with the arguments given after ``--``) with itself as a plugin: the first time a
statement is run on SQLite (by SQLAlchemy, or on the driver's cursor by ``nsp_sandbox.driver_statement``), the
plugin asks SQLite for its plan (``EXPLAIN QUERY PLAN``, on the same connection, with the statement's own
parameters) and counts how often the statement runs. Each pytest process writes what it saw to a folder; the script
then lists the statements whose plan has a ``SCAN`` of a table (SQLite's own ``sqlite_`` tables left out), the most
frequent first, with the plan. A ``SCAN`` is not always wrong: a list of every row, a count, a table that holds a
few rows, a test's own reset. The list is for a person to read.

    .venv/bin/python bench/sql_plans.py -- tests -n 2 -m "not timing"
    .venv/bin/python bench/sql_plans.py --out /tmp/plans -- tests/dds -n 2
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
_FOLDER = "NSP_SANDBOX_SQL_PLANS"  # where each pytest process writes what it saw
_seen: dict[str, dict[str, Any]] = {}
_lock = threading.Lock()


def _plan(driver_connection: Any, statement: str, values: Any) -> None:
    """Count ``statement``; the first time, ask SQLite for its plan with ``values`` (on ``driver_connection``)."""
    if statement.lstrip()[:6].upper() not in ("SELECT", "UPDATE", "DELETE", "INSERT", "WITH"):
        return
    with _lock:
        known = _seen.get(statement)
        if known is not None:
            known["runs"] += 1
            return
        _seen[statement] = known = {"runs": 1, "plan": []}
    try:
        known["plan"] = [row[3] for row in driver_connection.execute("EXPLAIN QUERY PLAN " + statement, values)]
    except Exception as exc:  # SQLite would not plan it with these values
        known["plan"] = [f"no plan: {exc}"]


def _record(connection: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
            executemany: bool) -> None:
    """SQLAlchemy's hook before every statement it executes."""
    if connection.dialect.name == "sqlite":
        _plan(connection.connection.driver_connection, statement,
              parameters[0] if executemany and parameters else parameters)


class _RecordingCursor:
    """A driver cursor whose statements are recorded: the prebuilt statements of
    ``nsp_sandbox.driver_statement`` run on the cursor, where SQLAlchemy's hooks do not see them."""

    def __init__(self, cursor: Any, connection: Any) -> None:
        self._cursor = cursor
        self._connection = connection

    def execute(self, statement: str, values: Any = ()) -> Any:
        _plan(self._connection, statement, values)
        return self._cursor.execute(statement, values)

    def executemany(self, statement: str, rows: Any) -> Any:
        rows = list(rows)
        if rows:
            _plan(self._connection, statement, rows[0])
        return self._cursor.executemany(statement, rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


def pytest_configure(config: Any) -> None:
    """As a pytest plugin: record every statement, those SQLAlchemy executes and those run on its driver's cursor."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from nsp_sandbox import driver_statement

    event.listen(Engine, "before_cursor_execute", _record)
    cursor_of = driver_statement._cursor

    def recording_cursor(connection: Any) -> Any:
        cursor = cursor_of(connection)
        if connection.dialect.name != "sqlite":
            return cursor
        return _RecordingCursor(cursor, connection.connection.driver_connection)

    driver_statement._cursor = recording_cursor


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    folder = os.environ.get(_FOLDER)
    if folder:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        (Path(folder) / f"plans-{worker}.json").write_text(json.dumps(_seen))


def scans(folder: Path) -> list[tuple[int, list[str], str]]:
    """The statements whose plan reads a whole table: (runs, plan, statement), the most frequent first."""
    merged: dict[str, dict[str, Any]] = {}
    for part in sorted(folder.glob("plans-*.json")):
        for statement, seen in json.loads(part.read_text()).items():
            if statement in merged:
                merged[statement]["runs"] += seen["runs"]
            else:
                merged[statement] = seen
    found = [(seen["runs"], seen["plan"], statement) for statement, seen in merged.items()
             if any(re.match(r"SCAN (?!sqlite_)\w+", step) for step in seen["plan"])]
    print(f"{len(merged)} statements, {len(found)} of them with a scan of a whole table", file=sys.stderr)
    return sorted(found, key=lambda item: (-item[0], item[2]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="the folder for the pytest processes' records (default: temporary)")
    parser.add_argument("pytest_args", nargs="*", help="pytest's arguments (after --)")
    args = parser.parse_args()
    folder = args.out or Path(tempfile.mkdtemp(prefix="nsp-sql-plans-"))
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("plans-*.json"):
        old.unlink()
    environment = {**os.environ, _FOLDER: str(folder),
                   "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "bench"), os.environ.get("PYTHONPATH")]))}
    print(f"[sql-plans] pytest {' '.join(args.pytest_args)} (records in {folder})", file=sys.stderr, flush=True)
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "sql_plans", *args.pytest_args], cwd=ROOT,
                          env=environment, check=False)
    if done.returncode not in (0, 5):
        print(f"[sql-plans] pytest ended with {done.returncode}; the plans are those of the tests that ran",
              file=sys.stderr)
    for runs, plan, statement in scans(folder):
        one_line = re.sub(r"\s+", " ", statement)
        print(f"{runs:7d}  {one_line[:300]}")
        print(f"         {' / '.join(plan)}")


if __name__ == "__main__":
    main()
