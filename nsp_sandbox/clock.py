"""The one injectable clock every actor reads time from, so scenarios can travel in time, and the
one rule for how an instant is stored: as naive UTC (:func:`naive_utc`), the form every actor's
``DateTime`` columns hold on SQLite and PostgreSQL alike.

A clock is wall-clock time plus an offset, or a frozen instant. On its own it lives in one process
(tests); the composition root *shares* it through the database (:mod:`nsp_sandbox.clock_store`), so
every actor, every worker process and every container on that database follows one move of the
sandbox clock (``PUT /sandbox/clock``): the process that moves it at once, the others within
:data:`REFRESH_SECONDS`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

REFRESH_SECONDS = 0.5  # how stale a shared clock may be in another process


@dataclass(frozen=True)
class ClockSetting:
    """How the sandbox clock is set: an offset from real time, or a frozen instant."""

    offset: timedelta = timedelta(0)
    frozen: datetime | None = None


#: Danish time: where a rule names a Danish calendar date or week, it is judged in it.
DANISH_TIME = ZoneInfo("Europe/Copenhagen")


class ClockStore(Protocol):
    """Where a shared clock keeps its setting (the database)."""

    def load(self) -> ClockSetting | None: ...  # None: nothing stored yet

    def save(self, setting: ClockSetting) -> None: ...


class Clock:
    """Wall-clock time plus an adjustable offset (or a frozen instant)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._setting = ClockSetting()
        self._store: ClockStore | None = None
        self._checked = 0.0

    def share(self, store: ClockStore) -> None:
        """Keep this clock's setting in ``store`` and follow what other processes set there; the first
        process to share a clock stores its own setting."""
        self._store = store
        if store.load() is None:
            self._set(self._setting)
        self._refresh(force=True)

    def follow(self) -> None:
        """Read the shared setting now, not waiting for :data:`REFRESH_SECONDS` to pass."""
        self._refresh(force=True)

    def now(self) -> datetime:
        self._refresh()
        setting = self._setting
        if setting.frozen is not None:
            return setting.frozen
        return datetime.now(UTC) + setting.offset

    @property
    def setting(self) -> ClockSetting:
        self._refresh()
        return self._setting

    def travel_to(self, instant: datetime) -> None:
        """Move the sandbox's time to ``instant``; time keeps running from there."""
        if instant.tzinfo is None:
            raise ValueError("instant must carry a time zone")
        self._set(ClockSetting(offset=instant - datetime.now(UTC)))

    def freeze(self, instant: datetime | None = None) -> None:
        """Stop the sandbox's time at ``instant`` (default: its present moment)."""
        if instant is not None and instant.tzinfo is None:
            raise ValueError("instant must carry a time zone")
        self._set(ClockSetting(offset=self._setting.offset, frozen=(instant or self.now()).astimezone(UTC)))

    def reset(self) -> None:
        """Back to real time."""
        self._set(ClockSetting())

    def _set(self, setting: ClockSetting) -> None:
        with self._lock:
            self._setting = setting
            if self._store is not None:
                self._store.save(setting)
                self._checked = time.monotonic()

    def _refresh(self, force: bool = False) -> None:
        if self._store is None or (not force and time.monotonic() - self._checked < REFRESH_SECONDS):
            return
        with self._lock:
            self._checked = time.monotonic()
            try:
                self._setting = self._store.load() or self._setting
            except Exception:  # the database is away for a moment: keep the last known setting
                logging.getLogger("nsp_sandbox").warning("the shared sandbox clock could not be read", exc_info=True)


def naive_utc(moment: datetime) -> datetime:
    """``moment`` in UTC without its zone, as the actors' tables store instants. A naive ``moment``
    is taken to be UTC already."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
