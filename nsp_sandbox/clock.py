"""The one injectable clock every actor reads time from, so scenarios can travel in time, and the
one rule for how an instant is stored: as naive UTC (:func:`naive_utc`), the form every actor's
``DateTime`` columns hold on SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class Clock:
    """Wall-clock time plus an adjustable offset (or a frozen instant)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = timedelta(0)
        self._frozen: datetime | None = None

    def now(self) -> datetime:
        with self._lock:
            if self._frozen is not None:
                return self._frozen
            return datetime.now(UTC) + self._offset

    def travel_to(self, instant: datetime) -> None:
        """Move the sandbox's time to ``instant``; time keeps running from there."""
        if instant.tzinfo is None:
            raise ValueError("instant must carry a time zone")
        with self._lock:
            self._frozen = None
            self._offset = instant - datetime.now(UTC)

    def freeze(self, instant: datetime | None = None) -> None:
        with self._lock:
            self._frozen = instant or (datetime.now(UTC) + self._offset)

    def reset(self) -> None:
        with self._lock:
            self._offset = timedelta(0)
            self._frozen = None


def naive_utc(moment: datetime) -> datetime:
    """``moment`` in UTC without its zone, as the actors' tables store instants. A naive ``moment``
    is taken to be UTC already."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
