"""Where a function or method is called: on a thread that runs an event loop (holding every other request of the
process up meanwhile) or on another thread (a worker thread, the CPU lane)."""

from __future__ import annotations

import asyncio
import threading
import traceback
from collections.abc import Callable
from typing import Any

import pytest

from nsp_sandbox.database import Database


def where_it_runs(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[str]:
    """Each later call of ``owner.name``: ``"loop"`` when made on a thread running an event loop, else ``"thread"``."""
    return _noted(monkeypatch, owner, name, lambda: "loop" if _on_a_loop() else "thread")


def threads_it_runs_on(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[str]:
    """The name of the thread each later call of ``owner.name`` is made on."""
    return _noted(monkeypatch, owner, name, lambda: threading.current_thread().name)


def database_work_on_the_loop(monkeypatch: pytest.MonkeyPatch, code: str) -> list[str]:
    """Each later unit of work (``Database.session`` / ``writing`` / ``transaction`` / ``reading``) begun on a thread
    running an event loop by an actor's code in a file under ``code`` (``"services/lps/"``; the innermost actor's
    frame, not an actor it called in process): the function's file, line and name.

    Not counted: the shared clock's and the fault switches' snapshots read again when they are half a second old
    (:data:`SNAPSHOTS`: one small read at most twice a second in a process, whatever called ``now()``)."""
    found: list[str] = []
    for name in ("session", "writing", "transaction", "reading"):
        original = getattr(Database, name)

        def noted(self: Database, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            if _on_a_loop():
                stack = traceback.extract_stack()[:-1]
                actors = [f for f in stack if "/services/" in f.filename]
                snapshot = any(f.filename.endswith(path) and f.name == function
                               for f in stack for path, function in SNAPSHOTS)
                if actors and code in actors[-1].filename and not snapshot:
                    found.append(f"{actors[-1].filename.split(code)[-1]}:{actors[-1].lineno} {actors[-1].name}")
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(Database, name, noted)
    return found


SNAPSHOTS = (("nsp_sandbox/clock.py", "_refresh"), ("nsp_sandbox/faults.py", "_refresh"))


def _noted(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, note: Callable[[], str]) -> list[str]:
    """``owner.name`` (a class's method, an object's or a module's function) replaced by one that notes each call."""
    calls: list[str] = []
    original = getattr(owner, name)

    def noted(*args: Any, **kwargs: Any) -> Any:
        calls.append(note())
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, noted)
    return calls


def _on_a_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
