"""DSUBm notifications sent after the commit, off the request path, with retry and backoff.

The registry queues one ``dds_notification`` row per matching subscription in the very transaction
that registers or changes entries (``services.dds.subscriptions``), so an event exists exactly when
the change was committed, and a worker that stops loses nothing: the rows wait in the database and
any DDS process sends them (at its start, or when it next queues one). After the commit the registry
wakes this process's sender: one thread with its own event loop, so a provide's request never waits
for a recipient, whether it answers slowly, fails or cannot be reached.

The sender takes each due row by compare-and-set (``claimed_until``: two processes never send the
same row at once), posts the notification and marks it ``sent``. A failure (no answer in
:data:`TIMEOUT_SECONDS`, a transport error, any status but 2xx) is retried after a backoff on the
sandbox clock — :data:`FIRST_BACKOFF` doubling up to :data:`MAX_BACKOFF` — at most
:data:`MAX_ATTEMPTS` times, then the row is ``failed``; meanwhile the subscription's ``status`` is
``error`` with the reason in ``error`` (``GET /dds/fhir/Subscription/{id}``) and is ``active`` again
after the next delivery. Events are sent in the order they were queued, by every process: no process
takes a subscription's event while another is sending an earlier one (one waiting for its backoff does
not hold the later ones back); the thread ends when nothing is pending. A subscription whose channel
has the backport's ``backport-max-count`` takes up to that many due events (at most :data:`BATCH`) in one
notification, as one bundle (one ``notification-event`` each, each DocumentReference once); without it, each
event is a notification of its own. A batch is taken, sent and finished together; when it fails, each of its
events waits for its own backoff (by its own attempts) and is sent with whatever else is due for the
subscription then.

The notification is the R4 Subscriptions Backport's ``history`` Bundle: first a ``Parameters``
(``SubscriptionStatus``: subscription, topic, status, ``type`` ``event-notification``,
``events-since-subscription-start``, a ``notification-event`` with its number, time and focus per event),
then the DocumentReferences as DDS serves them (full-resource payload), their ``attachment.url`` at
DDS as the subscriber reached it. The request carries DDS's own system token (persona
``dds_nsp_persona``, audience ``dds_notification_audience``) so the recipient can tell it is DDS.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, exists, func, select, update

from nsp_sandbox.clock import naive_utc
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.database import hold
from nsp_sandbox.driver_statement import DriverStatement
from nsp_sandbox.fhir_http import json_bytes
from nsp_sandbox.system_tokens import StsUnavailable, SystemTokens
from nsp_sandbox.thread_names import NamedThread
from services.dds.mhd.document_reference import fhir_instant, to_fhir
from services.dds.models import NotificationRow, SubscriptionRow
from services.dds.registry import Registry
from services.dds.subscriptions import BACKPORT, PAYLOAD

log = logging.getLogger("services.dds.notifier")

MAX_ATTEMPTS = 8
FIRST_BACKOFF = timedelta(seconds=5)
MAX_BACKOFF = timedelta(minutes=10)
CLAIM = timedelta(seconds=60)  # how long a taken row is another process's to leave alone
TIMEOUT_SECONDS = 10.0
POLL_SECONDS = 0.5  # how often the sender looks again while retries wait (the sandbox clock may move)
BATCH = 50


# Statements built once (building one costs more than running it on SQLite); Core, not ORM, updates.
_NOTIFICATIONS = NotificationRow.__table__.c
_PENDING = select(func.count()).select_from(NotificationRow.__table__).where(_NOTIFICATIONS.state == "pending")
_DUE = (select(_NOTIFICATIONS.pk, _NOTIFICATIONS.subscription_pk).where(_NOTIFICATIONS.state == "pending",
                                        _NOTIFICATIONS.next_attempt_at <= bindparam("now"))
        .order_by(_NOTIFICATIONS.pk).limit(BATCH))
# The same, but for the subscriptions whose events wait for another process (their earlier events are its to send).
_DUE_ELSEWHERE = _DUE.where(_NOTIFICATIONS.subscription_pk.not_in(bindparam("held", expanding=True)))
# Taken by compare-and-set, and read, in one statement (UPDATE … RETURNING: SQLite 3.35+, PostgreSQL); never
# while another sender has an earlier event of the subscription (it would arrive after this one), which the index
# of the events in flight finds among those alone. The rows are read by their keys: their state is compared as an
# expression (``state || ''``), which no index serves, else SQLite walked every pending event through the index of
# the due ones to find the few named, however long the queue of a recipient that is down.
_EARLIER = NotificationRow.__table__.alias("earlier").c
_CLAIM = (update(NotificationRow.__table__)
          .where(_NOTIFICATIONS.pk.in_(bindparam("row_pks", expanding=True)), _NOTIFICATIONS.state + "" == "pending",
                 _NOTIFICATIONS.next_attempt_at <= bindparam("now"),
                 _NOTIFICATIONS.claimed_until.is_(None) | (_NOTIFICATIONS.claimed_until < bindparam("now")),
                 ~exists().where(_EARLIER.subscription_pk == _NOTIFICATIONS.subscription_pk,
                                 _EARLIER.pk < _NOTIFICATIONS.pk, _EARLIER.state == "pending",
                                 _EARLIER.claimed_until >= bindparam("now")))
          .values(claimed_until=bindparam("until"), attempts=_NOTIFICATIONS.attempts + 1)
          .returning(_NOTIFICATIONS.pk, _NOTIFICATIONS.subscription_pk, _NOTIFICATIONS.event_number,
                     _NOTIFICATIONS.entry_ids, _NOTIFICATIONS.attempts))
_SUBSCRIPTION = select(SubscriptionRow.__table__).where(SubscriptionRow.pk == bindparam("subscription_pk"))
_FINISH = (update(NotificationRow.__table__).where(_NOTIFICATIONS.pk == bindparam("row_pk"))
           .values(state=bindparam("state"), claimed_until=None, last_error=bindparam("problem")))
_FINISH_LATER = _FINISH.values(next_attempt_at=bindparam("next_attempt_at"))
# Each notification sent is marked so (a statement per notification, run on the driver's cursor).
_FINISHED = {False: DriverStatement(_FINISH), True: DriverStatement(_FINISH_LATER)}
_SUBSCRIPTION_STATUS = (update(SubscriptionRow.__table__).where(SubscriptionRow.__table__.c.pk == bindparam("sub_pk"))
                        .values(status=bindparam("status"), error=bindparam("error")))


@dataclass(frozen=True, slots=True)
class Claimed:
    """A notification row this process has taken to send (its columns as the claim left them)."""

    pk: int
    subscription_pk: int
    event_number: int
    entry_ids: str
    attempts: int


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt."""
    return min(FIRST_BACKOFF * (2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def notification_bundle(subscription: SubscriptionRow | Row[Any], events: list[tuple[int, list[str]]], at: datetime,
                        references: list[dict[str, Any]]) -> dict[str, Any]:
    """The backport's notification Bundle (R4): SubscriptionStatus first, then the focus resources.

    ``events``: each event's number and the ids of its DocumentReferences, in order; ``references``: each
    of those DocumentReferences once, as DDS serves it now."""
    fhir_base = f"{subscription.base_url}/fhir"
    timestamp = fhir_instant(at)
    parts = [{"name": "notification-event", "part": [
        {"name": "event-number", "valueString": str(number)},
        {"name": "timestamp", "valueInstant": timestamp},
        *({"name": "focus", "valueReference": {"reference": f"{fhir_base}/DocumentReference/{entry_id}"}}
          for entry_id in focus)]} for number, focus in events]
    status = {
        "resourceType": "Parameters", "id": str(uuid.uuid4()),
        "meta": {"profile": [BACKPORT + "backport-subscription-status-r4"]},
        "parameter": [
            {"name": "subscription", "valueReference": {"reference": f"{fhir_base}/Subscription/{subscription.id}"}},
            {"name": "topic", "valueCanonical": subscription.topic},
            {"name": "status", "valueCode": "active"},
            {"name": "type", "valueCode": "event-notification"},
            {"name": "events-since-subscription-start", "valueString": str(subscription.events)},
            *parts]}
    return {"resourceType": "Bundle", "id": str(uuid.uuid4()),
            "meta": {"profile": [BACKPORT + "backport-subscription-notification-r4"]},
            "type": "history", "timestamp": timestamp,
            "entry": [{"fullUrl": f"urn:uuid:{status['id']}", "resource": status,
                       "request": {"method": "GET", "url": f"{fhir_base}/Subscription/{subscription.id}/$status"},
                       "response": {"status": "200"}},
                      *({"fullUrl": f"{fhir_base}/DocumentReference/{r['id']}", "resource": r,
                         "request": {"method": "PUT", "url": f"DocumentReference/{r['id']}"},
                         "response": {"status": "200"}} for r in references)]}


class Notifier:
    """This process's sender of queued notifications (see the module's description)."""

    def __init__(self, context: SandboxContext, registry: Registry) -> None:
        self.context = context
        self.registry = registry
        self.tokens = SystemTokens(context.peers, context.clock)
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.blocked = False  # the last round sent nothing, and events due wait for another process
        context.stoppers.append(self.stop)

    def stop(self) -> None:
        """Stop sending (the sandbox shuts down): what is being sent is finished, the rest waits in the
        database for the next start."""
        with self._lock:
            self._stopping = True
            self._wake.set()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(TIMEOUT_SECONDS + 5)

    def wake(self) -> None:
        """Send what is due now, in the background (after a commit that queued events)."""
        with self._lock:
            if self._stopping:
                return
            self._wake.set()
            if self._thread is None or not self._thread.is_alive():
                self._thread = NamedThread(target=self._run, name="dds-dsubm-notifier", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._serve())
        except Exception:  # the database went away (a test's sandbox ended): the rows wait for the next start
            log.warning("the DSUBm sender stopped", exc_info=True)
        finally:
            loop.close()

    async def _serve(self) -> None:
        while not self._stopping:
            self._wake.clear()
            await self.deliver_due()
            if self._stopping:
                break
            if not self.has_pending():
                with self._lock:
                    if not self._wake.is_set():
                        self._thread = None
                        return
                continue
            if self.blocked:  # what is due waits for another process: not looked at again at every commit
                await asyncio.sleep(POLL_SECONDS)
            else:
                await asyncio.to_thread(self._wake.wait, POLL_SECONDS)

    def has_pending(self) -> bool:
        with self.context.database.reading_connection() as connection:
            return bool(connection.execute(_PENDING).scalar())

    def _due(self, now: datetime, held: Collection[int] = ()) -> list[tuple[int, int]]:
        """The notifications due now, oldest first: (row, subscription); none of the subscriptions ``held``."""
        statement, values = (_DUE_ELSEWHERE, {"now": now, "held": sorted(held)}) if held else (_DUE, {"now": now})
        with self.context.database.reading_connection() as connection:
            return [(pk, subscription_pk) for pk, subscription_pk in connection.execute(statement, values)]

    def _claim(self, subscription_pk: int, pks: list[int], now: datetime) -> list[Claimed]:
        """Take the rows ``pks`` of subscription ``subscription_pk`` that are still due and not taken by another
        process, in their order, unless another process is sending an earlier event of it (then none: they wait
        until it has). Claims of one subscription are taken one at a time across processes (PostgreSQL's advisory
        lock; SQLite's writers take turns), so that each sees the claims before it."""
        with self.context.database.transaction() as connection:
            hold(connection, ("dds-notification", str(subscription_pk)))
            taken = connection.execute(_CLAIM, {"row_pks": pks, "now": now, "until": now + CLAIM}).all()
        return sorted((Claimed(*row) for row in taken), key=lambda row: row.pk)

    async def deliver_due(self) -> int:
        """Send every notification due now; how many events were delivered.

        A subscription whose events due the sender cannot take (another process is sending earlier events of it, or
        took them and stopped: its claim lapses after :data:`CLAIM`) is left out of the rest of the round, so the
        events of every other subscription are still read and sent, however many of its own wait. A round that
        could send nothing while some events wait so ends with ``blocked`` set: the sender looks again after
        :data:`POLL_SECONDS` instead of reading and claiming the same rows over and over, which held SQLite's write
        lock against every provide."""
        delivered = 0
        held: set[int] = set()
        self.blocked = False
        while True:
            now = naive_utc(self.context.clock.now())
            due = self._due(now, held)
            by_subscription: dict[int, list[int]] = {}
            for pk, subscription_pk in due:
                by_subscription.setdefault(subscription_pk, []).append(pk)
            for subscription_pk, pks in by_subscription.items():
                with self.context.database.transaction() as connection:
                    subscription = connection.execute(_SUBSCRIPTION, {"subscription_pk": subscription_pk}).first()
                size = max(1, min(subscription.max_count or 1, BATCH)) if subscription is not None else BATCH
                for start in range(0, len(pks), size):
                    if self._stopping:
                        return delivered
                    rows = self._claim(subscription_pk, pks[start:start + size], now)
                    if not rows:  # another process's to send first: the rest of the subscription waits for it
                        held.add(subscription_pk)
                        break
                    if subscription is None:  # ended meanwhile
                        self._finish(rows, "failed", "the subscription was deleted", None)
                        continue
                    delivered += await self._deliver(rows, subscription)
            if len(due) < BATCH:
                self.blocked = delivered == 0 and bool(held)
                return delivered

    async def _deliver(self, rows: list[Claimed], subscription: Row[Any]) -> int:
        """Send ``rows`` (events of ``subscription``, in order) as one notification; how many were delivered."""
        focus = [(row.event_number, json.loads(row.entry_ids)) for row in rows]
        found = self.registry.get_entries({entry_id for _, ids in focus for entry_id in ids})
        references: dict[str, dict[str, Any]] = {}  # each entry once, in the order the events name them
        for _, ids in focus:
            for entry_id in ids:
                if entry_id in found and entry_id not in references:
                    references[entry_id] = to_fhir(found[entry_id], f"{subscription.base_url}/documents/{entry_id}")
        events = [(number, [i for i in ids if i in references]) for number, ids in focus]
        bundle = notification_bundle(subscription, events, self.context.clock.now(), list(references.values()))
        problem = await self._post(subscription.endpoint, bundle)
        if problem is None:
            self._finish(rows, "sent", None, subscription)
            return len(rows)
        numbers = ", ".join(str(row.event_number) for row in rows)
        log.info("DSUBm notification of event(s) %s to %s failed: %s", numbers, subscription.endpoint, problem)
        self._finish(rows, "pending", problem, subscription)
        return 0

    async def _post(self, endpoint: str, bundle: dict[str, Any]) -> str | None:
        """Post ``bundle``; None when the recipient took it, else what went wrong."""
        settings = self.context.settings
        headers = {"Content-Type": PAYLOAD, "Accept": PAYLOAD}
        try:
            token = await self.tokens.token(settings.dds_nsp_persona, settings.dds_notification_audience)
            headers["Authorization"] = f"Bearer {token}"
        except StsUnavailable as exc:
            log.info("DSUBm notification sent without DDS's token: %s", exc)
        try:
            response = await asyncio.wait_for(self.context.peers.client_for_url(endpoint).post(
                endpoint, content=json_bytes(bundle), headers=headers,
                timeout=TIMEOUT_SECONDS), TIMEOUT_SECONDS + 1)
        except TimeoutError:
            return f"no answer within {TIMEOUT_SECONDS:.0f} s"
        except Exception as exc:  # any transport failure: the recipient cannot be reached
            return f"the endpoint could not be reached ({type(exc).__name__})"
        if 200 <= response.status_code < 300:
            return None
        return f"the endpoint answered HTTP {response.status_code}"

    def _finish(self, rows: list[Claimed], state: str, problem: str | None,
                subscription: Row[Any] | None) -> None:
        """Mark ``rows`` ``state`` in one unit of work; a row sent in vain (``pending``) waits for its backoff,
        and is ``failed`` once it has had :data:`MAX_ATTEMPTS` attempts."""
        now = naive_utc(self.context.clock.now())
        with self.context.database.transaction() as connection:
            for row in rows:
                row_state = "failed" if state == "pending" and row.attempts >= MAX_ATTEMPTS else state
                values: dict[str, Any] = {"row_pk": row.pk, "state": row_state, "problem": problem}
                if row_state == "pending":
                    values["next_attempt_at"] = now + backoff(row.attempts)
                _FINISHED[row_state == "pending"].run(connection, values)
            if subscription is not None and rows:
                last = rows[-1]
                error = None if problem is None else (
                    f"Notification {last.event_number}: {problem} (attempt {last.attempts} of {MAX_ATTEMPTS}"
                    + (", given up)" if last.attempts >= MAX_ATTEMPTS else ")"))
                connection.execute(_SUBSCRIPTION_STATUS, {"sub_pk": subscription.pk,
                                                       "status": "active" if problem is None else "error",
                                                       "error": error})
