"""Fault injection: the sandbox's fault switches, one store for every actor.

A switch is named by its actor and its name (``dds``/``registry-busy``) and is listed in
:data:`CATALOGUE` with what it does and which options it takes. A switch that is on is a row of
table ``sandbox_fault``, so every process and every container on the database follows one
``PUT /sandbox/faults/{actor}/{name}`` (as the clock does, :mod:`nsp_sandbox.clock_store`): the
process that sets it at once, the others within :data:`REFRESH_SECONDS`. A switch is on for a
number of calls (``calls``), until an instant on the sandbox clock (``until``), or until it is
switched off; each call it acts on uses one of its calls (:meth:`FaultSwitches.take`, one atomic
``UPDATE`` so two workers never both use the last one).

Where a switch acts is decided in one of two ways: switches that answer for the actor (``unavailable``,
``slow``, ``refuse``) are applied by :class:`nsp_sandbox.fault_middleware.FaultInjection` around the
actor's app on the paths the catalogue names; *flags* are taken there too (or by the actor at the
moment it acts) and read by the actor's own code with :func:`current`.
"""

from __future__ import annotations

import contextvars
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, Integer, String, delete, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from starlette.concurrency import run_in_threadpool

from nsp_sandbox.clock import Clock, naive_utc
from nsp_sandbox.database import Database
from nsp_sandbox.outcome import FhirError, Issue

REFRESH_SECONDS = 0.5  # how stale another process's view of the switches may be
SOURCE = "nsp-sandbox control face: fault switches (docs/control.md)"


@dataclass(frozen=True)
class Option:
    """An option a switch takes besides ``on`` / ``calls`` / ``until``."""

    kind: type  # int | float | str
    default: Any
    text: str
    minimum: float | None = 0


@dataclass(frozen=True)
class Switch:
    """One fault switch. ``effect``: ``unavailable`` (answer ``status`` at once), ``slow`` (wait
    ``seconds``, then answer normally), ``flag`` (the actor's own code acts). ``paths``: the calls it
    counts, as ``METHOD /path-prefix`` under the actor's mount (empty: taken by the actor itself)."""

    actor: str
    name: str
    description: str
    effect: str = "flag"
    paths: tuple[str, ...] = ()
    options: Mapping[str, Option] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return self.actor, self.name


_XDS = ("POST /ddsregistry", "POST /ddsrepository", "POST /drs/proxy", "POST /dros")
_STS = ("POST /sts/token", "POST /sts/idcard", "POST /sts/services/NewSecurityTokenService")
_EHMI = ("POST /ehmi",)

CATALOGUE: tuple[Switch, ...] = (
    Switch("dds", "registry-busy", "The XDS.b face answers every request with a Failure naming "
           "XDSRegistryBusy (ITI TF-3 Table 4.2.4.1-2), as a registry under load does", paths=_XDS),
    Switch("dds", "unavailable", "Both faces (MHD and XDS.b) answer HTTP 503 Service Unavailable with "
           "Retry-After", effect="unavailable", paths=("* /",),
           options={"status": Option(int, 503, "the HTTP status answered", 400),
                    "retry_after": Option(int, 30, "seconds in the Retry-After header")}),
    Switch("dds", "slow", "Both faces answer, but only after waiting 'seconds'", effect="slow", paths=("* /",),
           options={"seconds": Option(float, 5.0, "how long each answer is held back")}),
    Switch("nsp", "sts-refuse", "The STS refuses to issue tokens and ID cards (JSON token, DGWS ID card, "
           "WS-Trust): HTTP 'status'", effect="unavailable", paths=_STS,
           options={"status": Option(int, 503, "the HTTP status answered", 400),
                    "retry_after": Option(int, 30, "seconds in the Retry-After header")}),
    Switch("nsp", "sts-expired-token", "The STS issues tokens that have already expired (issued 'minutes' "
           "ago; the token lives 10 minutes)", paths=("POST /sts/token",),
           options={"minutes": Option(int, 15, "how long ago the token was issued", 11)}),
    Switch("lps", "mode-ok", "The GP inbox answers every message 'ok', whatever is wrong with it", paths=_EHMI),
    Switch("lps", "mode-fatal", "The GP inbox answers every message 'fatal-error'", paths=_EHMI),
    Switch("lps", "mode-transient", "The GP inbox answers every message 'transient-error' (mailbox out of "
           "operation)", paths=_EHMI),
    Switch("lps", "withhold", "The GP inbox never sends the acknowledgement", paths=_EHMI),
    Switch("lps", "twice", "The GP inbox sends each acknowledgement twice (identical copies)", paths=_EHMI),
    Switch("lps", "delay", "The GP inbox holds each acknowledgement back 'minutes' on the sandbox clock "
           "(sent at POST /lps/outbox/deliver)", paths=_EHMI,
           options={"minutes": Option(int, 10, "how long the acknowledgement waits", 1)}),
    Switch("lps", "ack-late", "The GP inbox sends each acknowledgement late: after the EOJ's resend "
           "deadline ('minutes', default 35 > MedCom's 30), at POST /lps/outbox/deliver", paths=_EHMI,
           options={"minutes": Option(int, 35, "how long the acknowledgement waits", 1)}),
    Switch("lps", "ack-duplicate-different", "The GP inbox sends each acknowledgement twice, the second "
           "copy with the same ids but a different content (another response code and text)", paths=_EHMI),
    Switch("plsp", "on-demand-fail", "The hub's on-demand generation fails: GET /plsp/ondemand/{key} "
           "answers HTTP 'status'", effect="unavailable", paths=("GET /ondemand/",),
           options={"status": Option(int, 500, "the HTTP status answered", 400),
                    "retry_after": Option(int, 0, "seconds in the Retry-After header (0: none)")}),
    Switch("plsp", "on-demand-timeout", "The hub's on-demand generation takes 'seconds' (longer than DDS "
           "waits: NSP_SANDBOX_DDS_ON_DEMAND_TIMEOUT_SECONDS, default 10)", effect="slow",
           paths=("GET /ondemand/",), options={"seconds": Option(float, 15.0, "how long generation takes")}),
    Switch("eoj", "resend", "The EOJ resends each message at once, without waiting for the acknowledgement "
           "(a new Bundle.id, the same MessageHeader.id)"),
    Switch("eoj", "duplicate", "The EOJ sends each message twice, identical (the same Bundle.id)"),
    Switch("eoj", "broken-chain", "The EOJ breaks the correction chain: a modification or retraction "
           "points at a message that was never sent (Provenance.entity)"),
)
BY_KEY: dict[tuple[str, str], Switch] = {s.key: s for s in CATALOGUE}
ON_FIELDS = ("on", "calls", "until")

_NOTHING: Mapping[tuple[str, str], dict[str, Any]] = MappingProxyType({})
_taken: contextvars.ContextVar[Mapping[tuple[str, str], dict[str, Any]]] = contextvars.ContextVar(
    "sandbox_faults_taken", default=_NOTHING)


class _Base(DeclarativeBase):
    pass


class FaultRow(_Base):
    """A switch that is on (no row: off)."""

    __tablename__ = "sandbox_fault"
    actor: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    calls_left: Mapped[int | None] = mapped_column(Integer, nullable=True)
    until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    options: Mapped[dict] = mapped_column(JSON)  # type: ignore[type-arg]
    set_at: Mapped[datetime] = mapped_column(DateTime)
    used: Mapped[int] = mapped_column(Integer, default=0)


def _refused(text: str, where: str, rule: str = "sandbox-fault") -> FhirError:
    return FhirError(422, Issue("error", "invalid", text, expression=where, rule=rule, source=SOURCE))


def _instant(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return moment
    raise _refused("'until' is an instant with a time zone on the sandbox clock, e.g. 2026-01-15T00:30:00+01:00",
                   "until")


def read_options(switch: Switch, body: Mapping[str, Any]) -> dict[str, Any]:
    """The switch's options from ``body`` (defaults filled in); 422 naming an unknown or wrong field."""
    unknown = sorted(set(body) - set(ON_FIELDS) - set(switch.options))
    if unknown:
        known = ", ".join([*ON_FIELDS, *switch.options])
        raise _refused(f"Unknown field(s) {', '.join(unknown)}; {switch.actor}/{switch.name} takes {known}",
                       unknown[0], "sandbox-unknown-field")
    out: dict[str, Any] = {}
    for name, option in switch.options.items():
        value = body.get(name, option.default)
        number = option.kind in (int, float)
        if isinstance(value, bool) or not isinstance(value, (int, float) if option.kind is float else option.kind) \
                or (number and option.minimum is not None and value < option.minimum):
            floor = f" ≥ {option.minimum:g}" if number and option.minimum is not None else ""
            raise _refused(f"'{name}' is a {option.kind.__name__}{floor}: {option.text}", name)
        out[name] = value
    return out


class FaultSwitches:
    """The switches of one database; :meth:`of` gives the one instance per database in this process."""

    _instances: ClassVar[weakref.WeakKeyDictionary[Database, FaultSwitches]] = weakref.WeakKeyDictionary()
    _instances_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, database: Database, clock: Clock) -> None:
        self._database = database
        self._clock = clock
        database.create_tables(_Base.metadata)
        self._lock = threading.Lock()
        self._on: frozenset[tuple[str, str]] = frozenset()
        self._checked = -1e9

    @classmethod
    def of(cls, database: Database, clock: Clock) -> FaultSwitches:
        with cls._instances_lock:
            found = cls._instances.get(database)
            if found is None:
                found = cls._instances[database] = cls(database, clock)
            return found

    # ---- the control face ------------------------------------------------------------------------

    def set(self, actor: str, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Switch on (``{"on": true, "calls": n | "until": instant, …options}``) or off (``{"on": false}``)."""
        switch = BY_KEY.get((actor, name))
        if switch is None:
            raise FhirError(404, Issue("error", "not-found", f"No fault switch {actor}/{name} (GET /sandbox/faults)",
                                       rule="sandbox-fault-known", source=SOURCE))
        on = body.get("on")
        if not isinstance(on, bool):
            raise _refused("'on' is true or false", "on")
        options = read_options(switch, body)
        calls, until = body.get("calls"), body.get("until")
        if calls is not None and (isinstance(calls, bool) or not isinstance(calls, int) or calls < 1):
            raise _refused("'calls' is a whole number ≥ 1: how many calls the switch acts on", "calls")
        if calls is not None and until is not None:
            raise _refused("Give 'calls' or 'until', not both", "until")
        moment = _instant(until) if until is not None else None
        with self._database.writing("fault", actor, name) as session:  # set at once by two workers: one row
            session.execute(delete(FaultRow).where((FaultRow.actor == actor) & (FaultRow.name == name)))
            if on:
                session.add(FaultRow(actor=actor, name=name, calls_left=calls, until=naive_utc(moment) if moment
                                     else None, options=options, set_at=naive_utc(self._clock.now()), used=0))
        self._refresh(force=True)
        return self.describe(switch)

    def clear(self) -> None:
        with self._database.session() as session:
            session.execute(delete(FaultRow))
        self._refresh(force=True)

    def describe(self, switch: Switch) -> dict[str, Any]:
        with self._database.session() as session:
            row = session.get(FaultRow, switch.key)
            state = self._state(row)
        options = {name: {"type": o.kind.__name__, "default": o.default, "text": o.text}
                   for name, o in switch.options.items()}
        where = list(switch.paths) or ["taken by the actor when it acts"]
        return {"actor": switch.actor, "name": switch.name, "description": switch.description,
                "effect": switch.effect, "counts": where, "options": options, "state": state}

    def all(self) -> list[dict[str, Any]]:
        return [self.describe(s) for s in CATALOGUE]

    def _state(self, row: FaultRow | None) -> dict[str, Any]:
        if row is None or self._expired(row):
            return {"on": False}
        until = row.until.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z") if row.until else None
        return {"on": True, "calls_left": row.calls_left, "until": until, "used": row.used, **row.options}

    def _expired(self, row: FaultRow) -> bool:
        return row.until is not None and naive_utc(self._clock.now()) >= row.until

    # ---- the actors --------------------------------------------------------------------------------

    def is_on(self, actor: str, name: str) -> bool:
        """Whether the switch may be on (cheap: a snapshot at most :data:`REFRESH_SECONDS` old)."""
        self._refresh()
        return (actor, name) in self._on

    def take(self, actor: str, name: str) -> dict[str, Any] | None:
        """The switch's options if it is on now, using one of its calls; ``None`` when it is off."""
        if not self.is_on(actor, name):
            return None
        where = (FaultRow.actor == actor) & (FaultRow.name == name)
        with self._database.session() as session:
            row = session.get(FaultRow, (actor, name))
            if row is None or self._expired(row):
                if row is not None:  # one statement: another request taking it at once is no error
                    session.execute(delete(FaultRow).where(where & (FaultRow.until == row.until)))
                return None
            options = dict(row.options)
            if row.calls_left is None:
                session.execute(update(FaultRow).where(where).values(used=FaultRow.used + 1))
                return options
            used = session.execute(update(FaultRow).where(where & (FaultRow.calls_left > 0))
                                   .values(calls_left=FaultRow.calls_left - 1, used=FaultRow.used + 1))
            if getattr(used, "rowcount", 0) != 1:
                return None
            session.execute(delete(FaultRow).where(where & (FaultRow.calls_left <= 0)))
        return options

    async def taken(self, actor: str, name: str) -> dict[str, Any] | None:
        """:meth:`take` for a caller on an event loop: the snapshot of the switches that are on read again when it
        is stale, and the switch's row used only when it is on, both on a worker thread."""
        if self._stale():
            await run_in_threadpool(self._refresh)
        if (actor, name) not in self._on:
            return None
        return await run_in_threadpool(self.take, actor, name)

    def follow(self) -> None:
        """Read which switches are on now, not waiting for :data:`REFRESH_SECONDS` to pass."""
        self._refresh(force=True)

    def _stale(self) -> bool:
        return time.monotonic() - self._checked >= REFRESH_SECONDS

    def _refresh(self, force: bool = False) -> None:
        if not force and not self._stale():
            return
        with self._lock:
            with self._database.reading() as session:
                self._on = frozenset((a, n) for a, n in session.execute(select(FaultRow.actor, FaultRow.name)))
            self._checked = time.monotonic()


# ---- what the running request took ---------------------------------------------------------------


def current(actor: str, name: str) -> dict[str, Any] | None:
    """The options of switch ``actor``/``name`` if it was taken for the request being answered."""
    return _taken.get().get((actor, name))


def taking(taken: Mapping[tuple[str, str], dict[str, Any]]) -> contextvars.Token[Mapping[tuple[str, str],
                                                                                       dict[str, Any]]]:
    """Record ``taken`` (with what outer requests took) for the request being answered."""
    return _taken.set({**_taken.get(), **taken})


def done(token: contextvars.Token[Mapping[tuple[str, str], dict[str, Any]]]) -> None:
    _taken.reset(token)
