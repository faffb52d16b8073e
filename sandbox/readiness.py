"""When the sandbox is ready: the FHIR packages are loaded and the demo data is in.

``GET /health`` answers 503 while the sandbox is ``starting`` (packages loading) or ``seeding`` (demo
data being sent through the actors), 503 ``degraded`` with what is missing when it cannot become
ready, and 200 ``ready`` once it is. ``nsp-sandbox up`` prints "ready" at that moment and
``nsp-sandbox wait URL`` returns then, so a CI job that starts the sandbox and waits finds every demo
document at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

Status = Literal["starting", "seeding", "ready", "degraded"]


@dataclass
class Readiness:
    status: Status = "starting"
    missing: list[str] = field(default_factory=list)
    _ready: threading.Event = field(default_factory=threading.Event, repr=False)
    #: Where an outcome decided elsewhere is read (a worker of ``up --workers N`` reads the start's row), so
    #: that every process answers it from the moment it is decided, not from its next look.
    follow: Callable[[], None] | None = field(default=None, repr=False)

    def current(self) -> Status:
        """The status now, after reading an outcome decided elsewhere (:attr:`follow`) while there is none."""
        if self.follow is not None and not self._ready.is_set():
            self.follow()
        return self.status

    def seeding(self) -> None:
        if self.status == "starting":
            self.status = "seeding"

    def ready(self) -> None:
        if self.status != "degraded":
            self.status = "ready"
        self._ready.set()

    def degraded(self, missing: list[str]) -> None:
        self.status = "degraded"
        self.missing = list(missing)
        self._ready.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until ready or degraded; whether that happened within ``timeout``."""
        return self._ready.wait(timeout)

    def to_json(self) -> dict[str, object]:
        return {"status": self.status, **({"missing": self.missing} if self.missing else {})}
