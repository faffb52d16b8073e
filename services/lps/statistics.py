"""The GP system's statistics face, ``GET /statistics``: the HomeCareObservation messages it
received, per receiving practice (SOR) and per sending organisation (SOR), and the MedCom
Acknowledgements it answered with, by outcome (``ok``, ``error`` = transient-error, ``fatal`` =
fatal-error) — the receiving side of the counts the EOJ gives (``/eoj/statistics``).

Read-only and open like ``/health``: counts and SOR codes only, never a CPR number.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi import APIRouter
from sqlalchemy import func, select

from nsp_sandbox.database import Database
from services.lps.models import ReceivedRow

OUTCOMES = {"ok": "ok", "transient-error": "error", "fatal-error": "fatal"}


def counts(database: Database) -> dict[str, Any]:
    """Received transmissions grouped by practice, sender, verdict and acknowledgement outcome."""
    with database.session() as s:
        rows = s.execute(select(ReceivedRow.receiver_sor, ReceivedRow.sender_sor, ReceivedRow.verdict,
                                ReceivedRow.ack_code, func.count()).group_by(
            ReceivedRow.receiver_sor, ReceivedRow.sender_sor, ReceivedRow.verdict, ReceivedRow.ack_code)).all()
    practices: Counter[str] = Counter()
    senders: Counter[str] = Counter()
    verdicts: Counter[str] = Counter()
    acks: Counter[str] = Counter({outcome: 0 for outcome in OUTCOMES.values()})
    for receiver, sender, verdict, ack_code, n in rows:
        practices[receiver] += n
        senders[sender] += n
        verdicts[verdict] += n
        acks[OUTCOMES.get(ack_code, ack_code)] += n
    return {
        "actor": "LPS",
        "received": sum(practices.values()),
        "by_practice": [{"sor": sor, "messages": n} for sor, n in sorted(practices.items())],
        "by_sender": [{"sor": sor, "messages": n} for sor, n in sorted(senders.items())],
        "by_verdict": dict(sorted(verdicts.items())),
        "acknowledgements_sent": [{"outcome": outcome, "messages": n} for outcome, n in acks.items()],
    }


def router(database: Database) -> APIRouter:
    """``GET /statistics``: the GP system's counts as JSON (no token: aggregates without CPR numbers)."""
    faces = APIRouter()

    @faces.get("/statistics")
    def statistics() -> dict[str, Any]:
        return counts(database)

    return faces
