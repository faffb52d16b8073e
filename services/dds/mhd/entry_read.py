"""Reading one entry by id through the access guard: the DocumentReference read and ITI-68 share it.

Unknown entries and entries the citizen's blocks withhold answer the same 404, and nothing is
logged for them; a source (system caller) reads the metadata of what it updates (ITI-92) without
a grant, nothing else.
"""

from __future__ import annotations

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from nsp_sandbox.outcome import FhirError, Issue
from nsp_sandbox.tokens import Principal
from services.dds.access.consent_override import from_headers
from services.dds.access.guard import ReadGrant
from services.dds.domain import StoredEntry
from services.dds.mhd import document_response
from services.dds.mhd.deps import Deps


class EntryRead:
    """The guarded-read steps of reading one entry (its metadata, or its document)."""

    def __init__(self, deps: Deps, entry_id: str, activity: str, metadata_only: bool) -> None:
        self.deps = deps
        self.entry_id = entry_id
        self.activity = activity
        self.metadata_only = metadata_only
        self.sources_may_read = metadata_only
        # ITI-68 only: a DSUBm subscriber retrieves what it is notified of (Guard.notified_reader).
        self.subscribers_may_read = not metadata_only
        self.unknown = document_response.missing(entry_id) if not metadata_only else FhirError(404, Issue(
            "error", "not-found", f"DocumentReference/{entry_id} is not known", rule="dds-entry-exists"))
        self.entry: StoredEntry | None = None
        self.content: bytes | None = None  # ITI-68: the stored document, read with the entry

    async def subjects(self, principal: Principal | None) -> list[str]:
        if self.metadata_only:
            self.entry = await run_in_threadpool(self.deps.registry.get_entry, self.entry_id)
        else:  # the entry and its stored document in one read (no document for an on-demand entry)
            found = await run_in_threadpool(self.deps.registry.get_document, self.entry_id)
            self.entry, self.content = found if found is not None else (None, None)
        if self.entry is None:
            raise self.unknown
        return [self.entry.patient.value] if principal else []

    async def query(self, grant: ReadGrant) -> StoredEntry:
        assert self.entry is not None
        if grant.withheld:
            withheld = await run_in_threadpool(self.deps.registry.withheld_entry_ids, grant.withheld)
            if self.entry.id in withheld:
                raise self.unknown  # blocked by the citizen: as if there were nothing, and nothing is logged
        return self.entry

    async def warnings(self, grant: ReadGrant, found: StoredEntry) -> list[Issue]:
        return []

    def logged(self, found: StoredEntry) -> tuple[list[str], str]:
        return [found.patient.value], f"DocumentReference/{found.id}"


async def readable_entry(deps: Deps, request: Request, entry_id: str,
                         activity: str) -> tuple[StoredEntry, ReadGrant]:
    """The entry, when the caller may see it (404 when unknown or withheld by the citizen's blocks)."""
    return await _guarded(deps, request, EntryRead(deps, entry_id, activity, metadata_only=True))


async def readable_document(deps: Deps, request: Request, entry_id: str,
                            activity: str) -> tuple[StoredEntry, ReadGrant, bytes | None]:
    """As :func:`readable_entry`, with the entry's stored document (None for an on-demand entry)."""
    read = EntryRead(deps, entry_id, activity, metadata_only=False)
    entry, grant = await _guarded(deps, request, read)
    return entry, grant, read.content


async def _guarded(deps: Deps, request: Request, read: EntryRead) -> tuple[StoredEntry, ReadGrant]:
    answer = await deps.guard.guarded_read(lambda: deps.guard.authenticate(request), from_headers(request.headers),
                                           read)
    return answer.found, answer.grant
