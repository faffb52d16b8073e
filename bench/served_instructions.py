"""Instructions per provided document in the whole served process, every thread: ``nsp-sandbox up`` under valgrind's
callgrind, as ``compare.sh`` runs it (SQLite, access control off, the viewer subscribed).

The count starts after ``--warm-up`` provides have been answered, their notifications sent and the server idle, and
ends when ``--provides`` more have been answered, every notification they caused has been sent and the server is idle
again (so the viewer's reading of what it is notified of, which waits for the provides to pause, is counted too, and
the warm-up's is not). Provides per second move by a tenth and more from minute to minute on a
shared machine (``served_bursts.py``); instructions do not depend on its speed, so two trees can be compared in
one sitting whatever else runs. Beside the total, a few parts are read from callgrind's report: the profile walk
of the conformance engine, the JSON reader and writer (CPython's ``_json``, ``jiter``), SQLite, OpenSSL's hashing,
and the event loop (``uvloop``'s run with everything it calls, which includes the request handling before and after the
CPU lane). Parts may overlap (a walk run from the event loop is in both).

What valgrind changes: it runs one thread at a time, about fifty times slower, so the CPU lane's batches and the
viewer's reading ahead fall differently than in a real run; the count moves by a few per cent from run to run
(``--pairs``). Its CPU has no SHA instructions: OpenSSL's software SHA-256 and SHA-1 count about 0.9 and 0.4 M
instructions for the load's 33 KB document, which the machine hashes in 17 µs with them. A part's share of the
instructions is not its share of the time: memory that is not in the cache costs time and no instructions.

    .venv/bin/python bench/served_instructions.py
    .venv/bin/python bench/served_instructions.py --against ../before --pairs 2
    .venv/bin/python bench/served_instructions.py --load bench/varied_load.py
    .venv/bin/python bench/served_instructions.py --no-dsubm
    .venv/bin/python bench/served_instructions.py --keep /tmp/counts   # callgrind's dumps kept, for callgrind_annotate
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from served_notified import drain
from served_tree import alternating, provides, served, table_head, table_row, tree_arguments

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"

#: (label, what to add up in callgrind_annotate's report): ``inclusive`` one function with all it calls,
#: ``self`` every function of a library on its own.
PARTS = [
    ("the conformance engine's profile walks", "inclusive", r"CPyPy_walker___Walk___resource"),
    ("the event loop (uvloop's run and all it calls)", "inclusive", r"src/unix/core\.c:uv_run"),
    ("JSON (CPython's _json, jiter)", "self", r"_json\.cpython|jiter\.cpython"),
    ("SQLite", "self", r"libsqlite3\.so"),
    ("hashing (OpenSSL)", "self", r"libcrypto\.so"),
]
_LINE = re.compile(r"^\s*([\d,]+) \([ \d.]+%\)\s+(\S.*)$")


def say(message: str) -> None:
    print(f"[instructions {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def report(dump: Path, inclusive: bool) -> list[tuple[int, str]]:
    """callgrind_annotate's lines of ``dump``: (instructions, file:function [library])."""
    command = ["callgrind_annotate", "--threshold=100", f"--inclusive={'yes' if inclusive else 'no'}", str(dump)]
    text = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return [(int(m.group(1).replace(",", "")), m.group(2)) for m in map(_LINE.match, text.splitlines()) if m]


def count(dump: Path) -> dict[str, int]:
    """The total and each of :data:`PARTS` in ``dump``."""
    own, everything = report(dump, False), report(dump, True)
    found = {"total": next(n for n, what in own if what.startswith("PROGRAM TOTALS"))}
    for label, kind, pattern in PARTS:
        if kind == "inclusive":  # the outermost call: not the recursive ones, which callgrind names "…'2"
            found[label] = max((n for n, what in everything
                                if re.search(pattern, what) and "'" not in what.split(" [")[0]), default=0)
        else:
            found[label] = sum(n for n, what in own if re.search(pattern, what))
    return found


def run(tree: Path, args: argparse.Namespace) -> dict[str, float]:
    """One tree served under callgrind: instructions per provided document, in all and by part."""
    env = {"NSP_SANDBOX_FHIR_PACKAGES": str(args.packages), "NSP_SANDBOX_DDS_ACCESS_CONTROL": "false",
           "NSP_SANDBOX_VIEW_DSUBM": "false" if args.no_dsubm else "true"}
    with tempfile.TemporaryDirectory(prefix="nsp-served-callgrind-") as folder:
        out = Path(folder) / "callgrind.out"
        under = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]
        with served(tree, env, prefix="nsp-instructions-", under=under) as server:
            database = server.data / "sandbox.db"
            say(f"{tree}: serving under callgrind on {server.url}; {args.warm_up} warm-up provides")
            provides(args, server.url, args.warm_up, None)
            drain(database, args.timeout, server.pid)
            control = ["callgrind_control", "-i"]
            subprocess.run([*control, "on", str(server.pid)], check=True, capture_output=True)
            say(f"{tree}: {args.provides} provides from {args.clients} clients, counted until notified")
            provides(args, server.url, args.provides, None)
            drain(database, args.timeout, server.pid)
            subprocess.run([*control, "off", str(server.pid)], check=True, capture_output=True)
            # callgrind_control answers once callgrind has written the dump
            subprocess.run(["callgrind_control", "-d", str(server.pid)], check=True, capture_output=True)
            dumps = sorted(Path(folder).glob("callgrind.out.*"))
            if not dumps:
                raise SystemExit(f"{tree}: callgrind wrote no counts")
            counted = count(dumps[-1])
            if args.keep is not None:
                args.keep.mkdir(parents=True, exist_ok=True)
                kept = args.keep / f"callgrind.{tree.name}.{time.strftime('%H%M%S')}"
                shutil.copyfile(dumps[-1], kept)
                say(f"{tree}: callgrind's counts kept in {kept}")
    return {label: n / args.provides for label, n in counted.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    tree_arguments(parser, ROOT)
    parser.add_argument("--provides", type=int, default=200, help="provides counted")
    parser.add_argument("--warm-up", type=int, default=100)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for the notifications")
    parser.add_argument("--load", type=Path, default=SHARED / "peers" / "load.py")
    parser.add_argument("--no-dsubm", action="store_true", help="the viewer not subscribed: the provides alone")
    parser.add_argument("--keep", type=Path, help="a folder to keep each run's callgrind dump in")
    parser.add_argument("--packages", type=Path, default=Path(os.environ.get("NSP_SANDBOX_FHIR_PACKAGES",
                                                                             SHARED / "fhir-packages")))
    args = parser.parse_args()
    results: dict[Path, list[dict[str, float]]] = {}
    for tree in alternating(args):
        results.setdefault(tree, []).append(run(tree, args))
        say(f"{tree}: {results[tree][-1]['total'] / 1e6:.2f} M instructions per document")
    labels = ["total", *(label for label, _, _ in PARTS)]
    trees = list(results)
    print(f"\nM instructions per provided document, every thread, until notified ({args.provides} provides from "
          f"{args.clients} clients after {args.warm_up}; {args.load.name}; "
          f"{'the viewer not subscribed' if args.no_dsubm else 'the viewer subscribed'}; the median of "
          f"{len(results[trees[0]])} run(s), the runs in brackets)\n")
    table_head("part", trees)
    for label in labels:
        cells = []
        for tree in trees:
            values = [r[label] / 1e6 for r in results[tree]]
            runs = f" ({', '.join(f'{v:.2f}' for v in values)})" if len(values) > 1 else ""
            cells.append(f"{statistics.median(values):.2f}{runs}")
        table_row("**in all**" if label == "total" else label, cells)


if __name__ == "__main__":
    main()
