"""EHMI envelope receipts at the EOJ (``dk-ehmi-sbdh``): every SBDH envelope it sends asks the receiving
MSH for a receipt within ``ehmi_receipt_seconds`` (``TimeToAcknowledgeReceipt``, 10 minutes by default);
the EOJ records the receipt that comes — ``ReceiptAcknowledgement`` or ``ReceiptException`` — and whether
it came in time (``received``, ``late``, ``exception``; without one: ``pending``, then ``overdue``). It
answers an acknowledgement that came in an envelope asking for a receipt with one of its own."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

from sqlalchemy import select

from nsp_sandbox.clock import naive_utc
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.hco_sbdh import CONTENT_TYPE, Envelope
from nsp_sandbox.sbdh_receipt import Receipt, build_receipt, requested
from services.eoj_sender.models import ReceiptRow


class Receipts:
    def __init__(self, context: SandboxContext) -> None:
        self._context = context

    @property
    def timeout_ms(self) -> int:
        return self._context.settings.ehmi_receipt_seconds * 1000

    def expect(self, envelope_id: str, header_id: str) -> None:
        """An envelope was sent: its receipt is due within the deadline."""
        now = naive_utc(self._context.clock.now())
        with self._context.database.session() as s:
            s.add(ReceiptRow(envelope_id=envelope_id[:200], header_id=header_id[:64], sent_at=now,
                             expected_by=now + timedelta(milliseconds=self.timeout_ms)))

    def arrived(self, receipt: Receipt) -> dict[str, Any]:
        """Record ``receipt``; answers what it settled (``unknown-envelope`` when no envelope of ours)."""
        now = naive_utc(self._context.clock.now())
        # one receipt of an envelope judged at a time, in every worker: of two copies at once one is applied
        with self._context.database.writing("eoj-receipt", receipt.original_envelope) as s:
            row = s.scalar(select(ReceiptRow).where(ReceiptRow.envelope_id == receipt.original_envelope))
            if row is None:
                return {"verdict": "unknown-envelope", "receipt": receipt.to_json()}
            if row.received_at is not None:
                return {"verdict": "duplicate", "receipt": receipt.to_json()}
            row.received_at, row.kind, row.reason = now, receipt.kind[:32], (receipt.reason or None)
            return {"verdict": "applied", "message": row.header_id, "receipt": receipt.to_json()}

    def of(self, header_id: str) -> list[dict[str, Any]]:
        """The envelopes of message ``header_id`` and their receipts, oldest first."""
        now = naive_utc(self._context.clock.now())
        with self._context.database.session() as s:
            rows = list(s.scalars(select(ReceiptRow).where(ReceiptRow.header_id == header_id)
                                  .order_by(ReceiptRow.pk)))
        out = []
        for r in rows:
            if r.received_at is None:
                state = "overdue" if now > r.expected_by else "pending"
            elif r.kind == "ReceiptException":
                state = "exception"
            else:
                state = "late" if r.received_at > r.expected_by else "received"
            out.append({"envelope": r.envelope_id, "state": state,
                        "sent_at": r.sent_at.replace(tzinfo=UTC).isoformat(),
                        "expected_by": r.expected_by.replace(tzinfo=UTC).isoformat(),
                        "received_at": r.received_at.replace(tzinfo=UTC).isoformat() if r.received_at else None,
                        "kind": r.kind, "reason": r.reason})
        return out

    async def answer(self, envelope: Envelope | None, return_to: str) -> str | None:
        """Send the receipt an incoming envelope asks for to ``return_to``; what happened, or None."""
        if envelope is None or not requested(envelope) or not return_to.startswith(("http://", "https://")):
            return None
        body, _ = build_receipt(envelope, self._context.clock.now(), timeout_ms=self.timeout_ms)
        try:
            response = await self._context.peers.client_for_url(return_to).post(
                return_to, content=body, headers={"Content-Type": CONTENT_TYPE})
        except Exception as exc:  # the receipt is best effort: the acknowledgement is already taken
            return f"receipt not delivered: {type(exc).__name__}"
        return f"receipt sent: HTTP {response.status_code}"
