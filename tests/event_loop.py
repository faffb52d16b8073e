"""Where a method is called: on a thread that runs an event loop (holding every other request of the process
up meanwhile) or on another thread (a worker thread, the CPU lane)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest


def where_it_runs(monkeypatch: pytest.MonkeyPatch, cls: type, name: str) -> list[str]:
    """Each later call of ``cls.name``: ``"loop"`` when made on a thread running an event loop, else ``"thread"``."""
    calls: list[str] = []
    original = getattr(cls, name)

    def noted(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            asyncio.get_running_loop()
            calls.append("loop")
        except RuntimeError:
            calls.append("thread")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, name, noted)
    return calls
