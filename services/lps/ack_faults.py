"""Acknowledgements that misbehave on purpose, for fault switch ``lps``/``ack-duplicate-different``
(``nsp_sandbox.faults``): a second copy of an acknowledgement with the same Bundle.id, the same
MessageHeader.id and the same ``response.identifier``, but another ``response.code`` — a duplicate
whose content differs, which MedCom forbids (a resent acknowledgement is identical)."""

from __future__ import annotations

import copy
from typing import Any

OTHER_CODE = {"ok": "transient-error", "transient-error": "ok", "fatal-error": "ok"}


def different_copy(ack: dict[str, Any]) -> dict[str, Any]:
    """``ack`` with the same ids and another response code."""
    changed = copy.deepcopy(ack)
    header = changed["entry"][0]["resource"]
    response = header["response"]
    response["code"] = OTHER_CODE.get(response.get("code", "ok"), "ok")
    return changed
