"""The SQL layer of the DDS registry: domain objects to rows and back, query conditions, paging.

No rule lives here: ``services.dds.registry`` decides what is stored, this module says how.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Connection, Row, Table, func, insert, not_, or_, select, update
from sqlalchemy.orm import Session

from nsp_sandbox.clock import naive_utc
from nsp_sandbox.database import Database, InsertIfAbsent, hold
from nsp_sandbox.driver_statement import DriverStatement
from nsp_sandbox.fhir_http import json_bytes
from services.dds.domain import (
    AvailabilityStatus,
    Document,
    DocumentEntry,
    ObjectType,
    PatientId,
    StoredEntry,
    StoredSubmissionSet,
    SubmissionSet,
)
from services.dds.models import (
    DdsBase,
    DocumentEntryRow,
    DocumentRow,
    SubmissionMemberRow,
    SubmissionSetRow,
)
from services.dds.queries import (
    EntryQuery,
    SubmissionSetQuery,
    code_condition,
    period_condition,
    point_condition,
    token_condition,
    withheld_condition,
)


@dataclass(frozen=True)
class Page:
    """One page of a search: the rows, the total number of matches, and where paging can go."""

    items: list[Any]
    total: int
    has_next: bool
    has_prev: bool
    first_pk: int | None
    last_pk: int | None


@contextmanager
def write_transaction(database: Database) -> Iterator[Connection]:
    """One transaction that reads what it checks and then writes, committed or rolled back whole.

    On SQLite the write lock is taken up front (``BEGIN IMMEDIATE``): writers queue for it (the
    busy timeout), and what a transaction reads for its checks is what it writes over; the driver
    would otherwise begin only at the first write, after the checks, and two writers could both
    read an entry as ``current``. On PostgreSQL (READ COMMITTED) reading locks nothing: every status
    change is a guarded ``UPDATE`` (:func:`set_status`) that re-checks the row it changes.

    Its statements are Core statements on one connection (``Database.transaction``): no ORM session
    around them, whose bookkeeping cost more than a provide's ten statements on SQLite.
    """
    with database.transaction() as connection:
        if database.is_sqlite:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        yield connection


_ENTRY_TABLE = DocumentEntryRow.__table__


def set_status(connection: Connection, target: StoredEntry, new_status: AvailabilityStatus, now: datetime,
               comment: str | None = None) -> bool:
    """Compare and set: move ``target`` to ``new_status`` only if its row still has the status and
    version ``target`` was read with (the snapshot the caller checked); False when it does not. With
    ``comment`` the entry's ``description`` becomes it (why it was deprecated)."""
    values: dict[str, Any] = {"status": new_status.value, "version": target.version + 1, "updated_at": now}
    if comment is not None:
        values["resource"] = dump({**target.resource, "description": comment})
    result = connection.execute(
        update(_ENTRY_TABLE)
        .where(_ENTRY_TABLE.c.pk == target.pk, _ENTRY_TABLE.c.status == target.status.value,
               _ENTRY_TABLE.c.version == target.version)
        .values(**values)
    )
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]


def dump(resource: dict[str, Any]) -> str:
    """A resource as stored: compact JSON, non-ASCII kept."""
    return json_bytes(resource).decode("utf-8")


_INSERTS: dict[type[DdsBase], DriverStatement] = {}


def insert_many(unit: Session | Connection, model: type[DdsBase], rows: list[dict[str, Any]]) -> None:
    """An executemany insert on the driver's cursor (no ORM bookkeeping), skipped when there is nothing to insert."""
    if rows:
        statement = _INSERTS.get(model)
        if statement is None:
            statement = _INSERTS[model] = DriverStatement(insert(model.__table__))
        statement.run_many(connection_of(unit), rows)


def connection_of(unit: Session | Connection) -> Connection:
    """The connection a unit of work runs on (a session's, in its transaction)."""
    return unit if isinstance(unit, Connection) else unit.connection()


def entry_values(entry: DocumentEntry, sset_pk: int, now: datetime, submitter: str | None = None) -> dict[str, Any]:
    """The ``dds_document_entry`` row of a new entry under submission set ``sset_pk``."""
    return {
        "id": entry.id, "entry_uuid": entry.entry_uuid, "unique_id": entry.unique_id,
        "patient_system": entry.patient.system, "patient_value": entry.patient.value,
        "status": entry.status.value, "version": 1, "mime_type": entry.mime_type,
        "creation": naive_utc(entry.creation) if entry.creation else None,
        "date": naive_utc(entry.date),
        "period_start": naive_utc(entry.period_start) if entry.period_start else None,
        "period_end": naive_utc(entry.period_end) if entry.period_end else None,
        "object_type": entry.object_type.value, "source_url": entry.source_url, "submitter": submitter,
        "document_hash": entry.document.hash if entry.document else None,
        "size": entry.document.size if entry.document else None,
        "submission_set_pk": sset_pk, "registered_at": now, "updated_at": now,
        "resource": dump(entry.resource),
    }


def submission_set_values(sset: SubmissionSet, now: datetime) -> dict[str, Any]:
    """The ``dds_submission_set`` row of a new submission set."""
    return {
        "id": sset.id, "unique_id": sset.unique_id, "entry_uuid": sset.entry_uuid,
        "patient_system": sset.patient.system, "patient_value": sset.patient.value, "status": "current",
        "submission_time": naive_utc(sset.submission_time) if sset.submission_time else None,
        "source_id": sset.source_id,
        "designation_system": sset.designation.system if sset.designation else None,
        "designation_code": sset.designation.code if sset.designation else None,
        "registered_at": now, "resource": dump(sset.resource),
    }


def association_values(kind: str, source_pk: int, target_pk: int, sset_pk: int, now: datetime) -> dict[str, Any]:
    """The ``dds_association`` row of a relation from entry ``source_pk`` to ``target_pk``."""
    return {"kind": kind, "source_entry_pk": source_pk, "target_entry_pk": target_pk,
            "submission_set_pk": sset_pk, "created_at": now}


def status_change_values(entry_pk: int, from_status: AvailabilityStatus, to_status: AvailabilityStatus,
                         reason: str, now: datetime) -> dict[str, Any]:
    """The ``dds_status_change`` row recording one entry's status change."""
    return {"entry_pk": entry_pk, "from_status": from_status.value, "to_status": to_status.value,
            "reason": reason, "changed_at": now}


def code_rows(entry: DocumentEntry, entry_pk: int) -> list[dict[str, Any]]:
    """The ``dds_entry_code`` rows of an entry: one per searchable code."""
    return [
        {"entry_pk": entry_pk, "param": param, "system": code.system, "code": code.code}
        for param, codes in entry.codes.items() for code in codes
    ]


def stored_entry(row: DocumentEntryRow | Row[Any]) -> StoredEntry:
    """A registered entry as the domain reads it back (from the mapped row, or a plain row of its columns)."""
    return StoredEntry(
        pk=row.pk, id=row.id, entry_uuid=row.entry_uuid, unique_id=row.unique_id,
        patient=PatientId(row.patient_system, row.patient_value), status=AvailabilityStatus(row.status),
        version=row.version, mime_type=row.mime_type, document_hash=row.document_hash, size=row.size,
        date=row.date, updated_at=row.updated_at, resource=json.loads(row.resource),
        object_type=ObjectType(row.object_type), source_url=row.source_url, submitter=row.submitter,
    )


def stored_sets(session: Session, rows: Sequence[SubmissionSetRow | Row[Any]]) -> list[StoredSubmissionSet]:
    """Registered submission sets as the domain reads them back, with their members' ids."""
    members: dict[int, list[str]] = {}
    if rows:
        for sset_pk, entry_id in session.execute(
            select(SubmissionMemberRow.submission_set_pk, DocumentEntryRow.id)
            .join(DocumentEntryRow, DocumentEntryRow.pk == SubmissionMemberRow.entry_pk)
            .where(SubmissionMemberRow.submission_set_pk.in_([r.pk for r in rows]))
            .order_by(DocumentEntryRow.pk)
        ):
            members.setdefault(sset_pk, []).append(entry_id)
    return [
        StoredSubmissionSet(pk=r.pk, id=r.id, patient=PatientId(r.patient_system, r.patient_value),
                            status=r.status, registered_at=r.registered_at, resource=json.loads(r.resource),
                            member_ids=tuple(members.get(r.pk, ())))
        for r in rows
    ]


def entry_conditions(query: EntryQuery) -> list[ColumnElement[bool]]:
    """The SQL conditions of an ITI-67 query."""
    conditions = [token_condition(DocumentEntryRow.patient_system, DocumentEntryRow.patient_value, group)
                  for group in query.patients]
    if query.statuses is not None:
        conditions.append(DocumentEntryRow.status.in_(query.statuses))
    if query.ids is not None:
        conditions.append(DocumentEntryRow.id.in_(query.ids))
    for param, alternatives in query.tokens:
        conditions.append(code_condition(param, alternatives))
    for name, values in query.dates:
        column = DocumentEntryRow.creation if name == "creation" else DocumentEntryRow.date
        conditions.append(or_(*(point_condition(column, v) for v in values)))
    for values in query.periods:
        conditions.append(or_(*(period_condition(DocumentEntryRow.period_start, DocumentEntryRow.period_end, v)
                                for v in values)))
    conditions.extend(not_(withheld_condition(w)) for w in query.withheld)
    return conditions


def submission_set_conditions(query: SubmissionSetQuery) -> list[ColumnElement[bool]]:
    """The SQL conditions of an ITI-66 query."""
    conditions = [token_condition(SubmissionSetRow.patient_system, SubmissionSetRow.patient_value, group)
                  for group in query.patients]
    if query.statuses is not None:
        conditions.append(SubmissionSetRow.status.in_(query.statuses))
    if query.ids is not None:
        conditions.append(SubmissionSetRow.id.in_(query.ids))
    for alternatives in query.identifiers:
        conditions.append(token_condition(None, SubmissionSetRow.unique_id, alternatives)
                          | token_condition(None, SubmissionSetRow.entry_uuid, alternatives))
    for alternatives in query.source_ids:
        conditions.append(token_condition(None, SubmissionSetRow.source_id, alternatives))
    for alternatives in query.designations:
        conditions.append(token_condition(SubmissionSetRow.designation_system,
                                          SubmissionSetRow.designation_code, alternatives))
    for values in query.dates:
        conditions.append(or_(*(point_condition(SubmissionSetRow.submission_time, v) for v in values)))
    if query.excluded_patients:
        conditions.append(SubmissionSetRow.patient_value.not_in(query.excluded_patients))
    return conditions


@dataclass(frozen=True)
class CountedPage:
    """A newest-first keyset page of plain rows, with the number of all matches."""

    rows: list[Row[Any]]
    total: int
    has_next: bool
    has_prev: bool

    def page(self, items: list[Any]) -> Page:
        """The search's :class:`Page` of ``items``, read from these rows (its cursors: the first and last pk)."""
        rows = self.rows
        return Page(items, self.total, self.has_next, self.has_prev,
                    rows[0].pk if rows else None, rows[-1].pk if rows else None)


def counted_page(session: Session, table: Table, conditions: Sequence[ColumnElement[bool]], count: int,
                 after_pk: int | None, before_pk: int | None) -> CountedPage:
    """The rows of ``table`` matching ``conditions`` on one keyset page (``count`` rows after ``after_pk`` or
    before ``before_pk``, newest first), and how many match in all: one statement (one round trip, one
    snapshot), the number a scalar subquery beside the rows, which are read plain (no mapped objects). A
    page past the last match has no row to carry the number: it is counted on its own."""
    counted = select(func.count()).select_from(table).where(*conditions)
    if count == 0:
        total = session.scalar(counted) or 0
        return CountedPage([], total, total > 0, False)
    pk = table.c.pk
    statement = select(table, counted.correlate(None).scalar_subquery().label("total_matching")).where(*conditions)
    if before_pk is not None:
        rows = list(session.execute(statement.where(pk > before_pk).order_by(pk.asc()).limit(count + 1)))
        has_next, has_prev = True, len(rows) > count
        rows = list(reversed(rows[:count]))
    else:
        if after_pk is not None:
            statement = statement.where(pk < after_pk)
        rows = list(session.execute(statement.order_by(pk.desc()).limit(count + 1)))
        has_next, has_prev = len(rows) > count, after_pk is not None
        rows = rows[:count]
    total = rows[0].total_matching if rows else session.scalar(counted) or 0
    return CountedPage(rows, total, has_next, has_prev)


#: Store a document unless its hash is stored.
_STORE_DOCUMENT = InsertIfAbsent(DocumentRow.__table__, ["hash"])
def hold_documents(unit: Session | Connection, hashes: Iterable[str], mode: Literal["shared", "exclusive"]) -> None:
    """Hold the stored documents ``hashes`` until the transaction ends (PostgreSQL; on SQLite a writing
    transaction holds the whole database already): ``shared`` by a provide that stores or reuses them,
    ``exclusive`` by a removal (:mod:`services.dds.removal`).

    A document row is shared by every entry of the same bytes. Without the lock, at READ COMMITTED, a removal
    could count no entry pointing at a document while a provide that found it stored had not committed its
    entry yet, and delete it under that entry: the provide then failed on its reference to the document."""
    hold(unit, *(("dds-document", h) for h in hashes), shared=mode == "shared")


def store_documents(unit: Session | Connection, documents: Iterable[Document]) -> None:
    """Store each document once by its hash (content-addressed: a document already stored is kept), held
    shared (:func:`hold_documents`) until the transaction ends."""
    unique = {d.hash: d for d in documents}
    if not unique:
        return
    hold_documents(unit, unique, "shared")
    _STORE_DOCUMENT.run_many(connection_of(unit), [
        {"hash": d.hash, "size": d.size, "content": d.content} for d in unique.values()])
