"""The hub's own settings (``GET|PUT /plsp/settings``): ``notes_after_midnight`` — kept in the hub's
database once changed, else the sandbox setting ``plsp_notes_after_midnight`` — and the purge delay
``note_purge_hours`` (a sandbox setting, shown only)."""

from __future__ import annotations

from typing import Any

from nsp_sandbox.context import SandboxContext
from services.plsp_hub.models import SettingRow

AFTER_MIDNIGHT = "notes_after_midnight"


class HubSettings:
    def __init__(self, context: SandboxContext) -> None:
        self._context = context

    def after_midnight(self) -> bool:
        """Whether a new note is shared only from the next midnight (``plsp-note-after-midnight``)."""
        with self._context.database.session() as s:
            row = s.get(SettingRow, AFTER_MIDNIGHT)
            return bool(row.value["on"]) if row else self._context.settings.plsp_notes_after_midnight

    def current(self) -> dict[str, Any]:
        return {AFTER_MIDNIGHT: self.after_midnight(), "note_purge_hours": self._context.settings.plsp_note_purge_hours}

    def set_after_midnight(self, on: bool) -> dict[str, Any]:
        with self._context.database.session() as s:
            row = s.get(SettingRow, AFTER_MIDNIGHT)
            if row is None:
                s.add(SettingRow(key=AFTER_MIDNIGHT, value={"on": on}))
            else:
                row.value = {"on": on}
        return self.current()
