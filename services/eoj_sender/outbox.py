"""The EOJ's outbox: builds, sends and resends HCO messages, and follows their acknowledgements.

MedCom reliable messaging (governance 043): every message expects one Acknowledgement whose
``response.identifier`` is its MessageHeader.id. Without one after the timeout (30 min on the
sandbox clock) a message may be resent — with a new Bundle.id and send time, the same
MessageHeader.id — at most twice. Duplicate acknowledgements are ignored and logged; a final
answer (``ok`` / ``fatal-error``) is never overturned.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from starlette.concurrency import run_in_threadpool

from nsp_sandbox import hco_versions
from nsp_sandbox.clock import naive_utc
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.database import claim_time
from nsp_sandbox.delivery_status import delivery_status, report
from nsp_sandbox.hco_terms import GLN_SYSTEM, HCO_EVENT, SOR_SYSTEM, repertoire
from nsp_sandbox.message_size import compact_message, message_bytes
from nsp_sandbox.outcome import FhirError, Issue
from nsp_sandbox.sbdh_secondary import secondary_envelope
from services.eoj_sender import send_faults
from services.eoj_sender.acknowledgements import FINAL_ACKS, OBSERVER, Acknowledgements, aware
from services.eoj_sender.chain import MessageFacts, read_facts
from services.eoj_sender.chain_changes import ChainChanges, already_sent
from services.eoj_sender.endpoint_register import EndpointRegister
from services.eoj_sender.message import (
    Previous,
    Receiver,
    build_message,
    own_provenance,
    producer_of,
    stable_ids_of,
)
from services.eoj_sender.models import AckLogRow, MessageRow
from services.eoj_sender.nsp_registers import NspRegisters, Producer
from services.eoj_sender.order import Modification, Order, Retraction
from services.eoj_sender.order_rules import check_order
from services.eoj_sender.receipts import Receipts
from services.eoj_sender.sharing import HCOM_PROFILE, Sharing
from services.eoj_sender.transport import envelope_of

SOURCE = "MedCom governance 043 (reliable messaging)"
MEDCOM_ERRORS = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-acknowledgement-error-codes"



def not_found(header_id: str) -> FhirError:
    return FhirError(404, Issue("error", "not-found", f"No message with MessageHeader.id {header_id} was sent "
                                "by this EOJ", rule="eoj-message-known"))


class Outbox:
    def __init__(self, context: SandboxContext, register: EndpointRegister, sharing: Sharing,
                 nsp: NspRegisters) -> None:
        self._context = context
        self._register = register
        self._sharing = sharing
        self._nsp = nsp
        self._repertoire: dict[tuple[str, str], str] | None = None
        self.receipts = Receipts(context)
        self.acks = Acknowledgements(context)
        self._chains = ChainChanges(context.database, not_found)

    # -- building -------------------------------------------------------------------------------

    def repertoire(self) -> dict[tuple[str, str], str]:
        if self._repertoire is None:
            self._repertoire = repertoire(self._context.packages)
        return self._repertoire

    def _receiver(self, key: str, event: str | None = HCO_EVENT) -> tuple[Receiver, str]:
        """The receiver registered under SOR or GLN ``key`` and its endpoint URL; with ``event``, its endpoint
        must take that message type (EER payloadType), else MedCom's MSG_RECEIVER_UNABLE_TO_RECEIVE_MSG_TYPE."""
        endpoint = self._register.find(key)
        if endpoint is None:
            raise FhirError(422, Issue("error", "not-found", f"No organisation with SOR or GLN {key} in the "
                                       "endpoint register (see /eoj/endpoints)", expression="receiver",
                                       rule="eer-receiver-known", source="EHMI EER",
                                       codings=((MEDCOM_ERRORS, "MSG_Receiver_Identifier_UNKNOWN"),)))
        if event is not None and event not in endpoint["message_types"]:
            raise FhirError(422, Issue("error", "not-supported", f"{endpoint['name']} (SOR {endpoint['sor']}) "
                                       f"does not take {event} messages: its endpoint registers "
                                       f"{', '.join(endpoint['message_types']) or 'no message types'}",
                                       expression="receiver", rule="eer-message-type", source="EHMI EER",
                                       codings=((MEDCOM_ERRORS, "MSG_RECEIVER_UNABLE_TO_RECEIVE_MSG_TYPE"),)))
        return Receiver(endpoint["sor"], endpoint["gln"], endpoint["ydernummer"], endpoint["name"]), endpoint["url"]

    def _version(self, explicit: str | None, receiver: str) -> str:
        """The HCO IG version of a message to ``receiver``: ``explicit``, else the receiver's endpoint-register
        entry, else the setting (:mod:`nsp_sandbox.hco_versions`)."""
        endpoint = self._register.find(receiver) if receiver else None
        try:
            return hco_versions.choose(explicit, endpoint and endpoint.get("hco_version"),
                                       self._context.settings.hco_version)
        except hco_versions.UnknownVersion as exc:
            raise FhirError(422, Issue("error", "not-supported", str(exc), expression="version",
                                       rule="hco-version")) from None

    async def _build(self, order: Order, *, activity: str = "new-message", previous: MessageRow | None = None,
                     conclusion: str | None = None) -> tuple[dict[str, Any], str]:
        receiver, url = await run_in_threadpool(self._addressed, order)
        earlier = json.loads(previous.bundle) if previous else None
        # Who this EOJ speaks as, from NSP's SOR register; a later version keeps its chain's sender.
        producer = (producer_of(earlier) if earlier else None) or await self._nsp.producer()
        # Building and validating the message is Python work from end to end: one job in the process's CPU lane
        # (nsp_sandbox.cpu_lane), while the event loop goes on meanwhile.
        bundle, found = await self._context.cpu_lane.run(self._made, order, producer, receiver, url, activity,
                                                         previous, earlier, conclusion)
        errors = [i for i in found if i.is_error]
        if errors:  # the order produced a message the profile refuses: say where, send nothing
            raise FhirError(422, errors)
        return bundle, url

    def _made(self, order: Order, producer: Producer, receiver: Receiver, url: str, activity: str,
              previous: MessageRow | None, earlier: dict[str, Any] | None, conclusion: str | None,
              ) -> tuple[dict[str, Any], list[Issue]]:
        """The message ``order`` makes (a later version of ``previous`` when given), and what its validation
        found."""
        bundle = build_message(
            order, producer=producer, receiver=receiver, ack_endpoint=f"{self._context.peers.url('eoj')}/ehmi",
            receiver_endpoint=url, now=self._context.clock.now(), repertoire=self.repertoire(),
            fhir_base=f"{self._context.peers.url('eoj')}/fhir", activity=activity,
            previous=Previous(previous.header_id, own_provenance(earlier)) if previous and earlier else None,
            conclusion=conclusion, stable_ids=stable_ids_of(earlier) if earlier else None)
        observations = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
        for item, built in zip(order.observations, observations, strict=True):
            # Remembered, so a later version keeps each result's id and sampling time.
            item.id, item.time = built["id"], datetime.fromisoformat(built["effectiveDateTime"])
        written = compact_message(bundle)  # its size, and what the engine keeps its findings by
        self._within_size(len(written))
        assert order.version is not None  # chosen in _addressed
        return bundle, hco_versions.validate(self._context.validator, bundle, order.version, content=written)

    def _addressed(self, order: Order) -> tuple[Receiver, str]:
        """``order`` checked, its HCO IG version chosen, and its receiver and endpoint URL looked up (the endpoint
        register is in the database: called on a worker thread)."""
        check_order(order, self.repertoire())
        order.version = self._version(order.version, order.receiver)
        return self._receiver(order.receiver)

    def _within_size(self, size: int) -> None:
        """MedCom: a message, attachments included, is at most 100 MB (``hco_max_message_bytes``): 422 for one of
        ``size`` bytes (:func:`~nsp_sandbox.message_size.message_bytes`) over that."""
        limit = self._context.settings.hco_max_message_bytes
        if size > limit:
            raise FhirError(422, Issue("error", "too-long", f"The message is {size} bytes; a HomeCareObservation "
                                       f"message, attachments included, is at most {limit} bytes", expression="Bundle",
                                       rule="hco-message-size", source="MedCom HomeCareObservation (S1: 100 MB)",
                                       codings=((MEDCOM_ERRORS, "MSG_Element_To_Long"),)))

    def _envelope_for(self, bundle: dict[str, Any]) -> str:
        """How messages to the bundle's receiver travel (endpoint register): ``none`` or ``sbdh``."""
        facts = read_facts(bundle, any_event=True)
        for key in (facts.receiver_ids.get(SOR_SYSTEM), facts.receiver_ids.get(GLN_SYSTEM)) if facts else ():
            endpoint = self._register.find(key) if key else None
            if endpoint is not None:
                return str(endpoint["envelope"])
        return "none"

    # -- sending --------------------------------------------------------------------------------

    async def send_order(self, order: Order) -> dict[str, Any]:
        bundle, url = await self._build(order)
        return await self._send(bundle, url, order=order)

    async def modify(self, header_id: str, change: Modification) -> dict[str, Any]:
        return await self._chains.change(header_id, lambda previous: self._modify(previous, change))

    async def _modify(self, previous: MessageRow, change: Modification) -> dict[str, Any]:
        order = self._order_of(previous)
        data = order.model_dump()
        changes = change.model_dump(exclude_unset=True)
        given = changes.pop("observations", None)
        data.update(changes)
        if given is not None:
            # A result named by its code changes only the fields given; it keeps its Observation.id and,
            # unless given, its sampling time. Codes not yet in the message are added.
            by_code = {o["code"]: o for o in data["observations"]}
            for item in change.observations or []:
                fields = item.model_dump(exclude_unset=True)
                if item.code in by_code:
                    by_code[item.code].update(fields)
                else:
                    by_code[item.code] = fields
            data["observations"] = list(by_code.values())
        new_order = Order.model_validate(data)
        bundle, url = await self._build(new_order, activity="modified-message", previous=previous)
        return await self._send(bundle, url, order=new_order, previous=previous, follows=True)

    async def retract(self, header_id: str, retraction: Retraction) -> dict[str, Any]:
        return await self._chains.change(header_id, lambda previous: self._retract(previous, retraction))

    async def _retract(self, previous: MessageRow, retraction: Retraction) -> dict[str, Any]:
        order = self._order_of(previous)
        bundle, url = await self._build(order, activity="retract-message", previous=previous,
                                        conclusion=retraction.reason)
        return await self._send(bundle, url, order=order, previous=previous, follows=True)

    async def send_ready(self, bundle: dict[str, Any], receiver: str | None, *, version: str | None = None,
                         fhir_format: str = "json") -> dict[str, Any]:
        """Send a ready-made HCO Bundle as is (in the FHIR format it came in); linked to its original by its
        Provenance; ``version``: the HCO IG version it follows (default: the receiver's, else the setting)."""
        facts = read_facts(bundle)
        if facts is None:
            raise FhirError(422, Issue("error", "structure", "Not an HCO message: a Bundle whose first entry is a "
                                       "MessageHeader with event homecareobservation-message", expression="Bundle",
                                       rule="hco-message", source="MedCom HomeCareObservation 1.2.1"))
        self._within_size(message_bytes(bundle))
        key = receiver or facts.receiver_ids.get(SOR_SYSTEM) or facts.receiver_ids.get(GLN_SYSTEM) or ""
        url, version, previous = await run_in_threadpool(self._ready_to_send, facts, key, version)
        return await self._send(bundle, url, order=None, previous=previous, version=version, fhir_format=fhir_format)

    def _ready_to_send(self, facts: MessageFacts, key: str, version: str | None
                       ) -> tuple[str, str, MessageRow | None]:
        """A ready-made message's endpoint URL, HCO IG version and the message it follows (if any), unless its
        MessageHeader.id was sent before (on a worker thread: the endpoint register and the outbox)."""
        _, url = self._receiver(key)
        version = self._version(version, key)
        with self._context.database.session() as s:
            if s.scalar(select(MessageRow.pk).where(MessageRow.header_id == facts.header_id)) is not None:
                raise already_sent(facts.header_id)
            previous = (s.scalar(select(MessageRow).where(MessageRow.header_id == facts.previous_header))
                        if facts.previous_header else None)
            if previous is not None:
                s.expunge(previous)
        return url, version, previous

    async def _post(self, url: str, bundle: dict[str, Any], envelope: str, version: str, fhir_format: str,
                    header_id: str) -> str:
        """Send one transmission: in the receiver's envelope (asking for its receipt), as FHIR JSON or FHIR
        XML; an envelope names the HCO IG version (DocumentIdentification/TypeVersion)."""
        return await send_faults.post(self._context, url, bundle, envelope=envelope, now=self._context.clock.now(),
                                      fhir_format=fhir_format, type_version=hco_versions.family(version),
                                      receipt_ms=self.receipts.timeout_ms,
                                      enveloped=lambda instance: run_in_threadpool(self.receipts.expect, instance,
                                                                                   header_id))

    async def _send(self, bundle: dict[str, Any], url: str, *, order: Order | None,
                    previous: MessageRow | None = None, envelope: str | None = None, version: str | None = None,
                    fhir_format: str = "json", follows: bool = False) -> dict[str, Any]:
        """Keep and send ``bundle``; ``follows``: a change built on ``previous`` as its chain's newest message
        (:class:`ChainMoved` when another worker changed the chain meanwhile: nothing is sent)."""
        facts = read_facts(bundle, any_event=True)  # the replay corpus sends faulty messages on purpose
        assert facts is not None
        version = version or (order.version if order else None) or await run_in_threadpool(
            self._version, None, facts.receiver_ids.get(SOR_SYSTEM) or facts.receiver_ids.get(GLN_SYSTEM) or "")
        now = naive_utc(self._context.clock.now())
        await run_in_threadpool(self._chains.record, MessageRow(
            header_id=facts.header_id, bundle_id=facts.bundle_id, activity=facts.activity,
            original_header=(previous.original_header or previous.header_id) if previous else
            (facts.previous_header if facts.activity != "new-message" else None),
            previous_header=facts.previous_header, cpr=facts.cpr,
            order=order.model_dump(mode="json") if order else None,
            bundle=json.dumps(bundle, ensure_ascii=False), endpoint_url=url, sent_at=now,
            send_result="sending", ack="pending", resends=[], refused_consent=facts.refused_consent,
            consent=bool(order and order.consent) or bool(previous and previous.consent),
            dds_reason="not yet provided", dds_state="pending", dds_claimed_at=claim_time(), dds_attempts=0,
            hco_version=version,
            fhir_format=fhir_format), previous, follows=follows)
        result = await self._post(url, bundle, envelope or await run_in_threadpool(self._envelope_for, bundle),
                                  version, fhir_format, facts.header_id)
        await self._sent(bundle, result)
        await run_in_threadpool(self._send_result, facts.header_id, result)
        await self._sharing.share(facts.header_id, sender=True)  # with the message, not after its acknowledgement
        return await run_in_threadpool(self.status, facts.header_id)

    def _send_result(self, header_id: str, result: str) -> None:
        with self._context.database.session() as s:
            s.execute(update(MessageRow).where(MessageRow.header_id == header_id).values(send_result=result))

    def dds_envelope(self, header_id: str) -> bytes:
        """The EHMI form of message ``header_id``'s DDS copy: its SBDH with XDS_METADATA; 404 when not shared."""
        with self._context.database.session() as s:
            row = s.scalar(select(MessageRow).where(MessageRow.header_id == header_id))
            if row is None:
                raise not_found(header_id)
            bundle, metadata, sent_at = json.loads(row.bundle), row.dds_metadata, aware(row.sent_at)
        if metadata is None:
            raise FhirError(404, Issue("error", "not-found", f"MessageHeader.id {header_id} has no DDS copy",
                                       rule="eoj-dds-copy"))
        return secondary_envelope(bundle, metadata, sent_at, receipt_ms=self.receipts.timeout_ms)[0]

    async def share_again(self, header_id: str) -> dict[str, Any]:
        """Provide the DDS copy of ``header_id`` again (after DDS was unreachable or refused it)."""
        status = await run_in_threadpool(self.status, header_id)
        if status["dds"]["entry"] is None:
            await self._sharing.share(header_id)
        return await run_in_threadpool(self.status, header_id)

    async def _sent(self, bundle: dict[str, Any], result: str, *, first: bool = True) -> None:
        """EDS hears it: the EOJ (EUA) created and sent the message (the first time), its MSH sent this
        transmission (every time, resends too); outcome ``8`` when it could not be delivered."""
        envelope, outcome = envelope_of(result), "0" if result.startswith("HTTP 2") else "8"
        for subtype, station, kind in (("msg-created-and-sent", "EUA", "EUA"), ("msg-sent", "MSH", "MSH")):
            if first or kind == "MSH":
                await report(self._context.peers, delivery_status(
                    subtype, bundle, observer=f"{OBSERVER} {station}", now=self._context.clock.now(),
                    transport_envelope=envelope, outcome=outcome, source_type=kind))

    async def send_faulty(self, bundle: dict[str, Any], receiver: str, fhir_format: str = "json") -> dict[str, Any]:
        """Send a message of the replay corpus exactly as given (it may be wrong on purpose), as FHIR JSON or
        FHIR XML (converted from the JSON when sent)."""
        _, url = await run_in_threadpool(self._receiver, receiver, None)
        envelope = await run_in_threadpool(self._register.find, receiver)
        return await self._send(bundle, url, order=None, envelope=envelope["envelope"] if envelope else None,
                                fhir_format=fhir_format)

    async def base_message(self, receiver: str) -> dict[str, Any]:
        """A fresh valid message to ``receiver``: what the corpus's faults are made from."""
        order = Order.model_validate({
            "cpr": "2509479989", "family": "Elmer", "given": ["Bruno"], "receiver": receiver, "initials": None,
            "observations": [{"code": "NPU22089", "value": 6.8}, {"code": "NPU19748", "value": 26}]})
        return (await self._build(order))[0]

    async def resend(self, header_id: str, *, only_when_due: bool = False) -> dict[str, Any]:
        """Resend a message still without a final acknowledgement, after the timeout, at most twice."""
        claimed = await run_in_threadpool(self._claim_resend, header_id, only_when_due)
        if claimed is None:
            return await run_in_threadpool(self.status, header_id)
        bundle, url, version, fhir_format = claimed
        result = await self._post(url, bundle, await run_in_threadpool(self._envelope_for, bundle), version,
                                  fhir_format, header_id)
        await self._sent(bundle, result, first=False)
        await run_in_threadpool(self._resent, header_id, bundle["id"], result)
        return await run_in_threadpool(self.status, header_id)

    def _claim_resend(self, header_id: str, only_when_due: bool) -> tuple[dict[str, Any], str, str, str] | None:
        """The message ``header_id`` claimed for a resend, with a new envelope id and send time: (bundle, URL,
        HCO IG version, FHIR format); None (``only_when_due``) or 409 when it may not be resent now."""
        settings = self._context.settings
        now = self._context.clock.now()
        with self._context.database.session() as s:
            row = s.scalar(select(MessageRow).where(MessageRow.header_id == header_id))
            if row is None:
                raise not_found(header_id)
            last = aware(max([row.sent_at, *(datetime.fromisoformat(r["at"]) for r in row.resends)]))
            due = last + timedelta(minutes=settings.hco_ack_timeout_minutes)
            problem = None
            if row.ack in FINAL_ACKS:
                problem = f"the message already has a final acknowledgement ({row.ack})"
            elif len(row.resends) >= settings.hco_max_resends:
                problem = f"it was already resent {len(row.resends)} times (MedCom: at most {settings.hco_max_resends})"
            elif now < due:
                problem = f"the acknowledgement is not overdue before {due.isoformat(timespec='seconds')}"
            if problem:
                if only_when_due:
                    return None
                raise FhirError(409, Issue("error", "business-rule", f"Not resent: {problem}",
                                           rule="msg-resend", source=SOURCE))
            bundle = json.loads(row.bundle)
            bundle["id"] = str(uuid.uuid4())  # a new envelope id and send time; the MessageHeader.id stays
            bundle["timestamp"] = now.isoformat(timespec="seconds")
            # Claimed against the envelope id it was read with: of concurrent resends (two workers, two
            # callers) exactly one changes the row and sends; the others find it already resent.
            claimed = s.execute(update(MessageRow).where((MessageRow.pk == row.pk)
                                                         & (MessageRow.bundle_id == row.bundle_id)
                                                         & MessageRow.ack.not_in(FINAL_ACKS)).values(
                bundle=json.dumps(bundle, ensure_ascii=False), bundle_id=bundle["id"],
                resends=[*row.resends, {"at": naive_utc(now).isoformat(), "bundle_id": bundle["id"]}]))
            url, version, fhir_format = row.endpoint_url, row.hco_version, row.fhir_format
        if getattr(claimed, "rowcount", 0) != 1:
            if only_when_due:
                return None
            raise FhirError(409, Issue("error", "business-rule", "Not resent: it was resent, or finally "
                                       "acknowledged, at this moment by another request", rule="msg-resend",
                                       source=SOURCE))
        return bundle, url, version, fhir_format

    def _resent(self, header_id: str, envelope_id: str, result: str) -> None:
        """What became of the resend in envelope ``envelope_id``."""
        with self._context.database.writing("eoj-resend", header_id) as s:
            row = s.scalar(select(MessageRow).where(MessageRow.header_id == header_id))
            assert row is not None
            row.resends = [{**r, "result": result} if r["bundle_id"] == envelope_id else r for r in row.resends]

    async def resend_due(self) -> list[dict[str, Any]]:
        """Resend every message whose acknowledgement is overdue (and that may still be resent); provide
        again every DDS copy that could not reach DDS or that a stopped worker left unmade."""
        await self._sharing.retry_due()
        waiting = await run_in_threadpool(self._waiting)
        out = []
        for header_id in waiting:
            before = len((await run_in_threadpool(self.status, header_id))["resends"])
            after = await self.resend(header_id, only_when_due=True)
            if len(after["resends"]) > before:
                out.append(after)
        return out

    def _waiting(self) -> list[str]:
        """The messages without a final acknowledgement, oldest first."""
        with self._context.database.reading() as s:
            return list(s.scalars(select(MessageRow.header_id).where(
                MessageRow.ack.in_(("pending", "transient-error"))).order_by(MessageRow.pk)))

    # -- reading --------------------------------------------------------------------------------

    def _order_of(self, row: MessageRow) -> Order:
        if row.order is None:
            raise FhirError(409, Issue("error", "not-supported", "The message was sent ready-made (POST "
                                       "/eoj/messages); send its modification or retraction the same way",
                                       rule="eoj-order-known"))
        return Order.model_validate(row.order)

    def status(self, header_id: str) -> dict[str, Any]:
        settings = self._context.settings
        with self._context.database.session() as s:
            row = s.scalar(select(MessageRow).where(MessageRow.header_id == header_id))
            if row is None:
                raise not_found(header_id)
            original = row.original_header or row.header_id
            chain = list(s.scalars(select(MessageRow).where(MessageRow.of_chain(original)).order_by(MessageRow.pk)))
            acks = list(s.scalars(select(AckLogRow).where(AckLogRow.response_to == header_id)
                                  .order_by(AckLogRow.pk)))
            last = aware(max([row.sent_at, *(datetime.fromisoformat(r["at"]) for r in row.resends)]))
            overdue = last + timedelta(minutes=settings.hco_ack_timeout_minutes)
            may_resend = (row.ack not in FINAL_ACKS and len(row.resends) < settings.hco_max_resends)
            return {
                "id": row.header_id, "bundle_id": row.bundle_id, "activity": row.activity, "cpr": row.cpr,
                "endpoint": row.endpoint_url, "sent_at": aware(row.sent_at).isoformat(),
                "send_result": row.send_result, "hco_version": row.hco_version, "format": row.fhir_format,
                "ack": row.ack, "ack_outcome": row.ack_outcome,
                "ack_log": [{"at": aware(a.received_at).isoformat(), "bundle_id": a.bundle_id, "code": a.code,
                             "verdict": a.verdict} for a in acks],
                "resends": row.resends, "receipts": self.receipts.of(row.header_id),
                "resend_due_at": overdue.isoformat(timespec="seconds") if may_resend else None,
                "refused_consent": row.refused_consent,
                "dds": {"entry": row.dds_entry, "why_not": None if row.dds_entry else row.dds_reason,
                        "profile": HCOM_PROFILE if row.dds_entry else None, "state": row.dds_state,
                        "attempts": row.dds_attempts},
                "chain": [{"id": m.header_id, "activity": m.activity, "previous": m.previous_header,
                           "ack": m.ack, "dds_entry": m.dds_entry, "sent_at": aware(m.sent_at).isoformat()}
                          for m in chain],
                "bundle": json.loads(row.bundle),
            }
