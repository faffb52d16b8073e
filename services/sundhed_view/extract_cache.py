"""What the viewer extracted from each document, kept by content, shared by every worker and restart.

Two of the viewer's own tables, with a small in-process copy in front of them:

* ``view_document_extract``: by the SHA-256 of a document's kind, HCO version and bytes
  (:meth:`services.sundhed_view.documents.Documents.digest`), what it yields — the view model or the
  reasons it is invalid — and its patient's CPR numbers, as JSON (:mod:`.extract_codec`: read back
  into the view models' classes only). Only the viewer writes it, from documents it retrieved from
  DDS and validated itself.
* ``view_entry_content``: which content a DocumentReference (its id and ``attachment.hash``) has, so
  a citizen reading their own data needs no retrieval of an entry already read (``documents``).

**Bounded:** at most :data:`MAX_EXTRACTS` extracts and twice as many entry rows; every
:data:`TRIM_EVERY` additions a process deletes the oldest beyond that (first in, first out: reading
an extract does not write). An evicted extract is read again from DDS the next time a page needs it.
A row written by another version of the view models (:data:`MODEL_VERSION`) or that the codec
cannot read counts as absent.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, delete, func, select

from nsp_sandbox.clock import Clock, naive_utc
from nsp_sandbox.database import Database, InsertIfAbsent
from nsp_sandbox.driver_statement import DriverStatement
from services.sundhed_view.extract_codec import ExtractCodec, Unreadable
from services.sundhed_view.models import EntryContentRow, ExtractRow, ViewBase

MODEL_VERSION = 2  # raise when a view model's fields change: older rows are then ignored
MAX_EXTRACTS = 50_000
TRIM_EVERY = 500
MEMORY = 4000  # extracts kept in process as well


# Statements built once (building one costs more than running it on SQLite). An insert of a row already
# there (another worker, another page) does nothing. Those every notified document runs are run on the
# driver's cursor.
_EXTRACT = DriverStatement(
    select(ExtractRow.content, ExtractRow.version).where(ExtractRow.digest == bindparam("digest")))
_EXTRACTS = select(ExtractRow.digest, ExtractRow.content, ExtractRow.version).where(
    ExtractRow.digest.in_(bindparam("digests", expanding=True)))
_ENTRIES_KNOWN = select(EntryContentRow.entry_id, EntryContentRow.entry_hash).where(
    EntryContentRow.entry_id.in_(bindparam("entry_ids", expanding=True)))
_INSERT_EXTRACT = InsertIfAbsent(ExtractRow.__table__, ["digest"], returning=ExtractRow.__table__.c.pk)
_INSERT_ENTRY = InsertIfAbsent(EntryContentRow.__table__, ["entry_id", "entry_hash"],
                               returning=EntryContentRow.__table__.c.pk)


class ExtractCache:
    """The extracts by content digest and the entries' contents, in memory and in the database."""

    def __init__(self, database: Database, clock: Clock, codec: ExtractCodec) -> None:
        self.database = database
        self.clock = clock
        self.codec = codec
        database.create_tables(ViewBase.metadata)
        self._memory: OrderedDict[str, Any] = OrderedDict()
        self._entries: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()
        self._added = 0

    # -- memory ----------------------------------------------------------------------------------

    def _keep(self, digest: str, value: Any, entry: tuple[str, str] | None) -> None:
        with self._lock:
            self._memory[digest] = value
            self._memory.move_to_end(digest)
            while len(self._memory) > MEMORY:
                self._memory.popitem(last=False)
            if entry is not None:
                if len(self._entries) > 2 * MEMORY:
                    self._entries.clear()
                self._entries[entry] = digest

    def in_memory(self, digest: str) -> Any | None:
        with self._lock:
            return self._memory.get(digest)

    def for_entry_in_memory(self, entry: tuple[str, str]) -> Any | None:
        with self._lock:
            digest = self._entries.get(entry)
            return self._memory.get(digest) if digest else None

    # -- database --------------------------------------------------------------------------------

    def _loaded(self, blob: bytes, version: int) -> Any | None:
        if version != MODEL_VERSION:
            return None
        try:
            return self.codec.loads(blob)
        except Unreadable:  # written by code whose view models have changed: read the document again
            return None

    def get(self, digest: str) -> Any | None:
        """The extract of ``digest`` (memory, else the table), None when there is none."""
        return self.get_many([digest]).get(digest)

    def get_many(self, digests: Iterable[str]) -> dict[str, Any]:
        """The extracts there are of ``digests`` (memory, else the table: one query for those not in memory)."""
        found: dict[str, Any] = {}
        wanted: list[str] = []
        for digest in digests:
            value = self.in_memory(digest)
            if value is not None:
                found[digest] = value
            elif digest not in wanted:
                wanted.append(digest)
        if not wanted:
            return found
        with self.database.reading_connection() as connection:
            if len(wanted) == 1:
                rows = [(wanted[0], *row) for row in _EXTRACT.rows(connection, {"digest": wanted[0]})]
            else:
                rows = [tuple(row) for row in connection.execute(_EXTRACTS, {"digests": wanted})]
        for digest, blob, version in rows:
            value = self._loaded(blob, version)
            if value is not None:
                self._keep(digest, value, None)
                found[digest] = value
        return found

    def preload(self, entries: Iterable[tuple[str, str]]) -> None:
        """Bring the extracts of ``entries`` (id, attachment.hash) that are in the tables into memory:
        two queries for a whole page."""
        with self._lock:
            wanted = [e for e in set(entries) if self._entries.get(e) not in self._memory]
        if not wanted:
            return
        ids = sorted({entry_id for entry_id, _ in wanted})
        with self.database.session() as session:
            mapped: dict[tuple[str, str], str] = {}
            for start in range(0, len(ids), 500):
                for entry_id, entry_hash, digest in session.execute(
                        select(EntryContentRow.entry_id, EntryContentRow.entry_hash, EntryContentRow.digest)
                        .where(EntryContentRow.entry_id.in_(ids[start:start + 500]))):
                    mapped[(entry_id, entry_hash)] = digest
            asked = set(wanted)
            mapped = {e: d for e, d in mapped.items() if e in asked}
            digests = sorted(set(mapped.values()))
            extracts: dict[str, Any] = {}
            for start in range(0, len(digests), 500):
                for digest, blob, version in session.execute(
                        select(ExtractRow.digest, ExtractRow.content, ExtractRow.version)
                        .where(ExtractRow.digest.in_(digests[start:start + 500]))):
                    value = self._loaded(blob, version)
                    if value is not None:
                        extracts[digest] = value
        for entry, digest in mapped.items():
            if digest in extracts:
                self._keep(digest, extracts[digest], entry)

    def put(self, digest: str, value: Any, entry: tuple[str, str] | None, *, new: bool) -> None:
        """Keep ``value`` as the extract of ``digest`` (stored when ``new``: just computed) and, for an
        entry with a hash, that the entry has this content."""
        self.put_many([(digest, value, entry, new)])

    def put_many(self, extracts: Iterable[tuple[str, Any, tuple[str, str] | None, bool]]) -> None:
        """:meth:`put` each (digest, value, entry, new), the rows in one transaction (a notification's
        documents)."""
        rows: list[tuple[str, Any, tuple[str, str] | None, bool]] = []
        for digest, value, entry, new in extracts:
            with self._lock:
                known = entry is not None and self._entries.get(entry) == digest
            self._keep(digest, value, entry)
            rows.append((digest, value, None if known else entry, new))
        rows = [row for row in rows if row[3] or row[2] is not None]
        if not rows:
            return
        now = naive_utc(self.clock.now())
        added = 0
        with self.database.transaction() as connection:
            for digest, value, entry, new in rows:
                if new:
                    added += bool(_INSERT_EXTRACT.rows(connection, {
                        "digest": digest, "version": MODEL_VERSION, "content": self.codec.dumps(value),
                        "created_at": now}))
                if entry is not None:
                    added += bool(_INSERT_ENTRY.rows(connection, {
                        "entry_id": entry[0], "entry_hash": entry[1], "digest": digest, "created_at": now}))
        if added:
            with self._lock:
                trim = self._added // TRIM_EVERY != (self._added + added) // TRIM_EVERY
                self._added += added
            if trim:
                self.trim()

    def trim(self, keep: int = MAX_EXTRACTS) -> None:
        """Delete the oldest extracts beyond ``keep`` and entry rows beyond twice that."""
        with self.database.session() as session:
            for table, bound in ((ExtractRow, keep), (EntryContentRow, 2 * keep)):
                newest = session.scalar(select(func.max(table.pk)))
                if newest is not None and newest > bound:
                    session.execute(delete(table).where(table.pk <= newest - bound))

    def count(self) -> int:
        with self.database.session() as session:
            return int(session.scalar(select(func.count()).select_from(ExtractRow)) or 0)

    def has_entry(self, entry_id: str, entry_hash: str) -> bool:
        """Whether the content of the entry is known (read by a prefetch or a page)."""
        return (entry_id, entry_hash) in self.known_entries([(entry_id, entry_hash)])

    def known_entries(self, entries: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Those of ``entries`` (id, attachment.hash) whose content is known, in one query (a notification
        of several events)."""
        wanted = set(entries)
        if not wanted:
            return set()
        with self.database.reading_connection() as connection:
            found = connection.execute(_ENTRIES_KNOWN, {"entry_ids": sorted({i for i, _ in wanted})}).all()
        return {(entry_id, entry_hash) for entry_id, entry_hash in found} & wanted
