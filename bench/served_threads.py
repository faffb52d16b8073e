"""Where a served provide's CPU goes, thread by thread: the event loop, the CPU lane, DDS's notifier, the request
log's writer, the SQLite log's checkpoints.

``nsp-sandbox up`` of a checkout (SQLite in a temporary folder, access control off, the viewer subscribed, as
``../shared/peers/compare.sh`` runs it) takes ``--warm-up`` provides and sends every notification; then, around
``--provides`` provides from ``--clients`` clients (``../shared/peers/load.py``), each thread's user and system
CPU and its context switches are read from ``/proc/PID/task/*`` (``stat``, ``status``), and given per document.
The threads are read every 50 ms meanwhile (``served_tree.ThreadWatch``), so one that ended keeps its name and what it
used until its last reading (DDS's sender stops when nothing is due and starts again at the next commit).
Threads are named by what the sandbox calls them (``nsp_sandbox.thread_names``); the process's first thread,
which runs the event loop, keeps the process's name. ``--until-notified`` counts on until every notification
of those provides has been sent (and the viewer has read them ahead), as ``served_notified.py`` does.

    .venv/bin/python bench/served_threads.py
    .venv/bin/python bench/served_threads.py --provides 3000 --until-notified
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from served_notified import drain
from served_tree import ThreadCpu, ThreadWatch, children_of, cpu_seconds, own_cpu_seconds, provides, served

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def say(message: str) -> None:
    print(f"[threads {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout to serve (default: this one)")
    parser.add_argument("--provides", type=int, default=1500)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--warm-up", type=int, default=400)
    parser.add_argument("--until-notified", action="store_true",
                        help="count on until every notification is sent (and read ahead by the viewer)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the notifications")
    parser.add_argument("--load", type=Path, default=SHARED / "peers" / "load.py")
    parser.add_argument("--packages", type=Path, default=Path(os.environ.get("NSP_SANDBOX_FHIR_PACKAGES",
                                                                             SHARED / "fhir-packages")))
    args = parser.parse_args()
    tree = args.tree.resolve()
    env = {"NSP_SANDBOX_FHIR_PACKAGES": str(args.packages), "NSP_SANDBOX_DDS_ACCESS_CONTROL": "false"}
    with served(tree, env, prefix="nsp-threads-") as server:
        database = server.data / "sandbox.db"
        say(f"{tree}: serving on {server.url}; {args.warm_up} warm-up provides")
        provides(args, server.url, args.warm_up, None)
        drain(database, args.timeout)
        say(f"{args.provides} provides from {args.clients} clients")
        watch, process_before = ThreadWatch(server.pid), cpu_seconds(server.pid)
        children_before = _children_cpu(server.pid)
        result = provides(args, server.url, args.provides, server.pid)
        if args.until_notified:
            say("waiting until every notification is sent")
            drain(database, args.timeout)
        (before, after), process_after = watch.stop(), cpu_seconds(server.pid)
        children = _children_cpu(server.pid) - children_before
        pid = server.pid

    count = args.provides
    # Threads of one name summed (a notifier that ended and started again is one part of the sandbox).
    parts: dict[str, list[float]] = {}
    for tid, now in after.items():
        then = before.get(tid, ThreadCpu(now.name, 0.0, 0.0, 0, 0))
        label = f"{now.name} (event loop)" if tid == pid else now.name
        part = parts.setdefault(label, [0.0, 0.0, 0.0, 0.0, 0.0])
        for index, change in enumerate((now.user - then.user, now.system - then.system, now.voluntary - then.voluntary,
                                        now.involuntary - then.involuntary, 1)):
            part[index] += change
    rows = [(user + system, label, user, system, int(voluntary), int(involuntary), int(threads))
            for label, (user, system, voluntary, involuntary, threads) in parts.items() if user + system > 0]
    # The process counts its ended threads; what they used after their last reading is known only as a whole. Its
    # child processes (the validation process of nsp_sandbox.validation_process) are counted apart.
    if children > 0:
        rows.append((children, "the validation process (a process of its own)", 0.0, 0.0, 0, 0, 0))
    ended = (process_after - process_before) - sum(row[0] for row in rows)
    if ended > 1 / os.sysconf("SC_CLK_TCK"):
        rows.append((ended, "threads that ended meanwhile", 0.0, 0.0, 0, 0, 0))
    rows.sort(reverse=True)
    total = sum(row[0] for row in rows)
    print(f"\n{tree}: {count} provides from {args.clients} clients, "
          f"{result['documents_per_s']} documents/s, load.py's server CPU {result['server_cpu_ms_per_document']} ms "
          f"per document; counted {'until every notification was sent' if args.until_notified else 'over the load'}\n")
    print("| thread | CPU per document | user | system | share | voluntary / involuntary switches per document |")
    print("|---|---|---|---|---|---|")
    for cpu, label, user, system, voluntary, involuntary, threads in rows:
        named = f"{label} ({threads} threads)" if threads > 1 else label
        if not threads:  # what ended, and another process, are known only as a whole
            print(f"| {named} | {cpu / count * 1000:.3f} ms | | | {cpu / total:.1%} | |")
            continue
        print(f"| {named} | {cpu / count * 1000:.3f} ms | {user / count * 1000:.3f} ms | "
              f"{system / count * 1000:.3f} ms | {cpu / total:.1%} | {voluntary / count:.2f} / "
              f"{involuntary / count:.2f} |")
    print(f"| all | {total / count * 1000:.3f} ms | | | | |")
    print("\nA thread that took no CPU meanwhile is left out. 'python' (or 'nsp-sandbox'): threads the sandbox does "
          "not name, such as the thread pool's; the first of them runs the event loop.")


def _children_cpu(pid: int) -> float:
    return sum(own_cpu_seconds(child) for child in children_of(pid))


if __name__ == "__main__":
    main()
