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
    """Each later unit of work (``Database.session`` / ``writing`` / ``transaction``) begun on a thread running an
    event loop by an actor's code in a file under ``code`` (``"services/lps/"``; the innermost actor's frame, not
    an actor it called in process): the function's file, line and name."""
    found: list[str] = []
    for name in ("session", "writing", "transaction"):
        original = getattr(Database, name)

        def noted(self: Database, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            if _on_a_loop():
                actors = [f for f in traceback.extract_stack()[:-1] if "/services/" in f.filename]
                if actors and code in actors[-1].filename:
                    found.append(f"{actors[-1].filename.split(code)[-1]}:{actors[-1].lineno} {actors[-1].name}")
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(Database, name, noted)
    return found


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
