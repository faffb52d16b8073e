"""ITI-68 Retrieve Document: ``GET /documents/{id}``, the ``attachment.url`` of a DocumentReference.

Read through the access guard like every other read (``entry_read``); a stable entry answers its
stored document, an on-demand entry what its source generates now (``services.dds.on_demand``).
For a citizen whose address is protected the document is served without it (the ETag follows).
Nothing is ever deleted: ``DELETE`` answers 405.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from nsp_sandbox import openapi_description as oa
from nsp_sandbox.allowed_methods import allowed_methods, refuses
from nsp_sandbox.outcome import FhirError, Issue
from services.dds.access import address_protection
from services.dds.domain import ObjectType, StoredEntry
from services.dds.lifecycle import NEVER_DELETED
from services.dds.mhd import document_response
from services.dds.mhd.deps import Deps
from services.dds.mhd.entry_read import readable_document


def router(deps: Deps) -> APIRouter:
    """``GET`` and ``DELETE /documents/{id}``."""
    documents = APIRouter()

    @documents.get("/documents/{entry_id}", response_class=Response, responses={
        **oa.answer("The document, in its own media type", {"*/*": {}}),
        304: {"description": "Not Modified (If-None-Match)"}, **oa.errors(401, 403, 404, 406, 502, 503)})
    async def retrieve(entry_id: str, request: Request) -> Response:
        entry, grant, content = await readable_document(deps, request, entry_id, "ITI-68 Retrieve Document")

        def shown(entry: StoredEntry, content: bytes) -> bytes:
            if entry.patient.value in grant.hide_address:
                return address_protection.strip_document(content, entry.mime_type)
            return content

        if_none_match = request.headers.get("if-none-match")
        if entry.object_type is ObjectType.ON_DEMAND:
            generated = await deps.sources.generate(entry)
            return document_response.respond(entry, generated.content, generated.media_type, if_none_match, shown)
        if content is None:
            raise document_response.missing(entry_id)
        answer = (entry, content, entry.mime_type, if_none_match, shown, entry.document_hash)
        if entry.patient.value in grant.hide_address:  # the document parsed and rewritten: off the event loop
            return await run_in_threadpool(document_response.respond, *answer)
        return document_response.respond(*answer)

    @documents.delete("/documents/{entry_id}", response_class=Response, responses=oa.errors(405))
    @refuses
    def delete_document(entry_id: str, request: Request) -> Response:
        raise FhirError(405, Issue("error", "not-supported", NEVER_DELETED, rule="dds-never-delete"),
                        headers={"Allow": allowed_methods(request)})

    return documents
