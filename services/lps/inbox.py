"""The GP system's EHMI inbox: every received HCO is checked in layers and answered with exactly one
MedCom Acknowledgement, sent to the message's ``source.endpoint``.

1. Message type: a Bundle whose MessageHeader has event ``homecareobservation-message``, else
   ``fatal-error`` MSG_UNKNOWN_TYPE (an acknowledgement is never acknowledged).
2. Receiver: the primary receiver's SOR/GLN is one of this system's practices, else
   MSG_Receiver_Identifier_UNKNOWN.
3. Duplicates (MedCom governance 043): seen Bundle.id + seen MessageHeader.id → the original
   acknowledgement again (same content, new envelope); new Bundle.id + seen MessageHeader.id (a
   resend) → the same; seen Bundle.id + new MessageHeader.id → ``fatal-error`` MSG_DUPLICATE_ID.
   A message answered ``transient-error`` is processed again.
4. Profile (the conformance engine), then the business rules (``business_rules``).
5. A modification or retraction whose original has not arrived (messages may overtake each other,
   and an original whose acknowledgement was lost is resent later) is **held**: no acknowledgement
   yet, shown to the GP as pending. When the original arrives and is accepted, the held message is
   checked and answered; when ``lps_hold_minutes`` pass first (sandbox clock, at
   ``POST /lps/outbox/deliver``), it is refused ``MSG_NO_EXIST``. A resend of a held message stays held.
The behaviour switches (``mode``, ``withhold``, ``twice``, ``delay_minutes``) let a vendor's EOJ be
tested against positive, negative, missing, duplicate and late acknowledgements. A message that came
in an SBDH envelope gets its acknowledgement in one (sender and receiver swapped), and one that came as
FHIR XML gets it as FHIR XML (``formats``). The profile layer judges the message by the HCO IG version
its envelope names, else ``NSP_SANDBOX_HCO_VERSION`` (:mod:`nsp_sandbox.hco_versions`).
"""

from __future__ import annotations

import asyncio
import json
import weakref
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from starlette.concurrency import run_in_threadpool

from nsp_sandbox import fhir_shape as shape
from nsp_sandbox import hco_versions
from nsp_sandbox.clock import naive_utc
from nsp_sandbox.config import Strictness
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.cpr import CPR_SYSTEM, ECPR_SYSTEM
from nsp_sandbox.hco_examples import REQUESTER_PROFILE, example_organisations
from nsp_sandbox.hco_sbdh import Envelope
from nsp_sandbox.hco_terms import ACK_EVENT, GLN_SYSTEM, HCO_EVENT, REPERTOIRE_SYSTEMS, SOR_SYSTEM, repertoire
from nsp_sandbox.message_size import compact_message
from nsp_sandbox.outcome import FhirError, Issue
from services.lps.ack_delivery import AckDelivery
from services.lps.acknowledgement import build_ack, restamp
from services.lps.answers import AGAIN, Again, Answer, Looked, Received
from services.lps.business_rules import DEFINITION_URL, HL7_MSG, MEDCOM_MSG, Earlier, Finding, check
from services.lps.formats import remember_xml, version_of
from services.lps.message_size import size_findings
from services.lps.models import EnvelopeRow, ReceivedRow, SettingRow, XmlRow
from services.lps.switches import Switches

SANDBOX_PRACTICE = {"sor": "52581000016005", "gln": "5790001234560", "name": "Skødstrup Lægepraksis"}
SOR_ENDPOINT = "https://sor2.sum.dsdn.dk/#id="
PROFILE_SOURCE = "MedCom HomeCareObservation 1.2.1 profiles (conformance engine)"
ANY = -1  # an answer kept whatever copies of the message were answered before it (Inbox._store)
JUDGED_AGAIN = 3  # looks again after another worker answered a copy meanwhile (the next look finds that answer)
_NEWEST_ANSWERED = select(ReceivedRow.pk).where(ReceivedRow.verdict != "duplicate").order_by(
    ReceivedRow.pk.desc()).limit(1)


def _finding(severity: str, code: str, text: str, expression: str | None, rule: str,
             msg: tuple[str, str]) -> Finding:
    return Finding(Issue(severity, code, text, expression=expression, rule=rule, source=PROFILE_SOURCE),  # type: ignore[arg-type]
                   msg[0], msg[1])


def msg_code_of(issue: Issue) -> tuple[str, str]:
    """The MedCom acknowledgement issue code for a profile finding (``hco.md`` §7.1, layer 4)."""
    text = issue.diagnostics
    if issue.code == "code-invalid":
        if text.startswith("Unknown code") and any(system in text for system in REPERTOIRE_SYSTEMS):
            return MEDCOM_MSG, "MSG_CodeSystem_VALUE_UNKNOWN"  # outside the national analysis repertoire
        return MEDCOM_MSG, "MSG_VALUESET_VALUE_UNKNOWN"
    if "maxLength" in text:
        return MEDCOM_MSG, "MSG_Element_To_Long"
    return HL7_MSG, "MSG_BAD_FORMAT"


class Inbox:
    def __init__(self, context: SandboxContext, switches: Switches) -> None:
        self._context = context
        self._switches = switches
        self._repertoire: dict[tuple[str, str], str] | None = None
        self.delivery = AckDelivery(context, switches)
        # receive(): from the look-up of earlier copies to the stored answer, one message at a time (a lock per
        # event loop: an asyncio lock belongs to the loop it first waits on)
        self._deciding: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = \
            weakref.WeakKeyDictionary()

    @property
    def switches(self) -> Switches:
        """The behaviour switches this inbox follows."""
        return self._switches

    def practices(self) -> list[dict[str, str]]:
        """The GP practices this system serves: those of the official examples, and Skødstrup."""
        found = [p for p in example_organisations(self._context.packages, REQUESTER_PROFILE) if p["ydernummer"]]
        if not any(p["sor"] == SANDBOX_PRACTICE["sor"] for p in found):
            found.append(dict(SANDBOX_PRACTICE))
        return found

    def _repertoire_codes(self) -> dict[tuple[str, str], str]:
        if self._repertoire is None:
            self._repertoire = repertoire(self._context.packages)
        return self._repertoire

    def return_address(self, endpoint: str, sender_sor: str) -> str | None:
        """Where the acknowledgement goes: ``source.endpoint`` when it is a URL we can post to; a SOR
        address (``https://sor2.sum.dsdn.dk/#id=<SOR>``, as in the official examples) is looked up in the
        return-address register, by default the sandbox's EOJ."""
        if endpoint.startswith(SOR_ENDPOINT) or not endpoint.startswith(("http://", "https://")):
            sor = endpoint[len(SOR_ENDPOINT):] if endpoint.startswith(SOR_ENDPOINT) else sender_sor
            with self._context.database.session() as s:
                row = s.get(SettingRow, f"return-address:{sor}")
                if row is not None:
                    return str(row.value["url"])
            return f"{self._context.peers.url('eoj')}/ehmi"
        return endpoint

    async def receive(self, bundle: dict[str, Any], envelope: Envelope | None = None,
                      fhir_format: str = "json") -> Received:
        """Check, store and acknowledge one message (``envelope``: the SBDH it came in, if any;
        ``fhir_format``: the FHIR format it came in, which its acknowledgement is answered in).

        From the look-up of earlier copies to the stored answer, one message at a time in this process: the
        checks wait for the CPU lane, and a message that arrives twice at once is a duplicate the second time.
        The acknowledgement is sent after that, outside the lock (its receiver may send again meanwhile)."""
        loop = asyncio.get_running_loop()
        lock = self._deciding.get(loop) or self._deciding.setdefault(loop, asyncio.Lock())
        async with lock:
            decided = await self._judge(bundle, envelope, fhir_format)
            for _ in range(JUDGED_AGAIN):
                if decided is not AGAIN:
                    break
                decided = await self._judge(bundle, envelope, fhir_format)  # a worker answered a copy meanwhile
        if isinstance(decided, Again):
            raise FhirError(409, Issue("error", "conflict", "Copies of this message were answered by other "
                                       "requests while it was judged, again and again; send it again",
                                       rule="ehmi-receive-once"))
        if isinstance(decided, Received):
            return decided
        received = await self._send_answer(decided)
        if decided.release and received.verdict in ("accepted", "rejected"):
            await self._release_waiting_for(decided.header_id)
        return received

    async def _judge(self, bundle: dict[str, Any], envelope: Envelope | None,
                     fhir_format: str) -> Received | Answer | Again:
        """:meth:`receive` up to the stored answer: what is not answered at all (or not yet), else the answer;
        :data:`AGAIN` when another worker stored an answer to a copy of the message after its look-up here. The
        database work on worker threads, the checks in the CPU lane: the event loop goes on meanwhile."""
        xml = fhir_format == "xml"
        looked = await run_in_threadpool(self._look, bundle, envelope, xml)
        if not isinstance(looked, Looked):
            return looked
        findings = looked.findings
        if looked.check:  # over 100 MB: refused on its size alone, the profile is not worth running
            limit = self._context.settings.hco_max_message_bytes
            # The profile and the business rules are Python work from end to end: in the process's CPU lane
            # (nsp_sandbox.cpu_lane), in turn with DDS's provides, while the event loop goes on meanwhile.
            lane = self._context.cpu_lane
            findings.extend(await lane.run(self._size_and_profile, bundle, limit,
                                           version_of(envelope, self._context.settings.hco_version)))
            held = await run_in_threadpool(self._held, bundle, looked, envelope)
            if held is not None:
                return held
            if not any(f.issue.is_error for f in findings):
                findings.extend(await lane.run(self._business, bundle))
        return await run_in_threadpool(self._decide, bundle, findings, looked.me, envelope, envelope is not None,
                                       None, xml, looked.seen)

    def _look(self, bundle: dict[str, Any], envelope: Envelope | None, xml: bool) -> Received | Answer | Looked:
        """The first look at a message: what is not answered at all, a copy of one answered before (its answer
        again), else what is to be checked."""
        now = self._context.clock.now()
        if xml:
            remember_xml(self._context.database, shape.text(bundle.get("id")))
        resources = shape.resources(bundle)
        header = resources[0] if resources else {}
        event = shape.text(shape.obj(header.get("eventCoding")).get("code"))
        if header.get("resourceType") != "MessageHeader" or not shape.text(header.get("id")):
            return Received("unreadable", None, None, "none: without a MessageHeader there is no one to answer")
        if event == ACK_EVENT:
            return Received("ignored", None, None, "none: an acknowledgement is never acknowledged")
        by_ref = {f"{r.get('resourceType')}/{r.get('id')}": r for r in resources}
        sender = by_ref.get(shape.reference(header.get("sender")), {})
        sender_ids = shape.identifiers(sender)
        destination = shape.obj((shape.arr(header.get("destination")) or [{}])[0])
        receiver_ids = shape.identifiers(by_ref.get(shape.reference(destination.get("receiver")), {}))
        return_to = shape.text(shape.obj(header.get("source")).get("endpoint"))
        practices = self.practices()
        me = next((p for p in practices if p["sor"] == receiver_ids.get(SOR_SYSTEM)
                   or p["gln"] == receiver_ids.get(GLN_SYSTEM)), None)
        findings: list[Finding] = []
        bundle_id, header_id = shape.text(bundle.get("id")), header["id"]
        with self._context.database.session() as s:
            by_bundle = s.scalar(select(ReceivedRow).where(ReceivedRow.bundle_id == bundle_id)) if bundle_id else None
            by_header = s.scalar(select(ReceivedRow).where(
                (ReceivedRow.header_id == header_id) & (ReceivedRow.verdict != "duplicate"))
                .order_by(ReceivedRow.pk.desc()).limit(1))
        seen = by_header.pk if by_header is not None else None
        if by_header is not None and by_header.verdict == "held" and (
                by_bundle is None or by_bundle.header_id == header_id):
            self._store(bundle, header, sender_ids, receiver_ids, "duplicate", "pending", {}, [], by_header, envelope)
            return Received("held", None, None, f"none yet: still held until MessageHeader "
                            f"{by_header.previous_header} arrives")
        if by_header is not None and by_header.ack_code != "transient-error" and (
                by_bundle is None or by_bundle.header_id == header_id):
            # A duplicate (or a resend): the original answer again, under a new envelope.
            ack = restamp(by_header.ack, now)
            self._store(bundle, header, sender_ids, receiver_ids, "duplicate", by_header.ack_code, ack,
                        [], by_header, envelope)
            return Answer("duplicate", by_header.ack_code, ack, self.return_address(
                return_to, sender_ids.get(SOR_SYSTEM, "")), envelope is not None, xml, header_id, release=False)
        if me is None:
            me = {"sor": SANDBOX_PRACTICE["sor"], "gln": SANDBOX_PRACTICE["gln"], "name": SANDBOX_PRACTICE["name"]}
            findings.append(_finding("error", "not-found", f"The receiver (SOR {receiver_ids.get(SOR_SYSTEM)}, GLN "
                                     f"{receiver_ids.get(GLN_SYSTEM)}) is not a practice of this GP system",
                                     "Bundle.entry[0].resource.destination[0].receiver", "ehmi-receiver-known",
                                     (MEDCOM_MSG, "MSG_Receiver_Identifier_UNKNOWN")))
        elif by_bundle is not None:
            findings.append(_finding("error", "duplicate", f"Bundle.id {bundle_id} was already used for MessageHeader "
                                     f"{by_bundle.header_id}; envelope ids are never reused", "Bundle.id",
                                     "msg-bundle-id-new", (HL7_MSG, "MSG_DUPLICATE_ID")))
        elif event != HCO_EVENT:
            findings.append(_finding("error", "not-supported", f"This inbox takes homecareobservation-message, not "
                                     f"'{event}'", "Bundle.entry[0].resource.eventCoding", "ehmi-message-type",
                                     (HL7_MSG, "MSG_UNKNOWN_TYPE")))
        return Looked(header, sender_ids, receiver_ids, me, findings, seen, check=not findings)

    def _held(self, bundle: dict[str, Any], looked: Looked, envelope: Envelope | None) -> Received | Again | None:
        """A correction whose original has not arrived, held (while holding is on); None for any other message."""
        header_id = looked.header["id"]
        waiting_for = self._missing_original(shape.resources(bundle), header_id)
        if any(f.issue.is_error for f in looked.findings) or waiting_for is None or not self._may_hold():
            return None
        if not self._store(bundle, looked.header, looked.sender_ids, looked.receiver_ids, "held", "pending", {},
                           looked.findings, None, envelope, after=looked.seen):
            return AGAIN
        minutes = self._context.settings.lps_hold_minutes
        return Received("held", None, None, f"none yet: held until MessageHeader {waiting_for} arrives "
                        f"(at most {minutes} minutes, then refused MSG_NO_EXIST)")

    async def refuse_unread(self, bundle: dict[str, Any], finding: Finding) -> Received:
        """Acknowledge negatively a message only the beginning (``bundle``) of which was read."""
        by_ref = {f"{r.get('resourceType')}/{r.get('id')}": r for r in shape.resources(bundle)}
        destination = shape.obj((shape.arr(shape.resources(bundle)[0].get("destination")) or [{}])[0])
        receiver_ids = shape.identifiers(by_ref.get(shape.reference(destination.get("receiver")), {}))
        me = next((p for p in self.practices() if p["sor"] == receiver_ids.get(SOR_SYSTEM)
                   or p["gln"] == receiver_ids.get(GLN_SYSTEM)), dict(SANDBOX_PRACTICE))
        return await self._answer(bundle, [finding], me, None, False, None)

    def _may_hold(self) -> bool:
        return self._context.settings.lps_hold_minutes > 0 and self._switches.get()["mode"] == "normal"

    def _missing_original(self, resources: list[dict[str, Any]], header_id: str) -> str | None:
        """The MessageHeader.id a modification or retraction refers to, when this system has not received it
        (or holds it too); None for a new message or a known original."""
        own = shape.own_provenance(resources, header_id)
        previous = shape.previous_header(own)
        if shape.activity_of(own) not in ("modified-message", "retract-message") or not previous:
            return None
        with self._context.database.session() as s:
            verdicts = set(s.scalars(select(ReceivedRow.verdict).where(ReceivedRow.header_id == previous)))
        return previous if not verdicts - {"held", "duplicate"} else None

    async def _release_waiting_for(self, header_id: str) -> None:
        """The original ``header_id`` was answered: check and answer what was held for it."""
        held = await run_in_threadpool(self._held_for, header_id)
        # modifications first: a retraction ends the chain, whichever of them overtook the other
        for pk, _ in sorted(held, key=lambda h: (h[1] == "retract-message", h[0])):
            await self._decide_held(pk)

    def _held_for(self, header_id: str) -> list[tuple[int, str]]:
        with self._context.database.session() as s:
            return [(pk, activity) for pk, activity in s.execute(select(ReceivedRow.pk, ReceivedRow.activity).where(
                (ReceivedRow.previous_header == header_id) & (ReceivedRow.verdict == "held"))
                .order_by(ReceivedRow.pk))]

    async def _decide_held(self, pk: int) -> Received:
        bundle, sbdh, xml = await run_in_threadpool(self._held_message, pk)
        resources = shape.resources(bundle)
        by_ref = {f"{r.get('resourceType')}/{r.get('id')}": r for r in resources}
        destination = shape.obj((shape.arr(resources[0].get("destination")) or [{}])[0])
        receiver_ids = shape.identifiers(by_ref.get(shape.reference(destination.get("receiver")), {}))
        me = next((p for p in self.practices() if p["sor"] == receiver_ids.get(SOR_SYSTEM)
                   or p["gln"] == receiver_ids.get(GLN_SYSTEM)), dict(SANDBOX_PRACTICE))
        received = await self._answer(bundle, await self._context.cpu_lane.run(self._business, bundle), me, None,
                                      sbdh, pk, xml)
        if received.verdict in ("accepted", "rejected"):
            await self._release_waiting_for(str(resources[0].get("id")))
        return received

    def _held_message(self, pk: int) -> tuple[dict[str, Any], bool, bool]:
        """Held message ``pk``: its Bundle, and whether it came in an envelope and as FHIR XML."""
        with self._context.database.session() as s:
            row = s.get(ReceivedRow, pk)
            assert row is not None
            return json.loads(row.bundle), s.get(EnvelopeRow, row.bundle_id) is not None, \
                s.get(XmlRow, row.bundle_id) is not None

    async def release_expired(self) -> list[str]:
        """Refuse what was held longer than ``lps_hold_minutes`` (its original never came)."""
        limit = naive_utc(self._context.clock.now() - timedelta(minutes=self._context.settings.lps_hold_minutes))
        with self._context.database.session() as s:
            expired = list(s.scalars(select(ReceivedRow.pk).where(
                (ReceivedRow.verdict == "held") & (ReceivedRow.received_at <= limit)).order_by(ReceivedRow.pk)))
        out = []
        for pk in expired:
            received = await self._decide_held(pk)
            out.append(f"held message answered {received.ack_code}: {received.delivery}")
        return out

    async def _answer(self, bundle: dict[str, Any], findings: list[Finding], me: dict[str, str],
                      envelope: Envelope | None, sbdh: bool, held: int | None, xml: bool = False) -> Received:
        """Apply the behaviour switches, build, store and send the acknowledgement (``sbdh``: in an envelope;
        ``held``: the row of a held message being decided now; ``xml``: as FHIR XML)."""
        decided = await run_in_threadpool(self._decide, bundle, findings, me, envelope, sbdh, held, xml)
        assert not isinstance(decided, Again)  # judged on no look-up of earlier copies
        return decided if isinstance(decided, Received) else await self._send_answer(decided)

    async def _send_answer(self, answer: Answer) -> Received:
        delivery = await self.delivery.deliver(answer.ack, answer.url, answer.sbdh, answer.xml)
        return Received(answer.verdict, answer.code, answer.ack["id"], delivery)

    def _decide(self, bundle: dict[str, Any], findings: list[Finding], me: dict[str, str],
                envelope: Envelope | None, sbdh: bool, held: int | None, xml: bool,
                after: int | None = ANY) -> Received | Answer | Again:
        """:meth:`_answer` up to the stored answer (the acknowledgement not sent yet); ``after``: see :meth:`_store`."""
        now = self._context.clock.now()
        resources = shape.resources(bundle)
        header = resources[0]
        by_ref = {f"{r.get('resourceType')}/{r.get('id')}": r for r in resources}
        sender_ids = shape.identifiers(by_ref.get(shape.reference(header.get("sender")), {}))
        destination = shape.obj((shape.arr(header.get("destination")) or [{}])[0])
        receiver_ids = shape.identifiers(by_ref.get(shape.reference(destination.get("receiver")), {}))
        return_to = shape.text(shape.obj(header.get("source")).get("endpoint"))
        switches = self._switches.get()
        errors = [f for f in findings if f.issue.is_error]
        code = "fatal-error" if errors else "ok"
        if switches["mode"] == "fatal":
            code = "fatal-error"
            if not errors:
                findings.append(_finding("error", "business-rule", "Refused on demand (behaviour switch mode=fatal)",
                                         None, "lps-switch-fatal", (HL7_MSG, "MSG_LOCAL_FAIL")))
        elif switches["mode"] == "transient":
            code = "transient-error"
            findings = [_finding("error", "transient", "The GP system's mailbox is out of operation (behaviour "
                                 "switch mode=transient)", None, "lps-switch-transient",
                                 (MEDCOM_MSG, "MSG_Mailbox_Out_Of_Operation"))]
        elif switches["mode"] == "ok":
            code = "ok"
            findings = [f if not f.issue.is_error else Finding(f.issue.with_severity("warning"), f.msg_system,
                                                               f.msg_code) for f in findings]
        verdict = {"ok": "accepted", "fatal-error": "rejected", "transient-error": "transient"}[code]
        lps = self._context.peers.url("lps")
        ack = build_ack(bundle, code=code, findings=findings, me=me, my_endpoint=f"{lps}/ehmi", now=now,
                        base=f"{lps}/fhir")
        if held is None:
            if not self._store(bundle, header, sender_ids, receiver_ids, verdict, code, ack, findings, None, envelope,
                               after=after):
                return AGAIN
        elif not self._decided(held, verdict, code, ack, findings):
            return Received("held", code, ack["id"], "decided at this moment by another request")
        return Answer(verdict, code, ack, self.return_address(return_to, sender_ids.get(SOR_SYSTEM, "")), sbdh, xml,
                       header["id"])

    def _decided(self, pk: int, verdict: str, code: str, ack: dict[str, Any], findings: list[Finding]) -> bool:
        """Record the answer to held message ``pk``; False when another request (a second worker) decided it
        first: the row changes only while it is still ``held``, so it is answered once."""
        with self._context.database.session() as s:
            row = s.get(ReceivedRow, pk)
            assert row is not None
            earlier = s.scalar(select(ReceivedRow).where((ReceivedRow.header_id == row.previous_header)
                                                         & (ReceivedRow.verdict == "accepted")).limit(1))
            changed = s.execute(update(ReceivedRow).where((ReceivedRow.pk == pk) & (ReceivedRow.verdict == "held"))
                                .values(original_header=(earlier.original_header or earlier.header_id) if earlier
                                        else None, verdict=verdict, ack_code=code, ack=ack,
                                        issues=[f.issue.to_fhir() | {"msg_code": f.msg_code} for f in findings]))
            return getattr(changed, "rowcount", 0) == 1

    def _size_and_profile(self, bundle: dict[str, Any], limit: int, version: str) -> list[Finding]:
        """A message over ``limit`` bytes is refused on its size alone (the profile is not worth running); else the
        profile's errors of it, as HCO ``version``, kept by the message's compact JSON (a message the sandbox's EOJ
        validated is answered from the engine's memory: ``nsp_sandbox.message_size``)."""
        written = compact_message(bundle)
        if too_large := size_findings(len(written), limit):
            return too_large
        out = []
        for issue in hco_versions.validate(self._context.validator, bundle, version, content=written):
            if issue.severity not in ("error", "fatal"):
                continue
            out.append(Finding(issue, *msg_code_of(issue)))
        return out

    def _business(self, bundle: dict[str, Any]) -> list[Finding]:
        level = self._context.settings.lps_business_rules
        if level == Strictness.OFF:
            return []
        findings = check(bundle, self._repertoire_codes(), self._earlier,
                         self._context.packages.canonical_versions(DEFINITION_URL, "MessageDefinition"))
        if level != Strictness.REJECT:
            findings = [Finding(f.issue.with_severity("warning"), f.msg_system, f.msg_code) if f.issue.is_error else f
                        for f in findings]
        if level == Strictness.LOG:
            return []
        return findings

    def _earlier(self, header_id: str) -> Earlier | None:
        with self._context.database.session() as s:
            row = s.scalar(select(ReceivedRow).where((ReceivedRow.header_id == header_id)
                                                     & (ReceivedRow.verdict == "accepted")))
            return Earlier(row.sender_sor, row.cpr, row.activity, json.loads(row.bundle)) if row else None

    def _store(self, bundle: dict[str, Any], header: dict[str, Any], sender_ids: dict[str, Any],
               receiver_ids: dict[str, Any], verdict: str, code: str, ack: dict[str, Any], findings: list[Finding],
               duplicate_of: ReceivedRow | None, envelope: Envelope | None = None, *, after: int | None = ANY) -> bool:
        """Keep the transmission and its answer. ``after``: the newest answered copy of the message (its row, None
        for none) the answer was decided on; the row is kept only while that is still so, one answer at a time
        for the message across workers. False, with nothing kept, when another worker answered a copy meanwhile.
        """
        resources = shape.resources(bundle)
        patient = next((r for r in resources if r.get("resourceType") == "Patient"), {})
        ids = shape.identifiers(patient)
        cpr = ids.get(CPR_SYSTEM) or ids.get(ECPR_SYSTEM) or ""
        own = shape.own_provenance(resources, header["id"])
        activity, previous = shape.activity_of(own), shape.previous_header(own)
        with self._context.database.writing("lps-message", header["id"]) as s:
            if after != ANY and s.scalar(_NEWEST_ANSWERED.where(ReceivedRow.header_id == header["id"])) != after:
                return False
            original = None
            if previous:
                earlier = s.scalar(select(ReceivedRow).where(ReceivedRow.header_id == previous)
                                   .order_by(ReceivedRow.pk).limit(1))
                original = (earlier.original_header or earlier.header_id) if earlier else None
            bundle_id = shape.text(bundle.get("id")) or f"(none)-{ack['id']}"
            if s.scalar(select(ReceivedRow.pk).where(ReceivedRow.bundle_id == bundle_id)) is not None:
                bundle_id = f"{bundle_id}#reused-{ack['id']}"  # an envelope id used twice: keep both receipts
            s.add(ReceivedRow(
                bundle_id=bundle_id[:200], header_id=header["id"][:200], sender_sor=sender_ids.get(SOR_SYSTEM, "")[:32],
                receiver_sor=receiver_ids.get(SOR_SYSTEM, "")[:32], cpr=cpr[:16], activity=activity,
                previous_header=previous, original_header=original, received_at=naive_utc(self._context.clock.now()),
                bundle=json.dumps(bundle, ensure_ascii=False), verdict=verdict, ack_code=code, ack=ack,
                issues=[f.issue.to_fhir() | {"msg_code": f.msg_code} for f in findings]))
            if envelope is not None:
                s.add(EnvelopeRow(bundle_id=bundle_id[:200], instance_identifier=envelope.instance_identifier[:200],
                                  sender_gln=envelope.sender_gln, receiver_gln=envelope.receiver_gln))
        return True
