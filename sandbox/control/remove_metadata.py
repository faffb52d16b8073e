"""ITI-62 Remove Metadata through the control face: ``POST /sandbox/dds/remove-metadata``.

``{"entry_uuids": ["urn:uuid:…", …], "reason": "…"}`` removes those DocumentEntries from DDS
(``services.dds.removal``: the Document Administrator of IHE RMD, dds-nsp.md §3.5 — in Denmark
Fælles Stamkort entries after death). Operator only (``sandbox.control.guard``); never offered to a
source or consumer. Audited: one log line (logger ``sandbox.control.audit``) and the audit record
returned as the answer ``{"operation", "at", "operator", "reason", "removed": {...}}``.

Refusals: 422 for a body without a non-empty list of ``urn:uuid:`` entryUUIDs or without a
reason; 404 when an entry is not registered (nothing is removed: all or nothing).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from nsp_sandbox import openapi_description as oa
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.fhir_http import read_json_object
from nsp_sandbox.outcome import FhirError, Issue
from services.dds.registry import Registry
from services.dds.removal import MetadataRemoval, UnknownEntries

SOURCE = "nsp-sandbox control face: ITI-62 Remove Metadata (IHE RMD; docs/control.md)"
_UUID_URN = re.compile(r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
audit = logging.getLogger("sandbox.control.audit")


def _refused(status: int, text: str, where: str, rule: str) -> FhirError:
    return FhirError(status, Issue("error", "invalid" if status == 422 else "not-found", text, expression=where,
                                   rule=rule, source=SOURCE))


def _read(body: dict[str, Any]) -> tuple[list[str], str]:
    uuids = body.get("entry_uuids")
    if not isinstance(uuids, list) or not uuids or not all(isinstance(u, str) and _UUID_URN.match(u.lower())
                                                           for u in uuids):
        raise _refused(422, "entry_uuids must be a non-empty list of entryUUIDs ('urn:uuid:…')", "entry_uuids",
                       "iti62-entry-uuids")
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise _refused(422, "reason is required: why the metadata is removed (it is audited)", "reason",
                       "iti62-reason")
    return [u.lower() for u in dict.fromkeys(uuids)], reason.strip()


def router(context: SandboxContext, operator: Callable[[Request], None]) -> APIRouter:
    """``POST /dds/remove-metadata`` (under ``/sandbox``), for the operator only."""
    api = APIRouter(prefix="/dds", tags=["dds"], dependencies=[Depends(operator)])
    removal = MetadataRemoval(Registry(context.database))

    @api.post("/remove-metadata", responses=oa.errors(404, 413, 422, 502), openapi_extra=oa.json_body({
        "type": "object", "required": ["entry_uuids", "reason"],
        "properties": {"entry_uuids": {"type": "array", "items": {"type": "string"}}, "reason": {"type": "string"}}},
        "ITI-62: the entries to remove, and why"))
    async def remove_metadata(request: Request) -> dict[str, Any]:
        uuids, reason = _read(await read_json_object(request, context.settings.max_body_bytes))
        now = context.clock.now()
        try:
            removed = await run_in_threadpool(removal.remove, uuids, now)
        except UnknownEntries as unknown:
            raise _refused(404, f"Not registered (nothing was removed): {unknown}", "entry_uuids",
                           "iti62-entry-known") from None
        operator_kind = "token" if context.settings.admin_token else "loopback"
        record = {"operation": "ITI-62 Remove Metadata", "at": now.astimezone(UTC).isoformat(),
                  "operator": operator_kind, "reason": reason,
                  "removed": {"entry_uuids": list(removed.entry_uuids), "entry_ids": list(removed.entry_ids),
                              "documents": removed.documents, "associations": removed.associations}}
        audit.warning("ITI-62 Remove Metadata by the operator (%s): %s; reason: %s", operator_kind,
                      ", ".join(removed.entry_uuids), reason)
        return record

    return api
