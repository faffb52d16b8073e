"""What every actor is built from: settings, the clock, its database and the loaded FHIR packages."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nsp_sandbox.clock import Clock
from nsp_sandbox.config import Settings
from nsp_sandbox.cpu_lane import CpuLane
from nsp_sandbox.database import Database
from nsp_sandbox.peers import Peers

if TYPE_CHECKING:
    from nsp_sandbox.conformance.packages import PackageRegistry
    from nsp_sandbox.conformance.validator import Validator
    from nsp_sandbox.validation_process import ValidationProcess


@dataclass
class SandboxContext:
    settings: Settings
    clock: Clock
    database: Database
    #: How many processes serve this sandbox (``up --workers N``; set by ``sandbox.worker_app``). DDS's request
    #: log reads it: with more than one, each answer waits for its row (``services.dds.request_log``).
    workers: int = 1
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _packages: PackageRegistry | None = field(default=None, repr=False)
    _validator: Validator | None = field(default=None, repr=False)
    _peers: Peers | None = field(default=None, repr=False)
    _cpu_lane: CpuLane | None = field(default=None, repr=False)
    #: A second process validating beside this one (:meth:`start_validation_process`: ``nsp-sandbox up``); None:
    #: every validation is this process's own.
    validation_process: ValidationProcess | None = field(default=None, repr=False)
    #: What keeps a snapshot of state shared through the database (the clock, the fault switches, NSP's
    #: world), each re-read at :meth:`follow_shared_state`.
    followers: list[Callable[[], None]] = field(default_factory=list, repr=False)
    #: What ends an actor's background work (e.g. DDS's notification sender) when the sandbox app shuts
    #: down: each stops its thread and waits for it (:meth:`stop_background`).
    stoppers: list[Callable[[], None]] = field(default_factory=list, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings | None = None, clock: Clock | None = None) -> SandboxContext:
        settings = settings or Settings()
        return cls(settings, clock or Clock(), Database.from_url(settings.resolved_database_url()))

    def follow_shared_state(self) -> None:
        """Re-read every snapshot of shared state now. Between them, a process follows what another
        process changed within half a second; several workers on one port call this as each request
        begins, so a caller who changed something through one worker finds it in effect on the next
        request, whichever worker takes it (``sandbox.worker_app``)."""
        for follow in list(self.followers):
            follow()

    def stop_background(self) -> None:
        """Stop every actor's background work (the sandbox app's shutdown)."""
        for stop in list(self.stoppers):
            stop()

    @property
    def peers(self) -> Peers:
        """The other actors, reached over HTTP (in process when no URL is configured)."""
        with self._lock:
            if self._peers is None:
                self._peers = Peers(self.settings.peer_urls())
            return self._peers

    @property
    def cpu_lane(self) -> CpuLane:
        """The thread(s) this process's CPU-bound request work runs on, one job after another
        (:mod:`nsp_sandbox.cpu_lane`): DDS's provides and updates, the viewer's reads of notified documents, and the
        HCO message's validation at the EOJ that sends it and the GP system that receives it."""
        with self._lock:
            if self._cpu_lane is None:
                self._cpu_lane = CpuLane(self.settings.cpu_lane_threads)
                self.stoppers.append(self._cpu_lane.close)
            return self._cpu_lane

    @property
    def packages(self) -> PackageRegistry:
        """The FHIR packages from the configured sources and the package cache, loaded once."""
        with self._lock:
            if self._packages is None:
                from nsp_sandbox.conformance.packages import PackageRegistry

                self._packages = PackageRegistry.load(
                    self.settings.package_sources(), self.settings.fhir_package_cache
                )
            return self._packages

    def forget_packages(self) -> None:
        """Load the packages afresh at the next use (after new ones were installed). A validation process
        loaded the packages there were; its answers are not used until it has been started again."""
        with self._lock:
            self._packages = None
            self._validator = None
            process = self.validation_process
        if process is not None:
            process.restart()

    def start_validation_process(self, cores: frozenset[int] = frozenset()) -> ValidationProcess:
        """Start a second process validating beside this one, on ``cores`` (:mod:`nsp_sandbox.validation_process`);
        it ends with the sandbox app (:meth:`stop_background`)."""
        from nsp_sandbox.validation_process import ValidationProcess

        process = ValidationProcess(self.settings.package_sources(), self.settings.fhir_package_cache, cores=cores,
                                    fingerprint=lambda: self.packages.fingerprint)
        process.start()
        self.validation_process = process
        self.stoppers.append(process.close)
        return process

    @property
    def validator(self) -> Validator:
        """The conformance engine over the loaded packages, built once and shared by all actors."""
        packages = self.packages
        with self._lock:
            if self._validator is None:
                from nsp_sandbox.conformance.validator import Validator

                self._validator = Validator(packages)
            return self._validator
