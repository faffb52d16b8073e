"""The document registry and repository: register submissions, find entries, serve documents.

Every operation is one database transaction. ``register`` checks a whole submission against the
registry (duplicate ids, association targets via ``lifecycle``) and writes it all, or raises
``RegistryError`` and writes nothing. Unique constraints in the tables back the checks up when two
submissions race.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, or_, select
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from nsp_sandbox.clock import naive_utc
from nsp_sandbox.database import Database
from nsp_sandbox.driver_statement import DriverStatement
from nsp_sandbox.outcome import Issue
from services.dds import lifecycle, storage
from services.dds.domain import (
    AvailabilityStatus,
    DocumentEntry,
    RegistryError,
    StoredEntry,
    StoredSubmissionSet,
    Submission,
    TargetRef,
)
from services.dds.metadata.author import author_institutions
from services.dds.models import (
    AssociationRow,
    DdsBase,
    DocumentEntryRow,
    DocumentRow,
    EntryCodeRow,
    StatusChangeRow,
    SubmissionMemberRow,
    SubmissionSetRow,
    upgrade,
)
from services.dds.queries import (
    EntryQuery,
    SubmissionSetQuery,
    Withholding,
    withheld_condition,
)
from services.dds.storage import Page
from services.dds.subscriptions import Changed

#: Called in a registering transaction with the entries it creates or changes (True: it queued work
#: to do after the commit); e.g. the DSUBm notifications (``services.dds.subscriptions``).
Listener = Callable[[Connection, list[Changed], datetime], bool]

DUPLICATE_SOURCE = "IHE ITI TF-3 4.1.4 (uniqueId is unique in the registry)"

# A provide's statements, built once (building a statement costs more than running it on SQLite); those every
# provide runs are run on the driver's cursor (``DriverStatement``).
_TAKEN_ENTRY_IDS = select(DocumentEntryRow.unique_id, DocumentEntryRow.entry_uuid, DocumentEntryRow.id).where(
    DocumentEntryRow.unique_id.in_(bindparam("unique_ids", expanding=True))
    | DocumentEntryRow.entry_uuid.in_(bindparam("entry_uuids", expanding=True))
    | DocumentEntryRow.id.in_(bindparam("ids", expanding=True)))
# The same for a submission of one entry (nearly all of them): plain parameters, where expanding ones are
# rendered again at every execution.
_TAKEN_ENTRY_ID = DriverStatement(
    select(DocumentEntryRow.unique_id, DocumentEntryRow.entry_uuid, DocumentEntryRow.id).where(
        (DocumentEntryRow.unique_id == bindparam("unique_id"))
        | (DocumentEntryRow.entry_uuid == bindparam("entry_uuid")) | (DocumentEntryRow.id == bindparam("id"))))
_TAKEN_SUBMISSION_SET = DriverStatement(select(SubmissionSetRow.pk).where(
    (SubmissionSetRow.unique_id == bindparam("unique_id")) | (SubmissionSetRow.entry_uuid == bindparam("entry_uuid"))
    | (SubmissionSetRow.id == bindparam("id"))).limit(1))
# An entry read by its id as plain rows (run in ``Database.transaction``): its columns, and its content.
_ENTRY_BY_ID = select(DocumentEntryRow.__table__).where(DocumentEntryRow.id == bindparam("entry_id"))
_ENTRIES_BY_ID = select(DocumentEntryRow.__table__).where(
    DocumentEntryRow.id.in_(bindparam("entry_ids", expanding=True)))
_ENTRY_BY_PK = select(DocumentEntryRow.__table__).where(DocumentEntryRow.pk == bindparam("entry_pk"))
_ENTRY_BY_IDENTIFIER = select(DocumentEntryRow.__table__).where(
    (DocumentEntryRow.unique_id == bindparam("identifier")) | (DocumentEntryRow.entry_uuid == bindparam("identifier")))
_ENTRY_AND_CONTENT_BY_ID = DriverStatement(select(DocumentEntryRow.__table__, DocumentRow.content)
                                           .outerjoin(DocumentRow, DocumentRow.hash == DocumentEntryRow.document_hash)
                                           .where(DocumentEntryRow.id == bindparam("entry_id")))
_INSERT_SUBMISSION_SET = DriverStatement(insert(SubmissionSetRow.__table__).returning(SubmissionSetRow.__table__.c.pk))
_INSERT_ENTRIES = insert(DocumentEntryRow.__table__).returning(DocumentEntryRow.__table__.c.pk,
                                                              sort_by_parameter_order=True)
_INSERT_ENTRY = DriverStatement(insert(DocumentEntryRow.__table__).returning(DocumentEntryRow.__table__.c.pk))


@dataclass(frozen=True)
class StatusChange:
    """One entry's status change, with the conditions :meth:`Registry.change_status` takes."""

    entry_id: str
    new_status: AvailabilityStatus
    reason: str
    expression: str
    expected_version: int | None = None
    submitter: str | None = None
    institutions: frozenset[str] | None = None
    expected_status: Collection[AvailabilityStatus] | None = None
    comment: str | None = None
    restore: bool = False


class Registry:
    """Storage operations of the DDS registry and repository over one ``Database``."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.listeners: list[Listener] = []
        self.after_commit: list[Callable[[], None]] = []  # run when a listener queued work, after the commit

    def _tell(self, connection: Connection, changed: list[Changed], now: datetime) -> bool:
        return any([listener(connection, changed, now) for listener in self.listeners])

    def _committed(self, queued: bool) -> None:
        if queued:
            for callback in self.after_commit:
                callback()

    def create_tables(self) -> None:
        self.database.create_tables(DdsBase.metadata, upgrade=upgrade)

    # ---- provide (ITI-65) ----------------------------------------------------------------------

    def register(self, submission: Submission, now: datetime) -> None:
        """Register ``submission`` atomically, or raise ``RegistryError`` having stored nothing.

        The face-neutral entry point of a provide: every face (MHD ITI-65 here, an XDS.b ITI-41 face
        alike) maps its request to a domain ``Submission`` and calls this; the duplicate-id and
        lifecycle rules (``services.dds.lifecycle``) are checked here, in the same transaction, and
        each target a relation supersedes is changed by compare-and-set against the very row the
        rules were checked on (``storage.set_status``): of concurrent replacements of one entry
        exactly one wins, the others are refused whole.
        """
        now = naive_utc(now)
        try:
            with storage.write_transaction(self.database) as connection:
                targets = self._check(connection, submission)
                self._write(connection, submission, targets, now)
                queued = self._tell(connection, [Changed(e.id, e.patient.value) for e in submission.entries] + [
                    Changed(t.id, t.patient.value) for t in targets.values() if t is not None], now)
        except IntegrityError as exc:
            # Lost a race against a concurrent submission with the same ids.
            raise RegistryError([Issue(
                "error", "duplicate",
                "An id in this submission was registered concurrently by another submission",
                expression="Bundle", source=DUPLICATE_SOURCE, rule="dds-unique-id",
                ihe_code="XDSDuplicateUniqueIdInRegistry",
            )]) from exc
        except DataError as exc:
            # A value the database cannot hold (too long for its column, a NUL character): reachable
            # only with the structure and metadata layers weakened; refused, nothing stored.
            raise RegistryError([Issue(
                "error", "too-long" if "too long" in str(exc.orig) else "invalid",
                f"A value of this submission cannot be registered: {str(exc.orig).splitlines()[0]}",
                expression="Bundle", source="DDS registry storage", rule="dds-storable",
                ihe_code="XDSRegistryMetadataError",
            )]) from exc
        except OperationalError as exc:
            if not _lost_to_concurrency(exc):
                raise
            raise RegistryError([_concurrent_change("this submission's targets", "Bundle")]) from exc
        self._committed(queued)

    def check(self, submission: Submission) -> list[Issue]:
        """What ``register`` would refuse ``submission`` for, without storing anything."""
        with self.database.transaction() as connection:
            try:
                self._check(connection, submission)
            except RegistryError as exc:
                return exc.issues
        return []

    def _check(self, connection: Connection, submission: Submission) -> dict[TargetRef, StoredEntry | None]:
        """Raise ``RegistryError`` with every duplicate id and every broken lifecycle rule of
        ``submission``; else answer each relation's target as read for the rules (the snapshot its
        status change compares against)."""
        issues: list[Issue] = []
        entries = submission.entries
        sset = submission.submission_set
        if len(entries) == 1:
            only = entries[0]
            taken: Sequence[Any] = _TAKEN_ENTRY_ID.rows(connection, {
                "unique_id": only.unique_id, "entry_uuid": only.entry_uuid, "id": only.id})
        else:
            taken = connection.execute(_TAKEN_ENTRY_IDS, {"unique_ids": [e.unique_id for e in entries],
                                                          "entry_uuids": [e.entry_uuid for e in entries],
                                                          "ids": [e.id for e in entries]}).all()
        taken_unique = {row[0] for row in taken}
        taken_uuid = {row[1] for row in taken}
        taken_id = {row[2] for row in taken}
        for entry in entries:
            if entry.unique_id in taken_unique:
                issues.append(_duplicate(f"{entry.origin}.masterIdentifier",
                                         f"uniqueId '{entry.unique_id}' is already registered"))
            if entry.entry_uuid in taken_uuid or entry.id in taken_id:
                issues.append(_duplicate(f"{entry.origin}.identifier",
                                         f"entryUUID '{entry.entry_uuid}' is already registered"))
        if _TAKEN_SUBMISSION_SET.rows(connection, {"unique_id": sset.unique_id, "entry_uuid": sset.entry_uuid,
                                                   "id": sset.id}):
            issues.append(_duplicate(f"{sset.origin}.identifier",
                                     f"SubmissionSet uniqueId '{sset.unique_id}' or entryUUID "
                                     f"'{sset.entry_uuid}' is already registered"))

        targets: dict[TargetRef, StoredEntry | None] = {}

        def resolve(target: TargetRef) -> StoredEntry | None:
            if target not in targets:
                targets[target] = self._resolve(connection, target)
            return targets[target]

        issues.extend(lifecycle.check_submission(submission, resolve))
        if issues:
            raise RegistryError(issues)
        return targets

    @staticmethod
    def _resolve(connection: Connection, target: TargetRef) -> StoredEntry | None:
        if target.entry_id is not None:
            row = connection.execute(_ENTRY_BY_ID, {"entry_id": target.entry_id}).first()
        else:
            row = connection.execute(_ENTRY_BY_IDENTIFIER, {"identifier": target.identifier}).first()
        return storage.stored_entry(row) if row is not None else None

    def _write(self, connection: Connection, submission: Submission, targets: dict[TargetRef, StoredEntry | None],
               now: datetime) -> None:
        sset = submission.submission_set
        storage.store_documents(connection, [e.document for e in submission.entries if e.document is not None])
        sset_pk = _INSERT_SUBMISSION_SET.rows(connection, storage.submission_set_values(sset, now))[0][0]
        values = [storage.entry_values(e, sset_pk, now, submission.submitter) for e in submission.entries]
        if len(values) == 1:
            pks: Sequence[int] = [_INSERT_ENTRY.rows(connection, values[0])[0][0]]
        else:
            pks = connection.execute(_INSERT_ENTRIES, values).scalars().all()
        storage.insert_many(connection, EntryCodeRow, [
            code for entry, pk in zip(submission.entries, pks, strict=True)
            for code in storage.code_rows(entry, pk)
        ])
        storage.insert_many(connection, SubmissionMemberRow,
                            [{"submission_set_pk": sset_pk, "entry_pk": pk} for pk in pks])
        for entry, pk in zip(submission.entries, pks, strict=True):
            for relation in entry.relations:
                target = targets[relation.target]
                assert target is not None  # checked in _check, same transaction
                connection.execute(insert(AssociationRow.__table__).values(
                    storage.association_values(relation.kind.name, pk, target.pk, sset_pk, now)))
                new_status = lifecycle.status_after(relation.kind)
                if new_status is None:
                    continue
                if not storage.set_status(connection, target, new_status, now):
                    raise RegistryError([_concurrent_change(f"DocumentReference/{target.id}", relation.origin)])
                self._record_status(connection, target, new_status, now, f"replaced by DocumentReference/{entry.id}")

    @staticmethod
    def _record_status(connection: Connection, target: StoredEntry, new_status: AvailabilityStatus, now: datetime,
                       reason: str) -> None:
        connection.execute(insert(StatusChangeRow.__table__).values(
            storage.status_change_values(target.pk, target.status, new_status, reason, now)))

    def bulk_register(self, submission_set_row: dict[str, Any], entries: Sequence[DocumentEntry],
                      now: datetime) -> None:
        """Seed many entries at once under one submission set, skipping the per-entry checks.

        For loading test and benchmark data only: the caller guarantees unique ids and that no
        entry relates to another.
        """
        now = naive_utc(now)
        with self.database.transaction() as connection:
            storage.store_documents(connection, [e.document for e in entries if e.document is not None])
            sset_table, entry_table = SubmissionSetRow.__table__, DocumentEntryRow.__table__
            sset_pk = connection.execute(
                insert(sset_table).returning(sset_table.c.pk),
                [{**submission_set_row, "registered_at": now}],
            ).scalar_one()
            rows = [storage.entry_values(e, sset_pk, now) for e in entries]
            pks = connection.execute(
                insert(entry_table).returning(entry_table.c.pk, sort_by_parameter_order=True), rows,
            ).scalars().all()
            storage.insert_many(connection, EntryCodeRow, [
                code for entry, pk in zip(entries, pks, strict=True) for code in storage.code_rows(entry, pk)
            ])
            storage.insert_many(connection, SubmissionMemberRow, [
                {"submission_set_pk": sset_pk, "entry_pk": pk} for pk in pks])

    # ---- read ----------------------------------------------------------------------------------

    def get_entry(self, entry_id: str) -> StoredEntry | None:
        with self.database.reading_connection() as connection:
            row = connection.execute(_ENTRY_BY_ID, {"entry_id": entry_id}).first()
            return storage.stored_entry(row) if row is not None else None

    def get_entries(self, entry_ids: Collection[str]) -> dict[str, StoredEntry]:
        """The entries of ``entry_ids`` that exist, by id: :meth:`get_entry` for many, in one query."""
        if not entry_ids:
            return {}
        with self.database.reading_connection() as connection:
            rows = connection.execute(_ENTRIES_BY_ID, {"entry_ids": sorted(set(entry_ids))}).all()
        return {row.id: storage.stored_entry(row) for row in rows}

    def get_document(self, entry_id: str) -> tuple[StoredEntry, bytes | None] | None:
        """The entry and its stored document content (for any status: deprecation hides nothing here).

        The content is None for an on-demand entry: its source generates the document when asked.
        """
        with self.database.reading_connection() as connection:
            rows = _ENTRY_AND_CONTENT_BY_ID.rows(connection, {"entry_id": entry_id})
            if not rows:
                return None
            found = rows[0]
            return storage.stored_entry(found), found.content

    def withheld_entry_ids(self, withholdings: Sequence[Withholding]) -> set[str]:
        """The ids of the entries ``withholdings`` withhold."""
        if not withholdings:
            return set()
        with self.database.session() as session:
            return set(session.scalars(select(DocumentEntryRow.id).where(
                or_(*(withheld_condition(w) for w in withholdings)))))

    def relations_of(self, entry_pks: Sequence[int]) -> dict[int, list[tuple[str, str]]]:
        """For each entry pk, the associations it has: (kind, target entry id)."""
        if not entry_pks:
            return {}
        with self.database.session() as session:
            rows = session.execute(
                select(AssociationRow.source_entry_pk, AssociationRow.kind, DocumentEntryRow.id)
                .join(DocumentEntryRow, DocumentEntryRow.pk == AssociationRow.target_entry_pk)
                .where(AssociationRow.source_entry_pk.in_(entry_pks))
                .order_by(AssociationRow.pk)
            ).all()
        out: dict[int, list[tuple[str, str]]] = {}
        for source_pk, kind, target_id in rows:
            out.setdefault(source_pk, []).append((kind, target_id))
        return out

    def find_entries(self, query: EntryQuery) -> Page:
        """A page of entries matching ``query``, newest registration first."""
        with self.database.reading() as session:
            page = storage.counted_page(session, DocumentEntryRow.__table__, storage.entry_conditions(query),
                                        query.count, query.after_pk, query.before_pk)
            items = [storage.stored_entry(r) for r in page.rows]
        return page.page(items)

    def all_entries(self, query: EntryQuery) -> list[StoredEntry]:
        """Every entry matching ``query`` (its paging ignored), newest registration first: one
        ``SELECT``, no count (a look-up that needs them all, e.g. ITI-18 FindDocuments)."""
        with self.database.session() as session:
            rows = session.scalars(select(DocumentEntryRow).where(*storage.entry_conditions(query))
                                   .order_by(DocumentEntryRow.pk.desc()))
            return [storage.stored_entry(r) for r in rows]

    # ---- status update (ITI-92 RMU) -------------------------------------------------------------

    def change_status(self, entry_id: str, new_status: AvailabilityStatus, now: datetime, *,
                      expected_version: int | None, reason: str, expression: str,
                      submitter: str | None = None, institutions: frozenset[str] | None = None,
                      expected_status: Collection[AvailabilityStatus] | None = None, comment: str | None = None,
                      restore: bool = False) -> StoredEntry:
        """Move an entry to ``new_status`` under the lifecycle rules; the entry itself is kept (with
        ``comment``: its ``description`` becomes the reason given; ``restore``: ITI-57's Deprecated →
        Approved, ``lifecycle.check_status_change``).

        Only the source that registered the entry may (``lifecycle.check_owner``): the same
        ``submitter`` (token persona), or with access control off the same author ``institutions``.
        ``expected_version`` (If-Match) and ``expected_status`` (ITI-57's OriginalStatus) are the
        caller's own conditions. The change is one compare-and-set against the row the rules were
        checked on: of concurrent changes exactly one wins; a loser is judged again against the
        entry as the winner left it, and refused as a request arriving after it would be (an entry
        already deprecated is not deprecated again).
        """
        return self.change_statuses([StatusChange(
            entry_id, new_status, reason, expression, expected_version=expected_version, submitter=submitter,
            institutions=institutions, expected_status=expected_status, comment=comment, restore=restore)], now)[0]

    def change_statuses(self, changes: Sequence[StatusChange], now: datetime) -> list[StoredEntry]:
        """Several status changes as one (an ITI-57 request): all in one write transaction, each by
        :meth:`change_status`'s rules and compare-and-set, in the order given; the first refusal
        (``RegistryError``) rolls every one of them back, so either all are applied or none."""
        now = naive_utc(now)
        current: StatusChange | None = None
        try:
            with storage.write_transaction(self.database) as connection:
                changed: list[StoredEntry] = []
                for current in changes:
                    changed.append(self._apply_change(connection, current, now))
                queued = self._tell(connection, [Changed(e.id, e.patient.value) for e in changed], now)
        except OperationalError as exc:
            if not _lost_to_concurrency(exc) or current is None:
                raise
            raise RegistryError([_concurrent_change(f"DocumentReference/{current.entry_id}",
                                                    current.expression)]) from exc
        self._committed(queued)
        return changed

    def _apply_change(self, connection: Connection, change: StatusChange, now: datetime) -> StoredEntry:
        entry = self._entry_to_change(connection, change)
        if entry.status is change.new_status:
            return entry  # current → current: nothing to change
        if not storage.set_status(connection, entry, change.new_status, now, change.comment):
            # Lost to a concurrent change (PostgreSQL: the guarded UPDATE waited for it).
            self._entry_to_change(connection, change)
            raise RegistryError([_concurrent_change(f"DocumentReference/{change.entry_id}", change.expression)])
        self._record_status(connection, entry, change.new_status, now, change.reason)
        return storage.stored_entry(connection.execute(_ENTRY_BY_PK, {"entry_pk": entry.pk}).one())

    def _entry_to_change(self, connection: Connection, change: StatusChange) -> StoredEntry:
        """The entry as it is now, once every rule of ``change`` holds for it (``RegistryError``
        naming the first that does not)."""
        entry_id, expression = change.entry_id, change.expression
        row = connection.execute(_ENTRY_BY_ID, {"entry_id": entry_id}).first()
        if row is None:
            raise RegistryError([Issue("error", "not-found", f"DocumentReference/{entry_id} is not known",
                                       expression=expression, rule="dds-entry-exists",
                                       ihe_code="XDSMissingDocument")])
        entry = storage.stored_entry(row)
        if change.expected_version is not None and change.expected_version != entry.version:
            raise RegistryError([Issue(
                "error", "conflict",
                f"If-Match names version {change.expected_version}; DocumentReference/{entry_id} is at "
                f"version {entry.version}", expression=expression, rule="http-if-match")])
        owner = lifecycle.check_owner(entry, change.submitter, change.institutions if change.institutions is not None
                                      else author_institutions(entry.resource), expression)
        problem = owner or lifecycle.check_expected_status(entry, change.expected_status, expression)
        unchanged_current = entry.status is change.new_status is AvailabilityStatus.CURRENT
        if problem is None and not unchanged_current:
            problem = lifecycle.check_status_change(entry, change.new_status, expression, restore=change.restore)
        if problem is not None:
            raise RegistryError([problem])
        return entry

    # ---- submission sets (ITI-66) ---------------------------------------------------------------

    def get_submission_set(self, set_id: str) -> StoredSubmissionSet | None:
        with self.database.session() as session:
            row = session.scalars(select(SubmissionSetRow).where(SubmissionSetRow.id == set_id)).first()
            if row is None:
                return None
            return storage.stored_sets(session, [row])[0]

    def find_submission_sets(self, query: SubmissionSetQuery) -> Page:
        with self.database.session() as session:
            page = storage.counted_page(session, SubmissionSetRow.__table__, storage.submission_set_conditions(query),
                                        query.count, query.after_pk, query.before_pk)
            items = storage.stored_sets(session, page.rows)
        return page.page(items)


def _concurrent_change(what: str, expression: str) -> Issue:
    """The refusal of a request that lost a compare-and-set to a concurrent change: nothing stored."""
    return Issue("error", "conflict", f"{what} was changed concurrently by another request; nothing was stored",
                 expression=expression, source=lifecycle.RULE_SOURCE, rule="dds-concurrent-change",
                 ihe_code="XDSRegistryDeprecatedDocumentError")


def _lost_to_concurrency(exc: OperationalError) -> bool:
    """Whether PostgreSQL aborted the transaction for a deadlock or a serialization failure."""
    return getattr(exc.orig, "sqlstate", None) in ("40P01", "40001")


def _duplicate(expression: str, message: str) -> Issue:
    return Issue("error", "duplicate", message, expression=expression, source=DUPLICATE_SOURCE,
                 rule="dds-unique-id", ihe_code="XDSDuplicateUniqueIdInRegistry")
