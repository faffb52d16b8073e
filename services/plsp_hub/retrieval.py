"""On-demand retrieval (``GET /plsp/ondemand/{key}``, DDS's ITI-68 behind it): the current document of
an entry, freshly generated from the hub's state (a new Bundle.id and identifier every time), or why
there is none — 404 for an unknown key, 410 with the rule for a document no longer shared. Serving
never waits for DDS: a note made 'do not share' is not served even while its entry waits for
deprecation."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.outcome import FhirError, Issue
from services.plsp_hub.conditionlist_document import build_conditionlist
from services.plsp_hub.events import EventLog
from services.plsp_hub.models import EntryRow
from services.plsp_hub.notes_document import build_note_document
from services.plsp_hub.purge import Purge
from services.plsp_hub.shared_now import CONDITIONLIST, SharedNow
from services.plsp_hub.state import ConditionCard, Note


class Retrieval:
    def __init__(self, context: SandboxContext, events: EventLog, shared: SharedNow, purge: Purge) -> None:
        self._context = context
        self._events = events
        self._shared = shared
        self._purge = purge

    def serve(self, key: str) -> bytes:
        """The current document of on-demand entry ``key``, freshly generated; 404/410 when none is served."""
        self._purge.run()
        with self._context.database.session() as s:
            row = s.scalar(select(EntryRow).where(EntryRow.key == key))
            if row is not None:
                s.expunge(row)
        if row is None:
            raise FhirError(404, Issue("error", "not-found", f"No on-demand document with key '{key[:80]}'",
                                       rule="plsp-ondemand-known"))
        wanted, why_not = self._shared.wanted(row.cpr)
        match = next((w for w in wanted if (w.kind, w.clinic_sor, w.note_key) ==
                      (row.kind, row.clinic_sor, row.note_key)), None)
        if match is None or row.state not in ("pending", "registered"):  # withdrawn or being withdrawn
            reason = why_not.get((row.kind, row.clinic_sor, row.note_key))
            text = reason.text if reason else "the document is no longer shared"
            raise FhirError(410, Issue("error", "deleted", f"Nothing to serve: {text}",
                                       rule=reason.rule if reason else "plsp-unshared"))
        document, version = _generated(match.document, self._context.clock.now())
        subject = "conditionlist" if row.kind == CONDITIONLIST else f"note:{row.note_key}"
        self._events.write(row.cpr, row.clinic_sor, "served", subject, "Generated and served to DDS (ITI-68)",
                           version=version, details={"bundle_identifier": (document.get("identifier") or {}).get(
                               "value"), "dds_entry": row.dds_id})
        return json.dumps(document, ensure_ascii=False).encode("utf-8")


def _generated(state: ConditionCard | Note, assembled: datetime) -> tuple[dict[str, Any], int | None]:
    """The document Bundle of ``state`` and the note version it serves (None for a ConditionList)."""
    if isinstance(state, ConditionCard):
        return build_conditionlist(state, assembled=assembled), None
    return build_note_document(state, assembled=assembled), state.version
