"""ITI-68 Retrieve Document: ``GET`` the ``attachment.url`` of a DocumentReference.

Answers the document bytes exactly as they were provided, with the entry's mime type and a strong
``ETag`` (the SHA-1 of the content, hex). ``If-None-Match`` with that ETag answers 304. Superseded
and entered-in-error entries are retrievable too: deprecation is a registry status, the document
is kept.
"""

from __future__ import annotations

from fastapi.responses import Response

from nsp_sandbox.outcome import FhirError, Issue
from services.dds.registry import Registry


def etag_of(document_hash: str) -> str:
    return f'"{document_hash}"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = [c.strip().removeprefix("W/") for c in if_none_match.split(",")]
    return "*" in candidates or etag in candidates


def retrieve(registry: Registry, entry_id: str, if_none_match: str | None) -> Response:
    found = registry.get_document(entry_id)
    if found is None:
        raise FhirError(404, Issue("error", "not-found", f"No document for DocumentReference/{entry_id}",
                                   rule="iti68-document-exists", ihe_code="XDSMissingDocument"))
    entry, content = found
    etag = etag_of(entry.document_hash)
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if _matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(content=content, media_type=entry.mime_type, headers=headers)
