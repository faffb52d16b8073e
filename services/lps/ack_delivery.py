"""The GP system's acknowledgements on their way back: sent at once, later (the ``delay_minutes`` switch) or
never (``withhold``), once or twice (``twice``), each claimed before it is sent so that of two deliveries at
once (two workers at ``POST /lps/outbox/deliver``) exactly one sends it. EDS hears of each that went out.

The database work runs on worker threads, so that the event loop goes on with other requests meanwhile.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from starlette.concurrency import run_in_threadpool

from nsp_sandbox import faults
from nsp_sandbox.clock import naive_utc
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.delivery_status import delivery_status, report
from services.lps.ack_faults import different_copy
from services.lps.formats import body_of
from services.lps.models import AckOutRow, EnvelopeRow, XmlRow
from services.lps.switches import Switches


class AckDelivery:
    def __init__(self, context: SandboxContext, switches: Switches) -> None:
        self._context = context
        self._switches = switches

    async def deliver(self, ack: dict[str, Any], url: str | None, sbdh: bool = False, xml: bool = False) -> str:
        """Queue ``ack`` for ``url`` as the switches say (``sbdh``: in an envelope; ``xml``: as FHIR XML) and send
        it if it is due now; what became of it, in words."""
        if url is None:
            return "none: no return address"
        pk, state, due = await run_in_threadpool(self._queue, ack, url, sbdh, xml)
        if state == "withheld":
            return "withheld (behaviour switch)"
        if due is not None and due > naive_utc(self._context.clock.now()):
            return f"delayed until {due.isoformat()}Z (POST /lps/outbox/deliver)"
        result = await self._send(pk)
        if faults.current("lps", "ack-duplicate-different") is not None:  # a second copy, other content
            other = await run_in_threadpool(self._queued, AckOutRow(url=url, ack=different_copy(ack), copies=1,
                                                                     due_at=due, state="waiting"))
            result += "; then a different copy: " + await self._send(other)
        return result

    def _queue(self, ack: dict[str, Any], url: str, sbdh: bool, xml: bool) -> tuple[int, str, Any]:
        switches = self._switches.get()
        now = self._context.clock.now()
        copies = 2 if switches["twice"] else 1
        if switches["withhold"]:
            state, due = "withheld", None
        elif switches["delay_minutes"] > 0:
            state, due = "waiting", naive_utc(now + timedelta(minutes=switches["delay_minutes"]))
        else:
            state, due = "waiting", naive_utc(now)
        with self._context.database.session() as s:
            row = AckOutRow(url=url, ack=ack, copies=copies, due_at=due, state=state)
            s.add(row)
            if sbdh:  # acknowledgements go back the way the message came
                s.add(EnvelopeRow(bundle_id=str(ack["id"]), instance_identifier="", sender_gln="",
                                  receiver_gln=""))
            if xml:  # and in the format it came in
                s.add(XmlRow(bundle_id=str(ack["id"])))
            s.flush()
            return row.pk, state, due

    def _queued(self, row: AckOutRow) -> int:
        with self._context.database.session() as s:
            s.add(row)
            s.flush()
            return row.pk

    async def deliver_due(self) -> list[str]:
        """Send every delayed acknowledgement whose time has come (sandbox clock)."""
        return [await self._send(pk) for pk in await run_in_threadpool(self._due)]

    def _due(self) -> list[int]:
        now = naive_utc(self._context.clock.now())
        with self._context.database.session() as s:
            return list(s.scalars(select(AckOutRow.pk).where((AckOutRow.state == "waiting")
                                                             & (AckOutRow.due_at <= now)).order_by(AckOutRow.pk)))

    async def _send(self, pk: int) -> str:
        claimed = await run_in_threadpool(self._claim, pk)
        if claimed is None:
            return "already sent by another delivery"
        url, ack, copies, sbdh, xml = claimed
        results = []
        client = self._context.peers.client_for_url(url)
        for _ in range(copies):
            try:  # each copy in an envelope of its own
                body, content_type = body_of(ack, sbdh=sbdh, xml=xml, library=self._context.validator.structures,
                                             now=self._context.clock.now())
            except ValueError as exc:
                results.append(f"not delivered: {exc}")
                continue
            try:
                response = await client.post(url, content=body, headers={"Content-Type": content_type})
                results.append(f"HTTP {response.status_code}")
            except Exception as exc:  # an unreachable sender must not break the inbox
                results.append(f"not delivered: {type(exc).__name__}")
            await report(self._context.peers, delivery_status(  # EDS: the acknowledgement went out
                "msg-created-and-sent", ack, observer="nsp-sandbox LPS (GP system) EUA-MSH",
                now=self._context.clock.now(), outcome="0" if results[-1].startswith("HTTP 2") else "8"))
        result = f"sent to {url}: " + ", ".join(results)
        await run_in_threadpool(self._sent, pk, all(r.startswith("HTTP 2") for r in results), result)
        return result

    def _claim(self, pk: int) -> tuple[str, dict[str, Any], int, bool, bool] | None:
        with self._context.database.session() as s:
            # Claimed (waiting → sending) by one guarded UPDATE: of concurrent deliveries (two workers at
            # POST /lps/outbox/deliver) exactly one sends each acknowledgement.
            claimed = s.execute(update(AckOutRow).where((AckOutRow.pk == pk) & (AckOutRow.state == "waiting"))
                                .values(state="sending"))
            if getattr(claimed, "rowcount", 0) != 1:
                return None
            row = s.get(AckOutRow, pk)
            assert row is not None
            sbdh = s.get(EnvelopeRow, str(row.ack.get("id"))) is not None
            xml = s.get(XmlRow, str(row.ack.get("id"))) is not None
            return row.url, row.ack, row.copies, sbdh, xml

    def _sent(self, pk: int, delivered: bool, result: str) -> None:
        with self._context.database.session() as s:
            row = s.get(AckOutRow, pk)
            assert row is not None
            row.state = "delivered" if delivered else "failed"
            row.result = result[:500]
