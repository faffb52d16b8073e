"""DDS as IHE DSUBm Resource Notification Broker: subscriptions (create, read, delete, refusals), a
notification after every provide, replacement and status change, sent after the commit off the
request path, retried with backoff when the recipient fails; and the subscriber's retrieval, which
is no person's look-up (no Min Log entry) and is only for what its subscription covers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

import pytest
from dsubm_recipient import (
    FHIR_JSON,
    PATIENT_DEPENDENT,
    SUBSCRIBER,
    Recipient,
    subscribe,
    subscription,
    wait_for,
)
from fastapi.testclient import TestClient
from mhd_client import CPR, OTHER_CPR, Mhd
from sqlalchemy import event as sqlalchemy_events
from sqlalchemy import insert, select
from sts_client import auth

from nsp_sandbox.clock import naive_utc
from nsp_sandbox.context import SandboxContext
from services.dds import subscriptions
from services.dds.models import NotificationRow, SubscriptionRow
from services.dds.notifier import BATCH, CLAIM, FIRST_BACKOFF, POLL_SECONDS, Notifier
from services.dds.registry import Registry
from services.dds.subscriptions import MAX_COUNT


def max_count(value: object) -> dict[str, object]:
    return {"url": MAX_COUNT, "valuePositiveInt": value}


def _events(bundle: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """Each notification-event of a notification: its number and the ids of its focus."""
    status = bundle["entry"][0]["resource"]
    found = []
    for event in (p for p in status["parameter"] if p["name"] == "notification-event"):
        parts = event["part"]
        found.append((next(p["valueString"] for p in parts if p["name"] == "event-number"),
                      [p["valueReference"]["reference"].rsplit("/", 1)[-1] for p in parts if p["name"] == "focus"]))
    return found


def _rules(response: object) -> set[str]:
    issues = response.json()["issue"]  # type: ignore[attr-defined]
    return {c["code"] for i in issues for c in (i.get("details") or {}).get("coding", [])}


def test_create_read_and_delete_a_subscription(client: TestClient) -> None:
    recipient = Recipient(client)
    created = subscribe(client, subscription(recipient.endpoint, PATIENT_DEPENDENT,
                                             f"DocumentReference?patient.identifier=urn:oid:1.2.208.176.1.2|{CPR}"))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["resourceType"] == "Subscription" and body["status"] == "active"
    assert body["criteria"] == PATIENT_DEPENDENT
    assert created.headers["location"].endswith(f"/dds/fhir/Subscription/{body['id']}")
    # the same subscription again is the same one (every worker of a recipient registers at start-up)
    again = subscribe(client, subscription(recipient.endpoint, PATIENT_DEPENDENT,
                                           f"DocumentReference?patient.identifier=urn:oid:1.2.208.176.1.2|{CPR}"))
    assert again.status_code == 200 and again.json()["id"] == body["id"]

    headers = auth(client, SUBSCRIBER, "dds")
    read = client.get(f"/dds/fhir/Subscription/{body['id']}", headers=headers)
    assert read.status_code == 200 and read.json()["channel"]["endpoint"] == recipient.endpoint
    assert client.delete(f"/dds/fhir/Subscription/{body['id']}", headers=headers).status_code == 204
    gone = client.get(f"/dds/fhir/Subscription/{body['id']}", headers=headers)
    assert gone.status_code == 404 and gone.headers["content-type"].startswith(FHIR_JSON)


def test_only_an_authorised_system_subscribes(client: TestClient) -> None:
    recipient = Recipient(client)
    for persona in ("system-eoj-aarhus", "gp-skodstrup", f"citizen-{CPR}"):
        refused = subscribe(client, subscription(recipient.endpoint), persona)
        assert refused.status_code == 403, (persona, refused.text)
        assert refused.json()["resourceType"] == "OperationOutcome"
        assert "dds-subscriber" in _rules(refused)
    no_token = client.post("/dds/fhir/Subscription", json=subscription(recipient.endpoint),
                           headers={"Content-Type": FHIR_JSON})
    assert no_token.status_code == 401
    # another system's subscription is not there for it
    mine = subscribe(client, subscription(recipient.endpoint)).json()["id"]
    other = client.get(f"/dds/fhir/Subscription/{mine}", headers=auth(client, "system-eoj-aarhus", "dds"))
    assert other.status_code == 403


def test_a_subscription_that_cannot_be_served_is_refused(client: TestClient) -> None:
    recipient = Recipient(client)
    bad = {
        "no patient in a patient topic": subscription(recipient.endpoint, PATIENT_DEPENDENT),
        "another resource": subscription(recipient.endpoint, "Patient?identifier=x"),
        "another parameter": subscription(recipient.endpoint, "DocumentReference?type=HCOM"),
        "a bad CPR": subscription(recipient.endpoint, "DocumentReference?patient.identifier=|12"),
        "websocket": subscription(recipient.endpoint, channel={"type": "websocket", "endpoint": recipient.endpoint}),
        "relative endpoint": subscription("/notify"),
        "xml payload": subscription(recipient.endpoint, channel={"type": "rest-hook", "endpoint": recipient.endpoint,
                                                                 "payload": "application/fhir+xml"}),
        "not a Subscription": {"resourceType": "Patient"},
        "max-count 0": subscription(recipient.endpoint, channel={**subscription(recipient.endpoint)["channel"],
                                                                 "extension": [max_count(0)]}),
        "max-count not a number": subscription(recipient.endpoint, channel={
            **subscription(recipient.endpoint)["channel"], "extension": [{"url": MAX_COUNT, "valueString": "5"}]}),
        "extension not a list": subscription(recipient.endpoint, channel={
            **subscription(recipient.endpoint)["channel"], "extension": max_count(2)}),
        "two max-counts": subscription(recipient.endpoint, channel={**subscription(recipient.endpoint)["channel"],
                                                                    "extension": [max_count(2), max_count(3)]}),
    }
    for why, body in bad.items():
        refused = subscribe(client, body)
        assert refused.status_code == 400, (why, refused.text)
        assert refused.json()["resourceType"] == "OperationOutcome", why


def test_a_provide_a_replacement_and_a_deprecation_notify_after_the_commit(client: TestClient, mhd: Mhd) -> None:
    recipient = Recipient(client)
    patient = subscribe(client, subscription(recipient.endpoint, PATIENT_DEPENDENT,
                                             f"DocumentReference?patient.identifier=urn:oid:1.2.208.176.1.2|{CPR}"))
    assert patient.status_code == 201
    first = mhd.provide_hco()
    mhd.provide_hco(cpr=OTHER_CPR)  # another patient: not this subscription's
    wait_for(lambda: recipient.focus_ids() == [first])
    bundle = recipient.received[0]
    assert bundle["type"] == "history"
    status = bundle["entry"][0]["resource"]
    assert status["resourceType"] == "Parameters"
    parameters = {p["name"]: p for p in status["parameter"]}
    assert parameters["type"]["valueCode"] == "event-notification"
    assert parameters["topic"]["valueCanonical"] == PATIENT_DEPENDENT
    assert parameters["subscription"]["valueReference"]["reference"].endswith(f"/Subscription/{patient.json()['id']}")
    event = {p["name"]: p for p in parameters["notification-event"]["part"]}
    assert event["event-number"]["valueString"] == "1"
    reference = bundle["entry"][1]["resource"]
    assert reference["status"] == "current" and reference["content"][0]["attachment"]["url"].endswith(
        f"/dds/documents/{first}")
    assert recipient.authorisations[0] and recipient.authorisations[0].startswith("Bearer ")

    replacement = mhd.document_reference()
    replacement["relatesTo"] = [{"code": "replaces", "target": {"reference": f"DocumentReference/{first}"}}]
    second = mhd.provide((replacement, mhd.examples.hco))[0]
    wait_for(lambda: len(recipient.received) == 2)
    statuses = {e["resource"]["id"]: e["resource"]["status"] for e in recipient.received[1]["entry"][1:]}
    assert statuses == {second: "current", first: "superseded"}

    current = mhd.read(second)
    assert mhd.put({**current, "status": "entered-in-error"}).status_code == 200
    wait_for(lambda: len(recipient.received) == 3)
    assert [(e["resource"]["id"], e["resource"]["status"]) for e in recipient.received[2]["entry"][1:]] == [
        (second, "entered-in-error")]


def test_a_failing_recipient_never_fails_the_provide_and_is_retried(client: TestClient, mhd: Mhd,
                                                                    context: SandboxContext) -> None:
    recipient = Recipient(client)
    recipient.failing = 1
    created = subscribe(client, subscription(recipient.endpoint)).json()
    entry = mhd.provide_hco()  # 200 although the recipient answers 500
    wait_for(lambda: recipient.attempts == 1)
    headers = auth(client, SUBSCRIBER, "dds")
    failed = wait_for(lambda: (r := client.get(f"/dds/fhir/Subscription/{created['id']}", headers=headers).json())
                      ["status"] == "error" and r)
    assert "HTTP 500" in failed["error"]
    assert recipient.focus_ids() == []
    # the next attempt waits for the backoff on the sandbox clock
    context.clock.travel_to(context.clock.now() + FIRST_BACKOFF + timedelta(seconds=1))
    wait_for(lambda: recipient.focus_ids() == [entry])
    assert recipient.attempts == 2
    wait_for(lambda: client.get(f"/dds/fhir/Subscription/{created['id']}", headers=headers).json()["status"]
             == "active")


def test_an_unreachable_recipient_does_not_hold_up_providing(client: TestClient, mhd: Mhd) -> None:
    subscribe(client, subscription("http://127.0.0.1:9/nowhere"))
    for _ in range(3):
        mhd.provide_hco()


def test_the_subscriber_retrieves_what_it_is_notified_of_and_min_log_gets_nothing(client: TestClient,
                                                                                 mhd: Mhd) -> None:
    recipient = Recipient(client)
    subscribe(client, subscription(recipient.endpoint, PATIENT_DEPENDENT,
                                   f"DocumentReference?patient.identifier=urn:oid:1.2.208.176.1.2|{CPR}"))
    mine = mhd.provide_hco()
    other = mhd.provide_hco(cpr=OTHER_CPR)
    wait_for(lambda: recipient.focus_ids())
    url = recipient.received[0]["entry"][1]["resource"]["content"][0]["attachment"]["url"]
    system = auth(client, SUBSCRIBER, "dds")
    assert client.get(url, headers=system).content == mhd.examples.hco
    # not a patient its subscription covers (the tests' viewer does not subscribe for every patient):
    # refused as any system's read
    refused = client.get(f"/dds/documents/{other}", headers=system)
    assert refused.status_code == 403 and "dds-system-no-read" in _rules(refused)
    # a system without the right reads nothing, subscribed or not
    assert client.get(f"/dds/documents/{mine}", headers=auth(client, "system-plsp", "dds")).status_code == 403
    # ITI-67 stays closed to it: the subscription covers only retrieval of what it is notified of
    search = client.get("/dds/fhir/DocumentReference", params={"patient.identifier": CPR, "status": "current"},
                        headers=system)
    assert search.status_code == 403
    minlog = client.get("/nsp/minlog", headers=auth(client, f"citizen-{CPR}"))
    assert minlog.status_code == 200, minlog.text
    assert minlog.json() == []  # the system's retrieval is no look-up of the citizen


def _two_senders_and_events(context: SandboxContext, events: int) -> tuple[Notifier, Notifier, int, datetime]:
    """Two DDS processes' senders over ``context``'s database, and a subscription with ``events`` pending events
    (numbers 1, 2, …, entries ``e1``, ``e2``, …) due now: (the senders, the subscription's row, now)."""
    registry = Registry(context.database)
    now = naive_utc(context.clock.now())
    with context.database.session() as session:
        sub_pk = session.execute(insert(SubscriptionRow.__table__).values(
            id="s1", key="k1", owner="o", topic="t", endpoint="http://recipient.invalid/", base_url="http://dds",
            status="active", events=events, created_at=now, resource="{}").returning(SubscriptionRow.__table__.c.pk)
        ).scalar_one()
        for number in range(1, events + 1):
            session.execute(insert(NotificationRow.__table__).values(
                subscription_pk=sub_pk, event_number=number, entry_ids=f'["e{number}"]', state="pending",
                attempts=0, next_attempt_at=now, created_at=now))
    return Notifier(context, registry), Notifier(context, registry), sub_pk, now


def test_two_senders_never_take_the_same_notification_and_a_lapsed_claim_is_taken_again(
        context: SandboxContext) -> None:
    """Each DDS process has its own sender; a row is taken by compare-and-set, so one process sends it.
    A claim left by a process that stopped lapses after ``CLAIM``, and the row is taken again."""
    first, second, sub_pk, now = _two_senders_and_events(context, 1)
    assert first._due(now) == second._due(now) == [(first._due(now)[0][0], sub_pk)]
    ((pk, _),) = first._due(now)

    (taken,) = first._claim(sub_pk, [pk], now)
    assert (taken.subscription_pk, taken.event_number, taken.entry_ids, taken.attempts) == (sub_pk, 1, '["e1"]', 1)
    assert second._claim(sub_pk, [pk], now) == []  # taken: left alone
    context.clock.travel_to(context.clock.now() + CLAIM + timedelta(seconds=1))
    later = naive_utc(context.clock.now())
    (again,) = second._claim(sub_pk, [pk], later)  # the first process went away without finishing
    assert again.attempts == 2

    second._finish([again], "pending", "the endpoint answered HTTP 503", None)
    with context.database.session() as session:
        row = session.execute(select(NotificationRow.state, NotificationRow.claimed_until,
                                     NotificationRow.next_attempt_at, NotificationRow.last_error)).one()
    assert row.state == "pending" and row.claimed_until is None and row.last_error.endswith("503")
    # after the second attempt, twice the first wait, on the sandbox clock
    assert timedelta(0) <= row.next_attempt_at - (later + FIRST_BACKOFF * 2) < timedelta(seconds=5)
    assert first._claim(sub_pk, [pk], later) == []  # not due before its backoff


def test_no_sender_takes_an_event_while_another_sends_an_earlier_one(context: SandboxContext) -> None:
    """Two DDS processes' senders (``up --workers 2``): while one sends a subscription's event 1, the other finds
    event 2 due and leaves it, so the recipient never gets 2 before 1; an event waiting for its backoff does not
    hold the later ones back."""
    first, second, sub_pk, now = _two_senders_and_events(context, 2)
    (one, _), (two, _) = first._due(now)
    (taken,) = first._claim(sub_pk, [one], now)
    assert second._claim(sub_pk, [two], now) == []  # event 1 is being sent: 2 waits
    first._finish([taken], "pending", "the endpoint answered HTTP 503", None)  # 1 waits for its backoff
    assert [row.event_number for row in second._claim(sub_pk, [two], now)] == [2]


def _subscription_with(context: SandboxContext, key: str, *, sent: int = 0, pending: int = 0) -> tuple[int, list[int]]:
    """A subscription whose first ``sent`` events were sent, and whose ``pending`` events after them are due now:
    (its row, the pending events' rows)."""
    now = naive_utc(context.clock.now())
    table = NotificationRow.__table__
    with context.database.session() as session:
        sub_pk = session.execute(insert(SubscriptionRow.__table__).values(
            id=key, key=key, owner="o", topic="t", endpoint="http://recipient.invalid/", base_url="http://dds",
            status="active", events=sent + pending, created_at=now, resource="{}").returning(
                SubscriptionRow.__table__.c.pk)).scalar_one()
        session.execute(insert(table), [
            {"subscription_pk": sub_pk, "event_number": number, "entry_ids": f'["e{number}"]',
             "state": "sent" if number <= sent else "pending", "attempts": 1 if number <= sent else 0,
             "next_attempt_at": now, "created_at": now} for number in range(1, sent + pending + 1)])
        pks = session.execute(select(table.c.pk).where(table.c.subscription_pk == sub_pk, table.c.state == "pending")
                              .order_by(table.c.pk)).scalars().all()
    return sub_pk, list(pks)


def _claim_steps(context: SandboxContext, sub_pk: int, pks: list[int]) -> tuple[int, int]:
    """Claim ``pks`` of subscription ``sub_pk``: (SQLite's virtual machine steps for it, in hundreds; how many
    were taken)."""
    engine, steps = context.database.engine, [0]

    def step() -> int:
        steps[0] += 1
        return 0  # go on

    def before(connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("UPDATE dds_notification"):
            connection.connection.driver_connection.set_progress_handler(step, 100)

    def after(connection: Any, *_: Any) -> None:
        connection.connection.driver_connection.set_progress_handler(None, 0)

    sqlalchemy_events.listen(engine, "before_cursor_execute", before)
    sqlalchemy_events.listen(engine, "after_cursor_execute", after)
    try:
        taken = Notifier(context, Registry(context.database))._claim(sub_pk, pks, naive_utc(context.clock.now()))
    finally:
        sqlalchemy_events.remove(engine, "before_cursor_execute", before)
        sqlalchemy_events.remove(engine, "after_cursor_execute", after)
    return steps[0], len(taken)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_claim_reads_the_events_it_takes_not_the_history_nor_another_recipient_s_queue(
        context: SandboxContext) -> None:
    """Taking a batch of events reads those events and the subscription's events in flight: not every event the
    subscription ever had (a sandbox that has run for long, a million documents), nor the events of another
    recipient that wait (one that is down, its queue growing). SQLite's own count of the steps it took tells."""
    alone = _claim_steps(context, *_subscription_with(context, "alone", pending=20))
    after_history = _claim_steps(context, *_subscription_with(context, "history", sent=3000, pending=20))
    sub_pk, pks = _subscription_with(context, "beside", pending=20)
    _subscription_with(context, "down", pending=3000)
    beside_a_queue = _claim_steps(context, sub_pk, pks)
    assert alone[1] == after_history[1] == beside_a_queue[1] == 20
    assert after_history[0] < 2 * alone[0] + 10, (alone, after_history)
    assert beside_a_queue[0] < 2 * alone[0] + 10, (alone, beside_a_queue)


def test_a_sender_that_can_take_none_of_the_events_due_stops_looking_until_later(
        context: SandboxContext, monkeypatch: pytest.MonkeyPatch) -> None:
    """More events due than one pass reads (``BATCH``), all behind an earlier one another process is sending (or
    took and stopped: a restarted sandbox finds its claim for ``CLAIM``): the round ends after one pass, marked
    blocked, instead of reading and claiming the same rows again and again, which held SQLite's write lock against
    every provide; the sender then looks again after ``POLL_SECONDS``, not at every commit's wake."""
    first, second, sub_pk, now = _two_senders_and_events(context, BATCH + 10)
    ((one, _), *_rest) = first._due(now)
    assert [row.event_number for row in first._claim(sub_pk, [one], now)] == [1]  # "another process" sends 1

    passes: list[int] = []
    real_due = second._due

    def counted_due(at: datetime, held: Collection[int] = ()) -> list[tuple[int, int]]:
        passes.append(1)
        if len(passes) > 5:
            raise AssertionError("the sender reads the same due events again and again")
        return real_due(at, held)

    monkeypatch.setattr(second, "_due", counted_due)
    assert asyncio.run(second.deliver_due()) == 0
    assert second.blocked and len(passes) == 2  # the events due, then those of no subscription held: none

    # The sender's own thread, woken by every commit as a provide would: it looks at most once per POLL_SECONDS.
    passes.clear()
    monkeypatch.setattr(second, "_due", lambda at, held=(): passes.append(1) or real_due(at, held))
    started = time.monotonic()
    while time.monotonic() - started < 1.2:
        second.wake()
        time.sleep(0.005)
    second.stop()
    assert 1 <= len(passes) <= 2 * (1.2 / POLL_SECONDS + 2), f"{len(passes)} passes in 1.2 s"


def test_a_refused_submission_queues_nothing_and_the_event_numbers_run_on(client: TestClient, mhd: Mhd) -> None:
    """The notification is written in the registering transaction: a submission refused there (a
    replacement of an entry already replaced) leaves no event behind, and no gap in the numbers."""
    recipient = Recipient(client)
    subscribe(client, subscription(recipient.endpoint, PATIENT_DEPENDENT,
                                   f"DocumentReference?patient.identifier=urn:oid:1.2.208.176.1.2|{CPR}"))
    first = mhd.provide_hco()
    replaces_first = [{"code": "replaces", "target": {"reference": f"DocumentReference/{first}"}}]
    second = mhd.provide((mhd.document_reference() | {"relatesTo": replaces_first}, mhd.examples.hco))[0]
    refused = mhd.post(mhd.bundle((mhd.document_reference() | {"relatesTo": replaces_first}, mhd.examples.hco)))
    assert refused.status_code in (400, 409, 422), refused.text
    third = mhd.provide_hco()
    wait_for(lambda: len(recipient.received) == 3)

    assert [number for bundle in recipient.received for number, _ in _events(bundle)] == ["1", "2", "3"]
    assert recipient.focus_ids() == [first, second, first, third]


def test_a_subscriber_s_max_count_takes_the_events_due_in_one_notification(client: TestClient, mhd: Mhd) -> None:
    """The backport's ``backport-max-count`` on the channel: the events due when the sender comes to them go
    in one notification (up to that many), each with its number and focus, each DocumentReference once."""
    recipient = Recipient(client)
    body = subscription(recipient.endpoint, PATIENT_DEPENDENT,
                        f"DocumentReference?patient.identifier=urn:oid:1.2.208.176.1.2|{CPR}")
    body["channel"]["extension"] = [max_count(3)]
    created = subscribe(client, body)
    assert created.status_code == 201, created.text
    assert created.json()["channel"]["extension"] == [max_count(3)]

    recipient.hold()
    first = mhd.provide_hco()
    wait_for(lambda: recipient.waiting == 1)  # the first event is being sent: the next ones wait for the sender
    second, third = mhd.provide_hco(), mhd.provide_hco()
    replaces_second = [{"code": "replaces", "target": {"reference": f"DocumentReference/{second}"}}]
    fourth = mhd.provide((mhd.document_reference() | {"relatesTo": replaces_second}, mhd.examples.hco))[0]
    fifth = mhd.provide_hco()
    recipient.release()
    wait_for(lambda: len(recipient.received) == 3)

    assert [_events(b) for b in recipient.received] == [
        [("1", [first])],
        [("2", [second]), ("3", [third]), ("4", [fourth, second])],  # three at most
        [("5", [fifth])]]
    batch = recipient.received[1]
    statuses = [(e["resource"]["id"], e["resource"]["status"]) for e in batch["entry"][1:]]
    assert statuses == [(second, "superseded"), (third, "current"), (fourth, "current")]  # each once, as it is now
    status = {p["name"]: p for p in batch["entry"][0]["resource"]["parameter"]}
    assert status["events-since-subscription-start"]["valueString"] == "5"  # as many as were queued by then


def test_subscribing_again_with_another_max_count_changes_it(client: TestClient) -> None:
    """A subscriber started again (or first registered before DDS read the extension) asks for the same
    entries at the same endpoint with another max-count: its subscription is the same one, with that count."""
    recipient = Recipient(client)
    first = subscribe(client, subscription(recipient.endpoint))
    assert first.status_code == 201
    again = subscription(recipient.endpoint)
    again["channel"]["extension"] = [max_count(7)]
    second = subscribe(client, again)
    assert second.status_code == 200 and second.json()["id"] == first.json()["id"]
    assert second.json()["channel"]["extension"] == [max_count(7)]
    read = client.get(f"/dds/fhir/Subscription/{first.json()['id']}", headers=auth(client, SUBSCRIBER, "dds"))
    assert read.json()["channel"]["extension"] == [max_count(7)]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_subscription_ended_while_a_provide_queues_its_event_leaves_the_provide_alone(
        client: TestClient, mhd: Mhd, monkeypatch: pytest.MonkeyPatch) -> None:
    """On PostgreSQL another worker can end a subscription between a provide's look-up of the subscriptions it
    concerns and its event's number: the provide is stored all the same, and the ended subscription told nothing.
    (On SQLite writers take turns, and a provide's transaction holds the write lock from its start.)"""
    headers = auth(client, SUBSCRIBER, "dds")
    ended: list[str] = []
    next_event = subscriptions._NEXT_EVENT

    class EndedBetween:
        def rows(self, connection: Any, params: Any) -> Any:
            if not ended:  # another worker ends the subscription now
                ended.append(created.json()["id"])
                assert client.delete(f"/dds/fhir/Subscription/{ended[0]}", headers=headers).status_code == 204
            return next_event.rows(connection, params)

    monkeypatch.setattr(subscriptions, "_NEXT_EVENT", EndedBetween())
    recipient = Recipient(client)
    created = subscribe(client, subscription(recipient.endpoint, PATIENT_DEPENDENT,
                                             f"DocumentReference?patient.identifier=urn:oid:1.2.208.176.1.2|{CPR}"))
    assert created.status_code == 201, created.text
    stored = mhd.provide_hco()
    assert stored and ended
    assert mhd.read(stored)["id"] == stored
    assert [kind for bundle in recipient.received for kind, _ in _events(bundle)] == []


def test_a_subscription_whose_events_wait_for_another_process_holds_no_other_subscription_back(
        context: SandboxContext, monkeypatch: pytest.MonkeyPatch) -> None:
    """More of one subscription's events due than a pass reads, all behind an earlier one another process is sending:
    a later event of another subscription is still sent in the same round, not after that claim lapses."""
    first, second, sub_pk, now = _two_senders_and_events(context, BATCH + 10)
    ((one, _), *_rest) = first._due(now)
    assert [row.event_number for row in first._claim(sub_pk, [one], now)] == [1]  # "another process" sends 1
    with context.database.session() as session:
        other_pk = session.execute(insert(SubscriptionRow.__table__).values(
            id="s2", key="k2", owner="o", topic="t", endpoint="http://other.invalid/", base_url="http://dds",
            status="active", events=1, created_at=now, resource="{}").returning(SubscriptionRow.__table__.c.pk)
        ).scalar_one()
        session.execute(insert(NotificationRow.__table__).values(
            subscription_pk=other_pk, event_number=1, entry_ids='["x1"]', state="pending", attempts=0,
            next_attempt_at=now, created_at=now))
    sent: list[tuple[int, list[int]]] = []

    async def deliver(rows: list[Any], subscription: Any) -> int:
        sent.append((subscription.pk, [row.event_number for row in rows]))
        second._finish(rows, "sent", None, subscription)
        return len(rows)

    monkeypatch.setattr(second, "_deliver", deliver)
    assert asyncio.run(second.deliver_due()) == 1
    assert sent == [(other_pk, [1])] and not second.blocked
    assert asyncio.run(second.deliver_due()) == 0 and second.blocked  # only the held events are left: it waits
