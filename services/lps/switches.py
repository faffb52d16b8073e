"""The GP emulator's behaviour switches, for testing a vendor's EOJ: ``mode`` (``normal``: as the rules
say; ``ok`` / ``fatal`` / ``transient``: always that answer), ``withhold`` (never send the
acknowledgement), ``twice`` (send it twice), ``delay_minutes`` (send it that long later, on the
sandbox clock, at ``POST /lps/outbox/deliver``), ``receipt`` (false: send no SBDH envelope receipt)."""

from __future__ import annotations

from typing import Any

from nsp_sandbox import faults
from nsp_sandbox.database import Database
from nsp_sandbox.outcome import FhirError, Issue
from services.lps.models import SettingRow

DEFAULTS: dict[str, Any] = {"mode": "normal", "withhold": False, "twice": False, "delay_minutes": 0, "receipt": True}
MODES = ("normal", "ok", "fatal", "transient")
KEY = "switches"


class Switches:
    def __init__(self, database: Database) -> None:
        self._database = database

    def get(self) -> dict[str, Any]:
        with self._database.session() as s:
            row = s.get(SettingRow, KEY)
            return with_fault_switches({**DEFAULTS, **(row.value if row else {})})

    def set(self, change: dict[str, Any]) -> dict[str, Any]:
        problems = []
        for key, value in change.items():
            if key not in DEFAULTS:
                problems.append(Issue("error", "not-supported", f"Unknown switch '{key}'; known: "
                                      f"{', '.join(DEFAULTS)}", expression=key, rule="lps-switch"))
            elif key == "mode" and value not in MODES:
                problems.append(Issue("error", "value", f"mode is one of {', '.join(MODES)}", expression=key,
                                      rule="lps-switch"))
            elif key in ("withhold", "twice", "receipt") and not isinstance(value, bool):
                problems.append(Issue("error", "value", f"{key} is true or false", expression=key, rule="lps-switch"))
            elif key == "delay_minutes" and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                problems.append(Issue("error", "value", "delay_minutes is a whole number ≥ 0", expression=key,
                                      rule="lps-switch"))
        if problems:
            raise FhirError(422, problems)
        with self._database.writing("lps-switches") as s:  # changes at once, in any worker, all kept
            row = s.get(SettingRow, KEY)
            merged = {**DEFAULTS, **(row.value if row else {}), **change}
            if row is None:
                s.add(SettingRow(key=KEY, value=merged))
            else:
                row.value = merged
        return merged


def with_fault_switches(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with the fault switches (``GET /sandbox/faults``) taken for the message being answered."""
    for mode in ("ok", "fatal", "transient"):
        if faults.current("lps", f"mode-{mode}") is not None:
            values["mode"] = mode
    for switch in ("withhold", "twice"):
        if faults.current("lps", switch) is not None:
            values[switch] = True
    for switch in ("delay", "ack-late"):
        if (options := faults.current("lps", switch)) is not None:
            values["delay_minutes"] = max(values["delay_minutes"], options["minutes"])
    return values
