"""The versions of one logical document in DDS, for ITI-57's Deprecated → Approved rule.

DDS never makes a second version of a DocumentEntry in place (ITI-57's metadata update is refused,
``services.dds.xds.iti57``): every entry is its own logicalID, at version 1. What DDS has instead is
the Danish "updated version … new uniqueId … replacing the previous document" (MD096 1.3.1.3): a
replacement (RPLC, ITI-41 / ITI-65 ``relatesTo replaces``). So the versions of one document are the
entries joined by RPLC associations, in either direction and transitively; ITI TF allows at most
one of them Approved (``current``) at a time.
"""

from __future__ import annotations

from sqlalchemy import or_, select

from services.dds import storage
from services.dds.domain import AssociationKind, AvailabilityStatus, StoredEntry
from services.dds.models import AssociationRow, DocumentEntryRow
from services.dds.registry import Registry

#: The XDS ``VersionInfo/@versionName`` of every DDS entry (no in-place metadata versions).
ENTRY_VERSION = "1"


def current_versions(registry: Registry, entry: StoredEntry) -> list[StoredEntry]:
    """The other entries of ``entry``'s replacement chain (RPLC either way, transitively) that are current."""
    seen = {entry.pk}
    frontier = {entry.pk}
    with registry.database.session() as session:
        while frontier:
            pairs = session.execute(
                select(AssociationRow.source_entry_pk, AssociationRow.target_entry_pk)
                .where(AssociationRow.kind == AssociationKind.RPLC.name,
                       or_(AssociationRow.source_entry_pk.in_(frontier), AssociationRow.target_entry_pk.in_(frontier)))
            ).all()
            frontier = {pk for pair in pairs for pk in pair} - seen
            seen |= frontier
        rows = session.scalars(select(DocumentEntryRow).where(
            DocumentEntryRow.pk.in_(seen - {entry.pk}),
            DocumentEntryRow.status == AvailabilityStatus.CURRENT.value)).all()
        return [storage.stored_entry(row) for row in rows]
