"""The respond step of ITI-65: the transaction-response Bundle, one entry per request entry, in order.

Warnings come back in ``response.outcome`` of the entry they concern (by the ``Bundle.entry[n]``
their expression starts with; the SubmissionSet's otherwise).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from nsp_sandbox.outcome import Issue, operation_outcome
from services.dds.domain import DocumentEntry, StatusUpdate
from services.dds.mhd.document_reference import fhir_instant
from services.dds.mhd.transaction import ParsedTransaction

_ENTRY_INDEX = re.compile(r"^Bundle\.entry\[(\d+)\]")


def transaction_response(bundle: dict[str, Any], parsed: ParsedTransaction, set_id: str, entries: list[DocumentEntry],
              binary_owner: dict[int, str], updates: list[StatusUpdate], warnings: list[Issue], now: datetime,
              document_url: Callable[[str], str]) -> dict[str, Any]:
    """The transaction-response: one entry per request entry, in request order."""
    modified = fhir_instant(now)
    by_origin = {e.origin: e for e in entries}
    updated = {u.origin: u.entry_id for u in updates}
    notes: dict[int, list[Issue]] = {}
    set_index = parsed.submission_set[0] if parsed.submission_set else 0
    for issue in warnings:
        match = _ENTRY_INDEX.match(issue.expression or "")
        notes.setdefault(int(match.group(1)) if match else set_index, []).append(issue)

    out: list[dict[str, Any]] = []
    for index, _ in enumerate(bundle["entry"]):
        origin = f"Bundle.entry[{index}].resource"
        if index == set_index:
            response = {"status": "201 Created", "location": f"List/{set_id}", "etag": 'W/"1"'}
        elif origin in by_origin:
            response = {"status": "201 Created", "location": f"DocumentReference/{by_origin[origin].id}",
                        "etag": 'W/"1"'}
        elif origin in updated:
            response = {"status": "200 OK", "location": f"DocumentReference/{updated[origin]}", "etag": 'W/"2"'}
        else:
            response = {"status": "201 Created", "location": document_url(binary_owner[index])}
        response["lastModified"] = modified
        if notes.get(index):
            response["outcome"] = operation_outcome(notes[index])
        out.append({"response": response})
    return {
        "resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "transaction-response",
        "meta": {"lastUpdated": modified}, "entry": out,
    }
