"""Keeping the hub's on-demand entries in DDS in step with what may be shared.

The hub (an On-Demand Document Source) has at most one entry per patient for the ConditionList —
for the clinic whose card is shared — and one per shared note. :meth:`Registrar.reconcile` compares
the entries that should exist (``Wanted``) with those the hub has registered, then:

* registers each missing one with ITI-65 (a DocumentReference without Binary, hash or size, whose
  ``attachment.url`` is the hub's retrieve URL ``{plsp}/ondemand/<key>``);
* deprecates each one no longer wanted (``PUT /dds/fhir/DocumentReference/{id}`` changing only
  ``status``: ``superseded``, or ``entered-in-error`` for a cancelled note).

Both go to DDS with the hub's system token (persona ``system-plsp``, audience ``dds``) — or, with
``NSP_SANDBOX_PLSP_DDS_TRANSPORT=xds``, as ITI-61 / ITI-57 over DGWS (:mod:`services.plsp_hub.dds_door`). When DDS
cannot be reached or refuses, nothing is lost: the entry stays ``pending`` / ``withdrawing``, the
event log says so (``dds-retry``), and the next change for the patient or ``POST /plsp/due``
tries again. Serving never waits for DDS: retrieval answers from the hub's current state.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from nsp_sandbox.clock import naive_utc
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.database import claim_time, unclaimed
from services.plsp_hub import on_demand_entry
from services.plsp_hub.dds_door import HubDoor, door
from services.plsp_hub.events import EventLog
from services.plsp_hub.models import EntryRow
from services.plsp_hub.nsp import HubNsp
from services.plsp_hub.state import ConditionCard, Note

SOURCE_ID = "urn:oid:1.2.208.176.43210.8.10.77"  # the hub's XDS document source id (sandbox OID)
LIVE = ("pending", "registered", "withdrawing")


@dataclass(frozen=True)
class Wanted:
    """An entry that should be in DDS now, with the document it describes."""

    kind: str  # conditionlist | note
    clinic_sor: str
    note_key: str | None
    document: ConditionCard | Note

    @property
    def subject(self) -> str:
        return "conditionlist" if self.kind == "conditionlist" else f"note:{self.note_key}"


@dataclass(frozen=True)
class Unwanted:
    """Why an entry is withdrawn: the DDS status it gets, the rule and a sentence for the event log."""

    status: str  # superseded | entered-in-error
    rule: str
    text: str


def subject_of(row: EntryRow) -> str:
    return "conditionlist" if row.kind == "conditionlist" else f"note:{row.note_key}"


def retrieve_url(context: SandboxContext, key: str) -> str:
    return f"{context.peers.url('plsp')}/ondemand/{key}"


class Registrar:
    def __init__(self, context: SandboxContext, nsp: HubNsp, events: EventLog) -> None:
        self._context = context
        self._nsp = nsp
        self._events = events

    def _door(self) -> HubDoor:
        """DDS's MHD or XDS.b door, as ``plsp_dds_transport`` says (:mod:`services.plsp_hub.dds_door`)."""
        return door(self._context, self._nsp, self._send, SOURCE_ID)

    def _matches(self, row: EntryRow, wanted: Wanted) -> bool:
        return (row.kind, row.clinic_sor, row.note_key) == (wanted.kind, wanted.clinic_sor, wanted.note_key)

    def plan(self, s: Session, cpr: str, wanted: list[Wanted],
             why_not: dict[tuple[str, str, str | None], Unwanted]) -> None:
        """Record in ``s`` which entries to add and which to withdraw (no network)."""
        now = naive_utc(self._context.clock.now())
        live = list(s.scalars(select(EntryRow).where(EntryRow.cpr == cpr, EntryRow.state.in_(LIVE))))
        for row in live:
            if any(self._matches(row, w) for w in wanted) or row.state == "withdrawing":
                continue
            reason = why_not.get((row.kind, row.clinic_sor, row.note_key)) or Unwanted(
                "superseded", "plsp-unshared", "no longer shared")
            row.withdraw_status, row.withdraw_rule, row.withdraw_reason = reason.status, reason.rule, reason.text[:500]
            # Not in DDS yet: dropped. A push registering it now finds it so and withdraws it (_registered).
            row.state = "dropped" if row.state == "pending" else "withdrawing"
        for w in wanted:
            if any(self._matches(row, w) and row.state != "withdrawing" for row in live):
                continue
            unique_id = f"urn:uuid:{uuid.uuid4()}"  # an entry's own; shared again → a new entry, a new id
            s.add(EntryRow(key=uuid.uuid4().hex, kind=w.kind, cpr=cpr, clinic_sor=w.clinic_sor,
                           note_key=w.note_key, entry_uuid=str(uuid.uuid4()), unique_id=unique_id,
                           state="pending", created_at=now))

    async def push(self, cpr: str, wanted: list[Wanted]) -> None:
        """Register pending entries and deprecate withdrawing ones in DDS (retried later on failure).

        Each entry is claimed before DDS is told (:meth:`_claim`): two changes of one patient at once, in one
        process or two workers, would otherwise both send it."""
        # The database work on a worker thread, so that the event loop goes on with other requests meanwhile.
        for pk, state in await run_in_threadpool(self._to_push, cpr):
            row = await run_in_threadpool(self._claim, pk, state)
            if row is None:
                continue  # another push has it, or has brought it in step already
            if state == "pending":
                document = next((w.document for w in wanted if self._matches(row, w)), None)
                if document is not None:
                    await self._register(row, document)
                else:
                    await run_in_threadpool(self._unclaimed, row)
            else:
                await self._deprecate(row)

    def _to_push(self, cpr: str) -> list[tuple[int, str]]:
        """The entries of ``cpr`` DDS has not been told of yet (key and state), in the order they were planned."""
        with self._context.database.session() as s:
            return [(r.pk, r.state) for r in s.scalars(select(EntryRow).where(
                EntryRow.cpr == cpr, EntryRow.state.in_(("pending", "withdrawing"))).order_by(EntryRow.pk))]

    def _claim(self, pk: int, state: str) -> EntryRow | None:
        """Entry ``pk`` taken to tell DDS of it, while it is still in ``state`` and no other push has it (a claim
        older than ``CLAIM_SECONDS`` is a push that died: taken over); None when it is not to be had."""
        now = claim_time()
        with self._context.database.session() as s:
            taken = s.execute(update(EntryRow).where(
                (EntryRow.pk == pk) & (EntryRow.state == state) & unclaimed(EntryRow.claimed_at, now))
                .values(claimed_at=now)).rowcount
            row = s.get(EntryRow, pk) if taken == 1 else None
            if row is not None:
                s.expunge(row)
        return row

    def _unclaimed(self, row: EntryRow) -> None:
        with self._context.database.session() as s:
            s.execute(update(EntryRow).where(EntryRow.pk == row.pk).values(claimed_at=None))

    async def _register(self, row: EntryRow, document: ConditionCard | Note) -> None:
        now = self._context.clock.now()
        url = retrieve_url(self._context, row.key)
        if isinstance(document, Note):
            entry = on_demand_entry.note_entry(document, url=url, entry_uuid=row.entry_uuid,
                                               unique_id=row.unique_id)
        else:
            entry = on_demand_entry.conditionlist_entry(document, url=url, entry_uuid=row.entry_uuid,
                                                        unique_id=row.unique_id, created=now)
        try:
            dds_id = await self._door().register(entry, cpr=row.cpr, submitted=now)
        except Exception as exc:  # DDS unreachable or refusing: keep it pending, say so, retry later
            await run_in_threadpool(self._failed, row, "registration", exc)
            return
        unwanted = await run_in_threadpool(self._registered, row, dds_id, url)
        if unwanted is not None:
            await self._deprecate(unwanted)

    def _registered(self, row: EntryRow, dds_id: str, url: str) -> EntryRow | None:
        """Record the entry registered as DDS's ``dds_id``. A plan may have found it no longer wanted while DDS
        was registering it (``dropped``: the patient's change came meanwhile, in this process or another worker):
        it is then ``withdrawing`` at once, and answered to be deprecated under this push's claim."""
        with self._context.database.session() as s:
            kept = s.execute(update(EntryRow).where((EntryRow.pk == row.pk) & (EntryRow.state == "pending")).values(
                state="registered", dds_id=dds_id, last_error=None, claimed_at=None,
                attempts=EntryRow.attempts + 1)).rowcount
            stored = s.get(EntryRow, row.pk)
            assert stored is not None
            if kept != 1:
                stored.dds_id, stored.last_error, stored.attempts = dds_id, None, stored.attempts + 1
                if stored.state == "dropped":
                    stored.state = "withdrawing"
                    stored.withdraw_status = stored.withdraw_status or "superseded"
            self._events.add(s, row.cpr, row.clinic_sor, "shared", subject_of(row),
                             f"Registered in DDS as on-demand DocumentReference/{dds_id}; DDS fetches the current "
                             f"document from {url}", details={"dds_entry": dds_id, "retrieve_url": url,
                                                               "attempt": stored.attempts})
            if kept == 1:
                return None
            s.flush()
            s.expunge(stored)
            return stored

    async def _deprecate(self, row: EntryRow) -> None:
        if row.dds_id is None:
            await run_in_threadpool(self._dropped, row)
            return
        status = row.withdraw_status or "superseded"
        try:
            await self._door().deprecate(row.dds_id, status, cpr=row.cpr)
        except Exception as exc:
            await run_in_threadpool(self._failed, row, "deprecation", exc)
            return
        await run_in_threadpool(self._deprecated, row, status)

    def _dropped(self, row: EntryRow) -> None:
        with self._context.database.session() as s:
            stored = s.get(EntryRow, row.pk)
            assert stored is not None
            stored.state, stored.claimed_at = "dropped", None

    def _deprecated(self, row: EntryRow, status: str) -> None:
        with self._context.database.session() as s:
            stored = s.get(EntryRow, row.pk)
            assert stored is not None
            stored.state, stored.last_error, stored.claimed_at = "deprecated", None, None
            stored.attempts += 1
            self._events.add(s, row.cpr, row.clinic_sor, "unshared", subject_of(row),
                             f"DDS entry DocumentReference/{row.dds_id} deprecated (status {status}): "
                             f"{row.withdraw_reason or 'no longer shared'}", rule=row.withdraw_rule,
                             details={"dds_entry": row.dds_id, "status": status})

    def _failed(self, row: EntryRow, what: str, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"[:500]
        with self._context.database.session() as s:
            stored = s.get(EntryRow, row.pk)
            assert stored is not None
            stored.claimed_at = None
            stored.attempts += 1
            stored.last_error = error
            self._events.add(s, row.cpr, row.clinic_sor, "dds-retry", subject_of(row),
                             f"DDS {what} failed; the hub keeps the change and retries on the next change or "
                             f"POST /plsp/due: {error}", details={"attempt": stored.attempts})

    async def _send(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        peers = self._context.peers
        token = await self._nsp.token("dds")
        response = await peers.client("dds").request(
            method, f"{peers.url('dds')}{path}", json=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json",
                     "Accept": "application/fhir+json"})
        if response.status_code >= 300:
            texts = "; ".join(i.get("diagnostics", "") for i in _issues(response))
            raise RuntimeError(f"DDS answered HTTP {response.status_code}: {texts}"[:500])
        return response.json()  # type: ignore[no-any-return]

    def entry_of(self, cpr: str, kind: str, clinic_sor: str, note_key: str | None) -> EntryRow | None:
        """The newest entry for this document (any state)."""
        with self._context.database.session() as s:
            query = select(EntryRow).where(EntryRow.cpr == cpr, EntryRow.kind == kind,
                                           EntryRow.clinic_sor == clinic_sor)
            if note_key is not None:
                query = query.where(EntryRow.note_key == note_key)
            row = s.scalar(query.order_by(EntryRow.pk.desc()).limit(1))
            if row is not None:
                s.expunge(row)
            return row

    def dds_view(self, row: EntryRow | None) -> dict[str, Any]:
        if row is None or row.state == "dropped":
            return {"state": "none", "entry": None, "retrieve_url": None, "last_error": None}
        return {"state": row.state, "entry": row.dds_id, "retrieve_url": retrieve_url(self._context, row.key),
                "last_error": row.last_error}


def _issues(response: Any) -> list[dict[str, Any]]:
    try:
        body = response.json()
    except ValueError:
        return []
    return list(body.get("issue", [])) if isinstance(body, dict) else []

