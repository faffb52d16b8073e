"""DDS's log of the requests it received: who asked what, about whom, and what DDS answered.

A conformance run watches a vendor's system talk to DDS (``docs/runs.md``): a document source's
submissions — the refused ones too, which leave nothing in the registry — and a document consumer's
look-ups (the query it sent, the værdispring header, what the answer held). Every request to DDS but
the log's own face, ``metadata`` and ``reset`` is kept here, one row each, in DDS's own table
``dds_request_log``: the sandbox-clock time, the transaction, the method, path and query, the caller's
persona (the verified token's or ID card's), the patients concerned, the værdispring reason and
criticality as sent, the HTTP status, DDS's result and issues (each with its rule and IHE code) and
the entries concerned (registered, read, retrieved or updated).

What a face knows only inside (the caller, a submission's patient and entries) it tells the log with
:func:`note`; what the answer says (its status, OperationOutcome, RegistryResponse, searchset) the
log reads from the answer itself (``services.dds.request_log_http``). The newest :data:`KEPT` rows
are kept; older ones go, a few at a time, as new ones come (a log of traffic, not of record: the
registry's own tables keep everything for ever).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Integer, String, Text, bindparam, delete, func, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from nsp_sandbox.clock import naive_utc
from nsp_sandbox.cpr import CPR_SYSTEM
from nsp_sandbox.database import Database
from nsp_sandbox.driver_statement import DriverStatement
from nsp_sandbox.thread_names import name_os_thread
from services.dds.models import DdsBase, DocumentEntryRow

KEPT = 10_000  # rows kept; older ones are pruned every PRUNE_EVERY writes
PRUNE_EVERY = 500
GATHER_SECONDS = 0.1  # a request is written this long after it was kept, with those that came meanwhile
logger = logging.getLogger("services.dds.request_log")


class RequestLogRow(DdsBase):
    """One request DDS received and what it answered."""

    __tablename__ = "dds_request_log"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime)  # naive UTC, sandbox clock
    transaction: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(512))
    query: Mapped[str] = mapped_column(Text, default="")
    caller: Mapped[str | None] = mapped_column(String(128))
    patients: Mapped[str] = mapped_column(String(512), default="")  # comma-separated CPR numbers
    consent_override: Mapped[str | None] = mapped_column(Text)
    criticality: Mapped[str | None] = mapped_column(Text)
    status: Mapped[int] = mapped_column(Integer)
    result: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, default="{}")  # JSON: issues, entries, total


@dataclass
class Facts:
    """What a face tells the log about the request it is serving (kept in the request's scope state)."""

    caller: str | None = None
    patients: list[str] = field(default_factory=list)
    entries: list[str] = field(default_factory=list)
    issues: list[dict[str, Any]] = field(default_factory=list)
    result: str | None = None

    def add_patients(self, cprs: list[str]) -> None:
        self.patients.extend(c for c in cprs if c and c not in self.patients)

    def add_entries(self, ids: list[str]) -> None:
        self.entries.extend(i for i in ids if i and i not in self.entries)


FACTS_KEY = "dds_request_log"


def facts_of(state: Any) -> Facts | None:
    """The facts of the request whose ``request.state`` (or scope ``state`` dict) is ``state``."""
    found = state.get(FACTS_KEY) if isinstance(state, dict) else getattr(state, FACTS_KEY, None)
    return found if isinstance(found, Facts) else None


def note(request: Any, *, caller: str | None = None, patients: list[str] | None = None,
         entries: list[str] | None = None) -> None:
    """Tell the log about the request being served (a no-op outside the log's middleware)."""
    facts = facts_of(request.state)
    if facts is None:
        return
    if caller:
        facts.caller = caller
    facts.add_patients(patients or [])
    facts.add_entries(entries or [])


def cprs_in(node: Any) -> list[str]:
    """Every CPR number an ITI-65 body (or part of one) names as ``{system: CPR, value}``, in order."""
    found: list[str] = []

    def walk(item: Any) -> None:
        if isinstance(item, dict):
            if item.get("system") == CPR_SYSTEM and isinstance(item.get("value"), str):
                found.append(item["value"])
            for value in item.values():
                walk(value)
        elif isinstance(item, list):
            for value in item:
                walk(value)

    walk(node)
    return list(dict.fromkeys(found))


def registered_ids(transaction_response: dict[str, Any]) -> list[str]:
    """The DocumentReference ids a transaction-response names (``location`` ``DocumentReference/{id}``)."""
    ids: list[str] = []
    for entry in transaction_response.get("entry") or []:
        location = str(((entry or {}).get("response") or {}).get("location") or "")
        if location.startswith("DocumentReference/"):
            ids.append(location.split("/")[1])
    return ids


@dataclass(frozen=True)
class Received:
    """One request as the middleware saw it, ready to keep."""

    at: datetime
    transaction: str
    method: str
    path: str
    query: str
    consent_override: str | None
    criticality: str | None
    status: int
    facts: Facts
    total: int | None = None


# Built once: a row per request, and the patients of the entries a request named without them.
_INSERT = insert(RequestLogRow.__table__)
_PATIENTS_OF = select(DocumentEntryRow.patient_value).where(
    DocumentEntryRow.id.in_(bindparam("entry_ids", expanding=True)))
# The same for one entry (a retrieval, ITI-68), run on the driver's cursor.
_PATIENT_OF = DriverStatement(
    select(DocumentEntryRow.patient_value).where(DocumentEntryRow.id == bindparam("entry_id")))


class RequestLog:
    """The ``dds_request_log`` table over one database.

    :meth:`keep` only queues a request: the log's own thread writes what is queued 0.1 s later, every row
    that came meanwhile in one transaction, so that a burst of requests costs DDS a few transactions instead
    of one each, and in one process no request waits for its row. :meth:`read` writes what is queued first,
    so a reader sees every request kept before it asked; :meth:`close` (at the app's shutdown) writes the rest.

    ``shared``: several processes serve this DDS (``up --workers N``), and a reader or a reset in one of
    them cannot write another's queue. Each request then waits for its row instead (:meth:`kept`): the
    thread writes as soon as it is asked, and every row that came while it was writing goes in the next
    transaction, so the requests of a burst still share their transactions.
    """

    def __init__(self, database: Database, *, shared: bool = False) -> None:
        self.database = database
        self.shared = shared
        self._writes = 0
        self._queued: list[Received] = []
        self._released: list[Callable[[], None]] = []  # what the requests waiting for the queued rows are told
        self._queue_lock = threading.Lock()  # guards _queued, _released and _write_asked
        self._write_asked = False  # a write of the queue is asked of the thread and has not taken it yet
        self._writing = threading.Lock()  # one writer at a time: rows go in in the order they were kept
        self._thread: ThreadPoolExecutor | None = None
        self._closing = threading.Event()  # set while closing: a write gathering rows writes them at once

    def create_table(self) -> None:
        RequestLogRow.__table__.create(self.database.engine, checkfirst=True)  # type: ignore[attr-defined]

    def keep(self, received: Received) -> None:
        """Queue ``received`` for the log's thread to write (at once when it is idle)."""
        self._queue(received, None)

    async def kept(self, received: Received) -> None:
        """Queue ``received`` and return once it is written (or its write has failed, which is logged)."""
        loop = asyncio.get_running_loop()
        written: asyncio.Future[None] = loop.create_future()

        def release() -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: the app has shut down, nobody waits
                loop.call_soon_threadsafe(_settle, written)

        self._queue(received, release)
        await written

    def _queue(self, received: Received, release: Callable[[], None] | None) -> None:
        with self._queue_lock:
            self._queued.append(received)
            if release is not None:
                self._released.append(release)
            if self._write_asked:
                return
            self._write_asked = True
            if self._thread is None:
                self._thread = ThreadPoolExecutor(1, thread_name_prefix="dds-request-log",
                                                  initializer=name_os_thread)
            thread = self._thread
        thread.submit(self._write_soon)

    def _write_soon(self) -> None:
        if not self.shared:  # nobody waits for it: what comes meanwhile joins this transaction
            self._closing.wait(GATHER_SECONDS)
        self.write_queued()

    def write_queued(self) -> None:
        """Write every queued request, in one transaction; a failure is logged, never a request's failure."""
        with self._writing:
            with self._queue_lock:
                batch, self._queued, self._write_asked = self._queued, [], False
                released, self._released = self._released, []
            try:
                if batch:
                    self._write(batch)
            finally:
                for release in released:
                    release()

    def close(self) -> None:
        """Write what is queued and stop the log's thread; a write gathering rows does so at once, without
        waiting out the rest of its ``GATHER_SECONDS``."""
        with self._queue_lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._closing.set()
            thread.shutdown(wait=True)
            self._closing.clear()
        self.write_queued()

    def _write(self, batch: list[Received]) -> None:
        try:
            with self.database.transaction() as connection:
                rows = []
                for received in batch:
                    facts = received.facts
                    if facts.entries and len(facts.patients) == 0:
                        if len(facts.entries) == 1:
                            found = [row[0] for row in _PATIENT_OF.rows(connection, {"entry_id": facts.entries[0]})]
                        else:
                            found = list(connection.scalars(_PATIENTS_OF, {"entry_ids": facts.entries[:50]}))
                        facts.add_patients(sorted(set(found)))
                    detail: dict[str, Any] = {"issues": facts.issues, "entries": facts.entries}
                    if received.total is not None:
                        detail["total"] = received.total
                    rows.append(dict(
                        at=naive_utc(received.at), transaction=received.transaction, method=received.method,
                        path=received.path[:512], query=received.query, caller=facts.caller,
                        patients=",".join(facts.patients)[:512], consent_override=received.consent_override,
                        criticality=received.criticality, status=received.status, result=facts.result,
                        detail=json.dumps(detail, ensure_ascii=False)))
                connection.execute(_INSERT, rows)
                before, self._writes = self._writes, self._writes + len(rows)
                if self._writes // PRUNE_EVERY != before // PRUNE_EVERY:
                    newest = connection.scalar(select(func.max(RequestLogRow.pk))) or 0
                    connection.execute(delete(RequestLogRow).where(RequestLogRow.pk <= newest - KEPT))
        except Exception:  # the log is an aid to testing: DDS's answer never depends on it
            logger.warning("DDS could not keep %d requests in its request log (the first: %s %s)", len(batch),
                           batch[0].method, batch[0].path, exc_info=True)

    def read(self, *, after: int = 0, caller: str | None = None, patient: str | None = None,
             transaction: str | None = None, count: int = 100) -> tuple[list[dict[str, Any]], int]:
        """The kept requests after ``after`` (oldest first, at most ``count``), and the newest ``pk`` kept."""
        self.write_queued()
        query = select(RequestLogRow).where(RequestLogRow.pk > after)
        if caller:
            query = query.where(RequestLogRow.caller == caller)
        if transaction:
            query = query.where(RequestLogRow.transaction == transaction)
        if patient:
            query = query.where(RequestLogRow.patients.contains(patient))
        with self.database.session() as session:
            newest = session.scalar(select(func.max(RequestLogRow.pk))) or 0
            rows = list(session.scalars(query.order_by(RequestLogRow.pk).limit(count))) if count else []
        return [_as_json(row) for row in rows if not patient or patient in row.patients.split(",")], newest


def _settle(written: asyncio.Future[None]) -> None:
    if not written.done():  # a request cancelled meanwhile no longer waits
        written.set_result(None)


def _as_json(row: RequestLogRow) -> dict[str, Any]:
    detail = json.loads(row.detail or "{}")
    return {"id": row.pk, "at": row.at.replace(tzinfo=UTC).isoformat(timespec="milliseconds"),
            "transaction": row.transaction, "method": row.method, "path": row.path, "query": row.query,
            "caller": row.caller, "patients": [p for p in row.patients.split(",") if p],
            "consent_override": row.consent_override, "criticality": row.criticality, "status": row.status,
            "result": row.result, "issues": detail.get("issues", []), "entries": detail.get("entries", []),
            **({"total": detail["total"]} if "total" in detail else {})}
