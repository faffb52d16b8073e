"""CPU per DSUBm notification spent on bookkeeping, in process: the sender's and the viewer's database work.

For every document a provide registers, with the viewer subscribed (``up``'s default), DDS's sender
takes the queued notification row, marks it sent and sets its subscription active again; the viewer
looks the notified document up in its extract store and keeps what it read of it, with the entry
that has it. This measures those steps alone, without HTTP and without validation, since their share
of a provide is too small to tell apart from the noise of a served run on a shared machine:

* ``sender``: ``Notifier._due``, ``_claim`` and ``_finish`` for ``--rows`` queued rows;
* ``viewer``: for as many new documents, the extract store's lookup (a miss) and ``put`` of an
  extract and its entry (``ExtractCache.get`` and ``put``, the reading itself left out); the extract is
  what the viewer makes of the load's HCO message (``../shared/peers/load.py``).

``time.process_time()`` per row, after 50 warm-up rows, each row taken and finished on its own (a subscription
without ``backport-max-count``). ``--sent`` N: the subscription has N events sent before these (a sandbox that has
run for a while; each row taken is checked against its subscription's earlier events in flight). ``--tree``
measures another checkout (run the two alternately for a before/after; a checkout whose sender takes and finishes
rows in lists, as this one's does); ``--database-url`` a PostgreSQL database (emptied first).

    .venv/bin/python bench/dsubm_cpu.py
    .venv/bin/python bench/dsubm_cpu.py --tree ../before
    .venv/bin/python bench/dsubm_cpu.py --sent 100000
    .venv/bin/python bench/dsubm_cpu.py --database-url postgresql://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import inspect
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
WARM = 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--sent", type=int, default=0, help="events of the subscription sent before these")
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout to measure")
    parser.add_argument("--database-url", help="default: SQLite in a temporary folder")
    args = parser.parse_args()
    tree = args.tree.resolve()
    sys.path.insert(0, str(tree))

    from sqlalchemy import MetaData, insert, select

    from nsp_sandbox.clock import naive_utc
    from nsp_sandbox.config import Settings
    from nsp_sandbox.context import SandboxContext
    from services.dds.models import NotificationRow, SubscriptionRow
    from services.dds.notifier import Notifier
    from services.dds.registry import Registry
    from services.sundhed_view.documents import EXTRACT_TYPES, _Read
    from services.sundhed_view.extract_cache import ExtractCache
    from services.sundhed_view.extract_codec import ExtractCodec

    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="nsp-bench-")))
    if args.database_url:
        settings = settings.model_copy(update={"database_url": args.database_url})
    context = SandboxContext.from_settings(settings)
    if args.database_url:  # a database left by an earlier run: emptied
        existing = MetaData()
        existing.reflect(context.database.engine)
        existing.drop_all(context.database.engine)
    registry = Registry(context.database)
    registry.create_tables()
    sender = Notifier(context, registry)
    store = ExtractCache(context.database, context.clock, ExtractCodec(EXTRACT_TYPES))
    now = naive_utc(context.clock.now())
    total = args.rows + WARM
    with context.database.session() as session:
        subscription_pk = session.execute(insert(SubscriptionRow.__table__).values(
            id="bench", key="bench", owner="system-sundhed-dk", topic="bench", endpoint="http://viewer.invalid/",
            base_url="http://dds.invalid", status="active", events=args.sent + total, created_at=now, resource="{}")
            .returning(SubscriptionRow.__table__.c.pk)).scalar_one()
        session.execute(insert(NotificationRow.__table__), [
            {"subscription_pk": subscription_pk, "event_number": n, "entry_ids": f'["entry-{n}"]',
             "state": "sent" if n < args.sent else "pending", "attempts": 0, "next_attempt_at": now,
             "created_at": now} for n in range(args.sent + total)])
        subscription = session.scalars(select(SubscriptionRow)).one()
        session.expunge(subscription)

    by_subscription = "subscription_pk" in inspect.signature(sender._claim).parameters  # claims per subscription

    def sender_row(pk: int) -> None:
        rows = sender._claim(subscription_pk, [pk], now) if by_subscription else sender._claim([pk], now)
        assert rows
        sender._finish(rows, "sent", None, subscription)

    # What the viewer keeps of a load document: the official HCO message as its reader makes it.
    from engine_instructions import peer_load

    from services.sundhed_view import hco
    load = peer_load()
    cpr = load.make_cprs(1, random.Random(1))[0]
    document = json.loads(load.Documents(str(SHARED / "fhir-packages")).document(cpr)[0])
    value = _Read(hco.read_message(document, {}), frozenset({cpr}))

    def viewer_row(n: int) -> None:
        digest = f"{n:064x}"
        assert store.get(digest) is None
        store.put(digest, value, (f"entry-{n}", f"hash-{n}"), new=True)

    due: list[int] = []
    while len(due) < total:
        batch = [pk for pk, _ in sender._due(now)]
        due += batch
        for pk in batch:
            sender_row(pk)
    # the rows are sent: queue them again for the timed pass, as new notifications would be
    with context.database.session() as session:
        session.execute(NotificationRow.__table__.update().where(NotificationRow.__table__.c.event_number >= args.sent)
                        .values(state="pending", attempts=0))
    results = {}
    for name, step, keys in (("sender", sender_row, due), ("viewer", viewer_row, list(range(total)))):
        for key in keys[:WARM]:
            step(key)
        started = time.process_time()
        for key in keys[WARM:]:
            step(key)
        results[name] = (time.process_time() - started) / args.rows * 1e6
    database = "PostgreSQL" if args.database_url else "SQLite"
    print(f"{tree.name} ({database}): sender {results['sender']:.0f} µs, viewer {results['viewer']:.0f} µs "
          f"CPU per notification ({args.rows} rows, {args.sent} sent before them)")


if __name__ == "__main__":
    main()
