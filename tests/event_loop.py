"""Where a function or method is called: on a thread that runs an event loop (holding every other request of the
process up meanwhile) or on another thread (a worker thread, the CPU lane)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest


def where_it_runs(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[str]:
    """Each later call of ``owner.name``: ``"loop"`` when made on a thread running an event loop, else ``"thread"``."""
    return _noted(monkeypatch, owner, name, lambda: "loop" if _on_a_loop() else "thread")


def threads_it_runs_on(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[str]:
    """The name of the thread each later call of ``owner.name`` is made on."""
    return _noted(monkeypatch, owner, name, lambda: threading.current_thread().name)


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
