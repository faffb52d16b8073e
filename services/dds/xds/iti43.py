"""ITI-43 Retrieve Document Set at ``POST /ddsrepository`` (ITI TF-2 §3.43; dds-nsp.md §1.1), DGWS + HSUID.

``xdsb:RetrieveDocumentSetRequest`` → ``xdsb:RetrieveDocumentSetResponse`` as MTOM/XOP (each
document a binary part, as the real DDS answers). The read is the same guarded read ITI-68 runs
(``services.dds.mhd.entry_read``): authenticate → grant → read → log, with the citizen's blocks
withholding an entry silently (it answers as if it did not exist), Min Log written for what is
handed out, and a protected address stripped from a citizen's own document. A stable entry
answers its stored bytes exactly; an on-demand entry what its source generates now
(``services.dds.on_demand``, as ITI-68), under the entry's uniqueId.

Per DocumentRequest (ITI TF-2 §3.43.4.2.3; ITI TF-3 Table 4.2.4.1-2):

* ``RepositoryUniqueId`` other than this repository's (``settings.repository_unique_id``) →
  ``XDSUnknownRepositoryId``;
* no such document, or one the citizen's blocks withhold → ``XDSMissingDocument``;
* an on-demand source that cannot answer, or a document that cannot be shown → ``XDSRepositoryError``.

All found → Success; some → PartialSuccess; none → Failure (and no document).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from nsp_sandbox.outcome import FhirError, Issue
from nsp_sandbox.tokens import Principal
from nsp_sandbox.xds import namespaces as ns
from nsp_sandbox.xds import vocabulary as v
from nsp_sandbox.xds.errors import XdsWireError
from nsp_sandbox.xds.from_mhd import unique_id_of
from nsp_sandbox.xds.registry_response import RegistryError, RegistryResponse
from nsp_sandbox.xds.retrieve import (
    DocumentRequest,
    RetrievedDocument,
    RetrieveDocumentSetResponse,
    parse_retrieve_request,
    write_retrieve_response,
)
from services.dds.access import address_protection
from services.dds.access.guard import ReadGrant
from services.dds.domain import ObjectType, StoredEntry
from services.dds.mhd.deps import Deps
from services.dds.xds.face import XdsAnswer, XdsCall, soap_router
from services.dds.xds.stored_queries import entries_named

PATH = "/ddsrepository"
ACTIVITY = "ITI-43 Retrieve Document Set"
XDS_UNKNOWN_REPOSITORY_ID = "XDSUnknownRepositoryId"


@dataclass
class Retrieved:
    """The documents handed out and the errors of the others, in request order."""

    documents: list[RetrievedDocument] = field(default_factory=list)
    errors: list[RegistryError] = field(default_factory=list)
    shown: list[StoredEntry] = field(default_factory=list)


class RetrieveSteps:
    """The guarded-read steps of an ITI-43 request (cf. ``services.dds.mhd.entry_read.EntryRead``)."""

    activity = ACTIVITY
    sources_may_read = False

    def __init__(self, deps: Deps, requests: list[DocumentRequest]) -> None:
        self.deps = deps
        self.requests = requests
        self.entries: dict[str, StoredEntry] = {}  # by the requested DocumentUniqueId

    def _ours(self, request: DocumentRequest) -> bool:
        return request.repository_unique_id.strip() == self.deps.context.settings.repository_unique_id

    def _resolve(self) -> None:
        wanted = [r.document_unique_id.strip() for r in self.requests if self._ours(r)]
        for entry in entries_named(self.deps.registry, [], wanted):
            self.entries[unique_id_of(entry.resource, entry.unique_id)] = entry

    async def subjects(self, principal: Principal | None) -> list[str]:
        await run_in_threadpool(self._resolve)
        cprs = list(dict.fromkeys(e.patient.value for e in self.entries.values()))
        return cprs if principal is not None else []

    async def query(self, grant: ReadGrant) -> Retrieved:
        withheld = await run_in_threadpool(self.deps.registry.withheld_entry_ids, grant.withheld)
        result = Retrieved()
        for request in self.requests:
            document_id = request.document_unique_id.strip()
            entry = self.entries.get(document_id)
            if not self._ours(request):
                result.errors.append(RegistryError(
                    XDS_UNKNOWN_REPOSITORY_ID, f"Repository {request.repository_unique_id} is not this repository "
                    f"({self.deps.context.settings.repository_unique_id})", document_id))
            elif entry is None or entry.id in withheld:  # withheld: as if there were nothing, nothing logged
                result.errors.append(RegistryError(v.XDS_MISSING_DOCUMENT,
                                                   f"Document {document_id} is not in this repository", document_id))
            else:
                await self._read(request, entry, grant, result)
        return result

    async def _read(self, request: DocumentRequest, entry: StoredEntry, grant: ReadGrant, result: Retrieved) -> None:
        try:
            if entry.object_type is ObjectType.ON_DEMAND:
                generated = await self.deps.sources.generate(entry)
                content, mime_type = generated.content, generated.media_type
            else:
                stored = await run_in_threadpool(self.deps.registry.get_document, entry.id)
                if stored is None or stored[1] is None:
                    result.errors.append(RegistryError(v.XDS_MISSING_DOCUMENT, f"Document "
                                                       f"{request.document_unique_id} has no content", entry.unique_id))
                    return
                content, mime_type = stored[1], entry.mime_type
            if entry.patient.value in grant.hide_address:
                content = address_protection.strip_document(content, mime_type)
        except FhirError as error:
            result.errors.append(RegistryError(v.XDS_REPOSITORY_ERROR, str(error), request.document_unique_id))
            return
        result.shown.append(entry)
        result.documents.append(RetrievedDocument(
            request.repository_unique_id.strip(), request.document_unique_id.strip(), mime_type, content,
            request.home_community_id or self.deps.context.settings.home_community_id))

    async def warnings(self, grant: ReadGrant, found: Retrieved) -> list[Issue]:
        return []

    def logged(self, found: Retrieved) -> tuple[list[str], str]:
        cprs = list(dict.fromkeys(e.patient.value for e in found.shown))
        return cprs, f"{len(found.shown)} document(s) retrieved: " + ", ".join(e.unique_id for e in found.shown)


def response(found: Retrieved) -> RetrieveDocumentSetResponse:
    """Success when every document came, PartialSuccess when some did, Failure when none did."""
    if not found.errors:
        status = v.RESPONSE_SUCCESS
    else:
        status = v.RESPONSE_PARTIAL_SUCCESS if found.documents else v.RESPONSE_FAILURE
    return RetrieveDocumentSetResponse(RegistryResponse(status, found.errors), found.documents)


async def handle(call: XdsCall) -> XdsAnswer:
    """One ITI-43 request (see the module docstring for the answers)."""
    try:
        request = parse_retrieve_request(call.body)
    except XdsWireError as error:
        failed = RetrieveDocumentSetResponse(RegistryResponse(v.RESPONSE_FAILURE, [RegistryError(
            v.XDS_REPOSITORY_ERROR, error.message, error.location or None)]))
        return XdsAnswer(write_retrieve_response(failed))
    steps = RetrieveSteps(call.deps, request.documents)
    answer = await call.deps.guard.guarded_read(call.authenticate, call.consent_override, steps)
    return XdsAnswer(write_retrieve_response(response(answer.found)), mtom=True)


def router(deps: Deps) -> APIRouter:
    """``POST /ddsrepository``: ITI-43, with HSUID."""
    return soap_router(deps, PATH, {f"{{{ns.XDSB}}}RetrieveDocumentSetRequest": handle},
                       summary="ITI-43 Retrieve Document Set (DGWS + HSUID)", hsuid=True)
