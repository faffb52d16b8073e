"""Two checkouts served side by side, measured in short alternating bursts of provides: a before/after comparison
that a machine whose speed drifts from minute to minute cannot tip.

Runs of a whole benchmark one after the other (``served_notified.py --against``) meet this machine at different
speeds: on a shared host, its caches and memory are shared with other machines, and the same tree provided 195
and then 80 documents/s a few minutes apart. Here both trees are started once (``nsp-sandbox up``, SQLite in a
folder of their own, access control off, the viewer subscribed, as ``compare.sh`` runs it), warmed up, and then
take turns: ``--provides`` provides from ``--clients`` clients (``../shared/peers/load.py``) to one, then to the
other, in the order A B B A A B …, ``--bursts`` times each. After each burst the benchmark waits until that
sandbox has sent every notification, so that its viewer's reading ahead does not run into the other's burst.
Each pair of neighbouring bursts meets the machine at nearly the same speed; the table gives every burst (with
its provides' latency), and the summary the median of the pairs' ratios.

    .venv/bin/python bench/served_bursts.py --against ../before
    .venv/bin/python bench/served_bursts.py --against ../before --bursts 12 --provides 400
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from served_notified import drain
from served_tree import provides, served

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def say(message: str) -> None:
    print(f"[bursts {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout to serve (default: this one)")
    parser.add_argument("--against", type=Path, required=True, help="the checkout to compare it with")
    parser.add_argument("--bursts", type=int, default=10, help="bursts of each tree")
    parser.add_argument("--provides", type=int, default=300, help="provides per burst")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--warm-up", type=int, default=300)
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the notifications")
    parser.add_argument("--load", type=Path, default=SHARED / "peers" / "load.py")
    parser.add_argument("--packages", type=Path, default=Path(os.environ.get("NSP_SANDBOX_FHIR_PACKAGES",
                                                                             SHARED / "fhir-packages")))
    args = parser.parse_args()
    trees = [args.tree.resolve(), args.against.resolve()]
    env = {"NSP_SANDBOX_FHIR_PACKAGES": str(args.packages), "NSP_SANDBOX_DDS_ACCESS_CONTROL": "false"}
    rows: list[tuple[int, Path, float, float, float, float]] = []
    with ExitStack() as stack:
        servers = [stack.enter_context(served(tree, env, prefix="nsp-bursts-")) for tree in trees]
        for tree, server in zip(trees, servers, strict=True):
            say(f"{tree}: serving on {server.url}; {args.warm_up} warm-up provides")
            provides(args, server.url, args.warm_up, None)
            drain(server.data / "sandbox.db", args.timeout)
        cores = [sorted(os.sched_getaffinity(server.pid)) for server in servers]
        say(f"cores: {trees[0]} {cores[0]}, {trees[1]} {cores[1]}")
        order = [index for burst in range(args.bursts) for index in ((0, 1) if burst % 2 == 0 else (1, 0))]
        for number, index in enumerate(order, 1):
            tree, server = trees[index], servers[index]
            result = provides(args, server.url, args.provides, server.pid)
            drain(server.data / "sandbox.db", args.timeout)
            rows.append((number, tree, float(result["documents_per_s"]), float(result["server_cpu_ms_per_document"]),
                         float(result["provide_p50_ms"]), float(result["provide_p95_ms"])))
            say(f"burst {number}/{len(order)}: {tree}: {rows[-1][2]:.1f} documents/s, {rows[-1][3]:.2f} ms CPU each")

    print(f"\n{args.provides} provides from {args.clients} clients per burst, {args.bursts} bursts of each tree, "
          f"alternating (A B B A …); viewer subscribed; SQLite\n")
    print("| burst | tree | documents/s | CPU per document | provide p50 / p95 |")
    print("|---|---|---|---|---|")
    for number, tree, rate, cpu, p50, p95 in rows:
        print(f"| {number} | {tree} | {rate:.1f} | {cpu:.2f} ms | {p50:.1f} / {p95:.1f} ms |")
    rate_ratios, cpu_ratios = [], []
    for first, second in zip(rows[::2], rows[1::2], strict=True):
        mine, theirs = (first, second) if first[1] == trees[0] else (second, first)
        rate_ratios.append(mine[2] / theirs[2])
        cpu_ratios.append(mine[3] / theirs[3])
    better = sum(r > 1 for r in rate_ratios)
    print(f"\n{trees[0]} against {trees[1]}, the median of {len(rate_ratios)} neighbouring pairs: documents/s "
          f"x{statistics.median(rate_ratios):.3f} (higher in {better} of {len(rate_ratios)} pairs), "
          f"CPU per document x{statistics.median(cpu_ratios):.3f}")


if __name__ == "__main__":
    main()
