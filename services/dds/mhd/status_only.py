"""``dds-update-status-only``: an update of a registered DocumentReference changes only its status.

Both ways of updating an entry meet it: ITI-92 (``PUT DocumentReference/{id}``) and the
UpdateDocumentRefs entries of an ITI-65 replacement. Any other difference from the entry as
served is refused, naming every changed element (FHIRPath with indices). ``meta`` (server-managed)
and ``text`` (a narrative may well mention the status) are not compared. Shared documents are
corrected by replacement (``services.dds.lifecycle``).
"""

from __future__ import annotations

from typing import Any

from nsp_sandbox.outcome import Issue
from services.dds.lifecycle import RULE_SOURCE

NOT_COMPARED = frozenset({"meta", "status", "text"})


def changed_elements(served: Any, received: Any, path: str) -> list[str]:
    """FHIRPaths (with indices) of every element where ``received`` differs from ``served``."""
    if isinstance(served, dict) and isinstance(received, dict):
        changes: list[str] = []
        for key in list(served) + [k for k in received if k not in served]:
            if key in NOT_COMPARED and path == "DocumentReference":
                continue
            if key not in served or key not in received:
                changes.append(f"{path}.{key}")
            else:
                changes.extend(changed_elements(served[key], received[key], f"{path}.{key}"))
        return changes
    if isinstance(served, list) and isinstance(received, list):
        if len(served) != len(received):
            return [path]
        changes = []
        for index, (a, b) in enumerate(zip(served, received, strict=True)):
            changes.extend(changed_elements(a, b, f"{path}[{index}]"))
        return changes
    return [] if served == received else [path]


def only_status_changes(served: dict[str, Any], received: dict[str, Any], prefix: str) -> list[Issue]:
    """Issues for every element other than ``status`` that ``received`` changes."""
    return [
        Issue("error", "business-rule",
              f"{change} differs from the registered entry; an update may change only status "
              "(shared documents are corrected by replacement)",
              expression=f"{prefix}{change.removeprefix('DocumentReference')}", source=RULE_SOURCE,
              rule="dds-update-status-only", ihe_code="XDSMetadataUpdateError")
        for change in changed_elements(served, received, "DocumentReference")
    ]
