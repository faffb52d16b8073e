"""The ITI-68 Retrieve Document answer for the ``attachment.url`` of a DocumentReference.

A stable entry answers the document bytes exactly as they were provided, with the entry's mime
type. An on-demand entry answers what its source generated just now (``services.dds.on_demand``),
with the source's ``Content-Type``. Either way the ``ETag`` is strong, the SHA-1 (hex) of the bytes
served, and ``If-None-Match`` with it answers 304. Superseded and entered-in-error entries are
retrievable too: deprecation is a registry status, the document is kept (an on-demand one as long
as its source still generates it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from fastapi.responses import Response

from nsp_sandbox.outcome import FhirError, Issue
from services.dds.domain import StoredEntry


def etag_of(document_hash: str) -> str:
    """The strong ETag of a document: its SHA-1 (hex), quoted."""
    return f'"{document_hash}"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = [c.strip().removeprefix("W/") for c in if_none_match.split(",")]
    return "*" in candidates or etag in candidates


def missing(entry_id: str) -> FhirError:
    """404: no document for the entry (unknown, or withheld from this caller)."""
    return FhirError(404, Issue("error", "not-found", f"No document for DocumentReference/{entry_id}",
                                rule="iti68-document-exists", ihe_code="XDSMissingDocument"))


def respond(entry: StoredEntry, content: bytes, media_type: str, if_none_match: str | None,
            shown: Callable[[StoredEntry, bytes], bytes] | None = None,
            content_hash: str | None = None) -> Response:
    """The ITI-68 answer for ``content``; ``shown`` adapts the bytes to who is looking (the ETag follows)."""
    if shown is not None:
        adapted = shown(entry, content)
        if adapted != content:
            content, content_hash = adapted, None
    etag = etag_of(content_hash or hashlib.sha1(content).hexdigest())
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if _matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(content=content, media_type=media_type, headers=headers)
