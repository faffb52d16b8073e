"""ITI-62 Remove Metadata: the one way registry content is ever deleted (dds-nsp.md §3.5).

Core XDS has no delete; the separate Remove Metadata and Documents profile lets a **Document
Administrator** remove DocumentEntries (DK: Fælles Stamkort entries at the latest one year after
the citizen's death). DDS offers it only to the sandbox operator, through the control face
(``sandbox.control.remove_metadata``), never to a source or consumer; every face keeps refusing
deletes (``services.dds.mhd.never_deleted``; ITI-57 deprecates only).

:meth:`MetadataRemoval.remove` removes the named entries, all or nothing (ITI TF-2 §3.62: an
unknown entryUUID refuses the whole request): the entries, their codes, their membership in
submission sets, the associations from or to them and their status history; a stored document no
remaining entry points at goes with them. Submission sets stay (they may hold other entries).
It is one write transaction (``storage.write_transaction``): a replacement or status change of an
entry being removed runs wholly before or after it, and so does a provide of a document with the same bytes
(``storage.hold_documents``): a document another entry has just been given is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, or_, select

from services.dds import storage
from services.dds.models import (
    AssociationRow,
    DocumentEntryRow,
    DocumentRow,
    EntryCodeRow,
    StatusChangeRow,
    SubmissionMemberRow,
)
from services.dds.registry import Registry


class UnknownEntries(Exception):
    """Some named entries are not registered: nothing was removed."""

    def __init__(self, unknown: list[str]) -> None:
        self.unknown = unknown
        super().__init__(", ".join(unknown))


@dataclass(frozen=True)
class Removed:
    """What one removal took away."""

    entry_uuids: tuple[str, ...]
    entry_ids: tuple[str, ...]
    documents: int
    associations: int
    at: datetime


class MetadataRemoval:
    """The registry operation behind ITI-62, over a :class:`~services.dds.registry.Registry`'s database."""

    def __init__(self, registry: Registry) -> None:
        self.database = registry.database

    def remove(self, entry_uuids: list[str], now: datetime) -> Removed:
        """Remove the entries with these entryUUIDs (``urn:uuid:…``) in one transaction; raise
        :class:`UnknownEntries` (having removed nothing) when one is not registered."""
        with storage.write_transaction(self.database) as connection:
            rows = connection.execute(select(DocumentEntryRow.__table__).where(
                DocumentEntryRow.entry_uuid.in_(entry_uuids))).all()
            found = {row.entry_uuid for row in rows}
            unknown = [u for u in entry_uuids if u not in found]
            if unknown:
                raise UnknownEntries(unknown)
            pks = [row.pk for row in rows]
            hashes = {row.document_hash for row in rows if row.document_hash}
            storage.hold_documents(connection, hashes, "exclusive")  # provides of the same bytes in flight end first
            associations = connection.execute(delete(AssociationRow.__table__).where(or_(
                AssociationRow.source_entry_pk.in_(pks), AssociationRow.target_entry_pk.in_(pks)))).rowcount
            for table in (EntryCodeRow, StatusChangeRow, SubmissionMemberRow):
                connection.execute(delete(table.__table__).where(table.entry_pk.in_(pks)))
            connection.execute(delete(DocumentEntryRow.__table__).where(DocumentEntryRow.pk.in_(pks)))
            documents = 0
            for document_hash in hashes:
                still_used = connection.scalar(select(func.count()).select_from(DocumentEntryRow).where(
                    DocumentEntryRow.document_hash == document_hash))
                if not still_used:
                    documents += connection.execute(
                        delete(DocumentRow.__table__).where(DocumentRow.hash == document_hash)).rowcount
            return Removed(tuple(entry_uuids), tuple(row.id for row in rows), documents, associations or 0, now)
