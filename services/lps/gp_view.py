"""What a GP sees of the received HCO messages for one citizen (``GET /lps/inbox?cpr=``): per message
chain the newest version only, corrected results marked ``R`` (MedCom's recommendation), cancelled
messages archived and marked with the reason, refused consent marked, and the full history. A
modification or retraction held until its original arrives is listed as ``pending``.

A GP sees the messages of their own practice only (:func:`addressed_to`): those whose receiver is
that practice's SOR code; what is addressed to none of the system's practices was answered in the
name of the sandbox's own practice, and is listed there."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from sqlalchemy import ColumnElement, select

from nsp_sandbox.database import Database
from services.lps.inbox import SANDBOX_PRACTICE
from services.lps.models import ReceivedRow


def addressed_to(practice: str, practices: set[str]) -> ColumnElement[bool]:
    """The received rows of ``practice`` (a SOR code), one of this system's ``practices``: those addressed
    to it, and for the sandbox's own practice, which answers them, those addressed to none of them."""
    condition = ReceivedRow.receiver_sor == practice
    if practice == SANDBOX_PRACTICE["sor"]:
        condition = condition | ReceivedRow.receiver_sor.not_in(practices - {practice})
    return condition


def _results(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for entry in bundle.get("entry", []):
        obs = entry.get("resource") or {}
        if obs.get("resourceType") != "Observation":
            continue
        coding = ((obs.get("code") or {}).get("coding") or [{}])[0]
        quantity = obs.get("valueQuantity") or {}
        value = obs.get("valueString", quantity.get("value"))
        out.append({"code": coding.get("code"), "name": coding.get("display"), "value": value,
                    "comparator": quantity.get("comparator"), "unit": quantity.get("unit"),
                    "sampled": obs.get("effectiveDateTime"), "interpretation": "ikke referencevurderet (NI)",
                    "comment": " ".join(n.get("text", "") for n in obs.get("note", [])) or None})
    return out


def _report(bundle: dict[str, Any]) -> dict[str, Any]:
    return next((e.get("resource") or {} for e in bundle.get("entry", [])
                 if (e.get("resource") or {}).get("resourceType") == "DiagnosticReport"), {})


def _in_chain_order(versions: list[ReceivedRow]) -> list[ReceivedRow]:
    """The versions of one chain from the original along the Provenance links (a version applied after
    being held arrived before the one it changes); what no link reaches keeps its arrival order."""
    by_previous: dict[str | None, list[ReceivedRow]] = {}
    for version in sorted(versions, key=lambda v: (v.activity == "retract-message", v.pk)):  # a retraction ends it
        by_previous.setdefault(version.previous_header, []).append(version)
    ordered: list[ReceivedRow] = []
    todo = [v for v in versions if v.previous_header is None or v.previous_header not in
            {w.header_id for w in versions}]
    while todo:
        current = todo.pop(0)
        if current in ordered:
            continue
        ordered.append(current)
        todo[:0] = by_previous.get(current.header_id, [])
    return ordered + [v for v in versions if v not in ordered]


def _pending(row: ReceivedRow) -> dict[str, Any]:
    bundle = json.loads(row.bundle)
    return {"message": row.header_id, "newest": row.header_id, "status": "pending", "archived": False,
            "waiting_for": row.previous_header, "activity": row.activity, "cancellation_reason": None,
            "refused_consent": False, "clinical_comment": _report(bundle).get("conclusion"),
            "results": _results(bundle),
            "history": [{"id": row.header_id, "bundle_id": row.bundle_id, "activity": row.activity,
                         "previous": row.previous_header,
                         "received_at": row.received_at.replace(tzinfo=UTC).isoformat()}]}


def inbox(database: Database, cpr: str, practice: str, practices: set[str]) -> list[dict[str, Any]]:
    """What the GP of ``practice`` sees of ``cpr``'s messages."""
    mine = (ReceivedRow.cpr == cpr) & addressed_to(practice, practices)
    with database.session() as s:
        rows = list(s.scalars(select(ReceivedRow).where(mine & (ReceivedRow.verdict == "accepted"))
                              .order_by(ReceivedRow.pk)))
        held = list(s.scalars(select(ReceivedRow).where(mine & (ReceivedRow.verdict == "held"))
                              .order_by(ReceivedRow.pk)))
    chains: dict[str, list[ReceivedRow]] = {}
    for row in rows:
        chains.setdefault(row.original_header or row.header_id, []).append(row)
    out = []
    for original, arrived in chains.items():
        versions = _in_chain_order(arrived)
        newest = versions[-1]
        cancelled = newest.activity == "retract-message"
        shown = next((v for v in reversed(versions) if v.activity != "retract-message"), newest)
        bundle = json.loads(shown.bundle)
        results = _results(bundle)
        earlier = [_results(json.loads(v.bundle)) for v in versions[:versions.index(shown)]
                   if v.activity != "retract-message"]
        for result in results:
            before = [r for older in earlier for r in older if r["code"] == result["code"]]
            result["corrected"] = bool(before) and any(
                (b["value"], b["comparator"], b["sampled"], b["comment"]) !=
                (result["value"], result["comparator"], result["sampled"], result["comment"]) for b in before)
            result["mark"] = "R" if result["corrected"] else None
        report = _report(bundle)
        out.append({
            "message": original, "newest": newest.header_id,
            "status": "cancelled" if cancelled else ("corrected" if len(versions) > 1 else "new"),
            "archived": cancelled,
            "cancellation_reason": _report(json.loads(newest.bundle)).get("conclusion") if cancelled else None,
            "refused_consent": any(x.get("code") == "R" for x in report.get("meta", {}).get("security", [])),
            "clinical_comment": report.get("conclusion") if not cancelled or shown is not newest else None,
            "results": results,
            "history": [{"id": v.header_id, "bundle_id": v.bundle_id, "activity": v.activity,
                         "previous": v.previous_header, "received_at": v.received_at.replace(tzinfo=UTC).isoformat()}
                        for v in versions],
        })
    return out + [_pending(row) for row in held]
