"""The MedCom Acknowledgements that come back to the EOJ for the messages it sent (MedCom governance 043):
each judged against its message (``applied``, ``duplicate``, ``contradicts``, ``unknown-message``), kept as read,
and listed for ``GET /eoj/acks``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from nsp_sandbox import fhir_shape as shape
from nsp_sandbox.clock import naive_utc
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.delivery_status import delivery_status, report
from nsp_sandbox.hco_terms import ACK_EVENT
from nsp_sandbox.outcome import FhirError, Issue
from services.eoj_sender.models import AckLogRow, MessageRow

FINAL_ACKS = ("ok", "fatal-error")
OBSERVER = "nsp-sandbox EOJ (municipal EHR)"
ACKS_LISTED = 200  # the newest acknowledgements GET /eoj/acks lists


def aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC)


class Acknowledgements:
    """The acknowledgements the EOJ receives, over its context's database."""

    def __init__(self, context: SandboxContext) -> None:
        self._context = context

    async def receive(self, bundle: dict[str, Any]) -> dict[str, Any]:
        """One acknowledgement as it arrived (``POST /eoj/ehmi``): 422 when it is not a MedCom Acknowledgement;
        else judged and kept on a worker thread, and EDS told the message was finalized."""
        resources = shape.resources(bundle)
        header = resources[0] if resources else {}
        response = shape.obj(header.get("response"))
        if (bundle.get("resourceType") != "Bundle" or header.get("resourceType") != "MessageHeader"
                or shape.text(shape.obj(header.get("eventCoding")).get("code")) != ACK_EVENT
                or not shape.text(response.get("identifier"))
                or response.get("code") not in ("ok", "transient-error", "fatal-error")):
            raise FhirError(422, Issue("error", "structure", "Not a MedCom Acknowledgement: a message Bundle whose "
                                       "MessageHeader has event acknowledgement-message, a response.identifier and "
                                       "a response.code (ok | transient-error | fatal-error)",
                                       expression="Bundle.entry[0].resource", rule="ack-message",
                                       source="MedCom Acknowledgement 2.0.3"))
        code, target = shape.text(response.get("code"))[:32] or None, shape.text(response["identifier"])[:64]
        outcome_ref = shape.reference(response.get("details"))
        outcome = next((r for r in resources if f"OperationOutcome/{r.get('id')}" == outcome_ref), None)
        verdict = await run_in_threadpool(self._judge, bundle, target, code, outcome)
        await report(self._context.peers, delivery_status("msg-received-and-finalized", bundle,
                                                          observer=f"{OBSERVER} EUA-MSH",
                                                          now=self._context.clock.now()))
        return {"verdict": verdict, "message": target, "code": code}

    def _judge(self, bundle: dict[str, Any], target: str, code: str | None,
               outcome: dict[str, Any] | None) -> str:
        """The acknowledgement ``bundle`` of message ``target`` judged and kept: its verdict."""
        now = naive_utc(self._context.clock.now())
        # one acknowledgement of a message judged at a time, in every worker: two copies are one applied and a
        # duplicate, and a final answer is never overturned by one judged beside it
        with self._context.database.writing("eoj-ack", target) as s:
            envelope = shape.text(bundle.get("id"))[:64]
            seen = s.scalar(select(AckLogRow.pk).where(AckLogRow.bundle_id == envelope)) if envelope else None
            row = s.scalar(select(MessageRow).where(MessageRow.header_id == target))
            if row is None:
                verdict = "unknown-message"
            elif seen is not None or (row.ack == code and row.ack in FINAL_ACKS):
                verdict = "duplicate"
            elif row.ack in FINAL_ACKS:
                verdict = "contradicts"  # a final answer is never overturned
            else:
                verdict = "applied"
                row.ack, row.ack_bundle_id, row.ack_outcome, row.ack_at = code or "unknown", envelope, outcome, now
            s.add(AckLogRow(received_at=now, bundle_id=envelope, response_to=target, code=code,
                            verdict=verdict, bundle=bundle))
        return verdict

    def listed(self, message: str | None, since: datetime | None) -> list[dict[str, Any]]:
        """Every acknowledgement that arrived (oldest first, at most :data:`ACKS_LISTED`): those answering
        MessageHeader.id ``message`` — whether this EOJ sent it or not — and/or received from ``since`` on
        (sandbox clock), each as read, with when it came and what it settled."""
        query = select(AckLogRow).order_by(AckLogRow.pk.desc()).limit(ACKS_LISTED)
        if message is not None:
            query = query.where(AckLogRow.response_to == message)
        if since is not None:
            query = query.where(AckLogRow.received_at >= naive_utc(since))
        with self._context.database.session() as s:
            rows = list(s.scalars(query))
        return [{"at": aware(a.received_at).isoformat(), "bundle_id": a.bundle_id, "response_to": a.response_to,
                 "code": a.code, "verdict": a.verdict, "bundle": a.bundle} for a in reversed(rows)]
