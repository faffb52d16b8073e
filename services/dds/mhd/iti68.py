"""ITI-68 Retrieve Document: ``GET`` the ``attachment.url`` of a DocumentReference.

Answers the document bytes exactly as they were provided, with the entry's mime type and a strong
``ETag`` (the SHA-1 of the content, hex). ``If-None-Match`` with that ETag answers 304. Superseded
and entered-in-error entries are retrievable too: deprecation is a registry status, the document
is kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from fastapi.responses import Response

from nsp_sandbox.outcome import FhirError, Issue
from services.dds.domain import StoredEntry
from services.dds.registry import Registry


def etag_of(document_hash: str) -> str:
    return f'"{document_hash}"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = [c.strip().removeprefix("W/") for c in if_none_match.split(",")]
    return "*" in candidates or etag in candidates


def missing(entry_id: str) -> FhirError:
    return FhirError(404, Issue("error", "not-found", f"No document for DocumentReference/{entry_id}",
                                rule="iti68-document-exists", ihe_code="XDSMissingDocument"))


def retrieve(registry: Registry, entry_id: str, if_none_match: str | None,
             shown: Callable[[StoredEntry, bytes], bytes] | None = None) -> Response:
    """The document of ``entry_id``; ``shown`` adapts the bytes to who is looking (then the ETag follows them)."""
    found = registry.get_document(entry_id)
    if found is None:
        raise missing(entry_id)
    entry, content = found
    etag = etag_of(entry.document_hash)
    if shown is not None:
        adapted = shown(entry, content)
        if adapted != content:
            content, etag = adapted, etag_of(hashlib.sha1(adapted).hexdigest())
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if _matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(content=content, media_type=entry.mime_type, headers=headers)
