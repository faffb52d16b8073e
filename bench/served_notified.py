"""Served provides as ``nsp-sandbox up`` comes (the viewer subscribed at DDS, IHE DSUBm): provides per
second, and the server's CPU per document counted until DDS has sent every notification.

``../shared/peers/compare.sh`` counts the server's CPU over its rounds only. With the viewer subscribed,
DDS is still sending notifications (and the viewer retrieving, validating and keeping documents) when
the rounds end, so that figure leaves part of a notified document's cost out. This benchmark starts
``nsp-sandbox up`` (SQLite in a temporary folder, access control off as ``compare.sh`` sets it), sends
``--warm-up`` provides with ``../shared/peers/load.py`` and waits until nothing is pending, then times
``--provides`` provides from ``--clients`` clients and goes on counting the process's CPU (``/proc``)
until no notification is pending. Each tree is started from its own folder, so ``--against`` compares
two checkouts; with it, the runs alternate, ``--pairs`` times.

    .venv/bin/python bench/served_notified.py
    .venv/bin/python bench/served_notified.py --against ../before --pairs 3
    .venv/bin/python bench/served_notified.py --no-dsubm        # the viewer not subscribed: the provide alone
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from served_tree import alternating, cpu_seconds, provides, served, settle, tree_arguments

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@dataclass(frozen=True)
class Run:
    tree: str
    documents_per_s: float
    rounds_cpu_ms: float  # load.py's figure: the rounds only
    notified_cpu_ms: float  # until no notification is pending
    drained_s: float  # from the end of the rounds until nothing is pending


def say(message: str) -> None:
    print(f"[served {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def pending(database: Path) -> int:
    """Notifications DDS has not sent yet (0 before DDS has made its table)."""
    if not database.exists():
        return 0
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)) as connection:
        try:
            row = connection.execute("select count(*) from dds_notification where state = 'pending'").fetchone()
        except sqlite3.OperationalError:  # no such table yet
            return 0
        return int(row[0])


def drain(database: Path, timeout: float, pid: int | None = None) -> None:
    """Until no notification is pending; with ``pid``, until that server is idle as well (:func:`settle`), so that the
    viewer's reading of what it was notified of has ended too."""
    deadline = time.monotonic() + timeout
    while (left := pending(database)) > 0:
        if time.monotonic() > deadline:
            raise SystemExit(f"{left} notifications still pending after {timeout:.0f} s")
        time.sleep(0.2)
    if pid is not None:
        settle(pid, timeout=max(1.0, deadline - time.monotonic()))


def run(tree: Path, args: argparse.Namespace) -> Run:
    env = {"NSP_SANDBOX_FHIR_PACKAGES": str(args.packages), "NSP_SANDBOX_DDS_ACCESS_CONTROL": "false",
           "NSP_SANDBOX_VIEW_DSUBM": "false" if args.no_dsubm else "true"}
    with served(tree, env, prefix="nsp-served-") as server:  # SQLite in the data folder: its table is polled
        database = server.data / "sandbox.db"
        say(f"{tree}: serving on {server.url}; {args.warm_up} warm-up provides")
        provides(args, server.url, args.warm_up, None)
        drain(database, args.timeout)
        say(f"{tree}: {args.provides} provides from {args.clients} clients")
        cpu = cpu_seconds(server.pid)
        result = provides(args, server.url, args.provides, server.pid)
        ended = time.monotonic()
        drain(database, args.timeout)
        drained = time.monotonic() - ended
        notified = (cpu_seconds(server.pid) - cpu) / args.provides * 1000
        return Run(str(tree), float(result["documents_per_s"]),  # type: ignore[arg-type]
                   float(result["server_cpu_ms_per_document"]), notified, drained)  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    tree_arguments(parser, ROOT)
    parser.add_argument("--provides", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--warm-up", type=int, default=300)
    parser.add_argument("--no-dsubm", action="store_true", help="the viewer does not subscribe (the provide alone)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the notifications")
    parser.add_argument("--load", type=Path, default=SHARED / "peers" / "load.py")
    parser.add_argument("--packages", type=Path, default=Path(os.environ.get("NSP_SANDBOX_FHIR_PACKAGES",
                                                                             SHARED / "fhir-packages")))
    args = parser.parse_args()
    runs = [run(tree, args) for tree in alternating(args)]
    print(f"\n{'viewer not subscribed' if args.no_dsubm else 'viewer subscribed'}; {args.provides} provides from "
          f"{args.clients} clients after {args.warm_up} warm-up ones; SQLite\n")
    print("| tree | documents/s | CPU per document, rounds | CPU per document until all notified | drained after |")
    print("|---|---|---|---|---|")
    for r in runs:
        print(f"| {r.tree} | {r.documents_per_s:.1f} | {r.rounds_cpu_ms:.2f} ms | {r.notified_cpu_ms:.2f} ms "
              f"| {r.drained_s:.1f} s |")


if __name__ == "__main__":
    main()
