"""What a validation asks of the caches, by valgrind's cache simulation: misses per validation in a row, and with
the caches emptied between validations, as a served provide's other work may leave them.

Instructions (``bench/engine_instructions.py``) say how much work a validation is; they do not say how much
memory it reaches. Here callgrind simulates a first-level instruction and data cache and one last level
(``--l1``, ``--last-level``: by default 32 KB each and 1 MB, this processor's L1 and L2 per core) while the
process validates the load's fresh documents (``../shared/peers/load.py``, as ``engine_instructions.py`` does).
Only the validations are counted: a small helper built with ``gcc`` from valgrind's ``callgrind.h`` turns the
count on around each one. With ``--flush-mb`` N, N MB are copied between two validations, uncounted, so that each
validation starts with caches holding none of its memory. The figures are per validation and do not depend on the
machine's load: the instructions are the same run after run, the misses move by up to a tenth between runs (with
where the process's memory lands). valgrind runs the process about a hundred times slower, a minute per kind.

    .venv/bin/python bench/validation_caches.py
    .venv/bin/python bench/validation_caches.py --flush-mb 16
    .venv/bin/python bench/validation_caches.py --tree ../before --kinds hco
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from engine_instructions import KINDS, SHARED, fresh_document, peer_load

ROOT = Path(__file__).resolve().parent.parent

_HELPER = """#include <valgrind/callgrind.h>
void count_start(void) { CALLGRIND_START_INSTRUMENTATION; CALLGRIND_ZERO_STATS; }
void count_toggle(void) { CALLGRIND_TOGGLE_COLLECT; }
void count_dump(void) { CALLGRIND_DUMP_STATS; }
"""

# callgrind's events with --cache-sim=yes, in the order of its output's "events:" line.
_EVENTS = ("Ir", "Dr", "Dw", "I1mr", "D1mr", "D1mw", "ILmr", "DLmr", "DLmw")


def child(tree: Path, kind: str, count: int, warm_up: int, flush_mb: int, packages: Path, helper: Path) -> None:
    """Run under callgrind: ``warm_up`` validations, then ``count`` more, each alone counted."""
    import ctypes

    sys.path.insert(0, str(tree))
    load = peer_load()
    from nsp_sandbox.conformance import compiled
    from nsp_sandbox.conformance.packages import PackageRegistry
    from nsp_sandbox.conformance.validator import Validator
    from sandbox.start_steps import freeze_long_lived

    print(f"engine: {compiled.state}", file=sys.stderr, flush=True)
    counter = ctypes.CDLL(str(helper))
    validator = Validator(PackageRegistry.load([packages], None))
    documents = load.Documents(str(packages))
    cprs = load.make_cprs(1000, random.Random(1))

    validate = validator.validate if kind == "hco" else validator.validate_layers
    for n in range(warm_up):
        validate(fresh_document(documents, cprs, kind, n))
    freeze_long_lived()  # what a served process does before it is ready
    source = bytes(flush_mb << 20)
    target = bytearray(len(source))
    counter.count_start()
    counter.count_toggle()  # collection off: only the validations are counted
    for n in range(warm_up, warm_up + count):
        item = fresh_document(documents, cprs, kind, n)  # parsed just before, as a served provide's is
        if flush_mb:
            target[:] = source  # both buffers pass through the simulated caches
        counter.count_toggle()
        validate(item)
        counter.count_toggle()
    counter.count_dump()


def measure(tree: Path, kind: str, args: argparse.Namespace, helper: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="nsp-caches-") as folder:
        out = Path(folder) / "callgrind.out"
        l1 = f"{args.l1_kb * 1024},8,64"
        command = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--collect-atstart=yes", "--cache-sim=yes",
                   f"--I1={l1}", f"--D1={l1}", f"--LL={args.last_level_kb * 1024},16,64",
                   f"--callgrind-out-file={out}", sys.executable, __file__, "--child", kind, "--tree", str(tree),
                   "--count", str(args.count), "--warm-up", str(args.warm_up), "--flush-mb", str(args.flush_mb),
                   "--packages", str(args.packages), "--helper", str(helper)]
        done = subprocess.run(command, capture_output=True, text=True, check=False,
                              env=dict(os.environ, PYTHONHASHSEED="0"))
        if done.returncode != 0:
            raise SystemExit(f"callgrind run failed:\n{done.stderr[-2000:]}")
        dumps = sorted(Path(folder).glob("callgrind.out.*"))
        if not dumps:
            raise SystemExit(f"no dump in {folder}")
        text = dumps[-1].read_text()
        events = re.search(r"^events: (.*)$", text, re.MULTILINE)
        totals = re.search(r"^(?:summary|totals): ([\d ]+)$", text, re.MULTILINE)
        if events is None or totals is None:
            raise SystemExit(f"no events or totals in {dumps[-1]}")
        found = dict(zip(events.group(1).split(), (int(v) for v in totals.group(1).split()), strict=True))
        state = re.search(r"engine: (.*)", done.stderr)
        print(f"  {tree} {kind}: engine {state.group(1) if state else '?'}", file=sys.stderr, flush=True)
        return {name: found.get(name, 0) / args.count for name in _EVENTS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout to measure (default: this one)")
    parser.add_argument("--count", type=int, default=20, help="validations counted")
    parser.add_argument("--warm-up", type=int, default=10, help="validations before counting")
    parser.add_argument("--flush-mb", type=int, default=0, help="MB copied between validations (0: in a row)")
    parser.add_argument("--l1-kb", type=int, default=32, help="first-level instruction and data caches, KB")
    parser.add_argument("--last-level-kb", type=int, default=1024, help="the last level, KB")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--packages", type=Path, default=Path(os.environ.get("NSP_SANDBOX_FHIR_PACKAGES",
                                                                             SHARED / "fhir-packages")))
    parser.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--helper", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.tree.resolve(), args.child, args.count, args.warm_up, args.flush_mb, args.packages, args.helper)
        return
    if shutil.which("valgrind") is None or shutil.which("gcc") is None:
        raise SystemExit("valgrind and gcc are needed (Debian: apt-get install valgrind gcc)")
    with tempfile.TemporaryDirectory(prefix="nsp-caches-helper-") as folder:
        helper = Path(folder) / "count.so"
        (Path(folder) / "count.c").write_text(_HELPER)
        built = subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", str(helper), str(Path(folder) / "count.c")],
                               capture_output=True, text=True, check=False)
        if built.returncode != 0:
            raise SystemExit(f"the helper does not build (valgrind's headers missing?):\n{built.stderr[-1000:]}")
        between = f"{args.flush_mb} MB copied between validations" if args.flush_mb else "in a row"
        print(f"| {args.tree.resolve()}, {between} (per validation: {args.count} after {args.warm_up}; "
              f"L1 {args.l1_kb} KB, last level {args.last_level_kb} KB) | instructions | L1 instruction misses "
              "| L1 data misses | last-level misses: instructions | data reads | data writes |")
        print("|---|---|---|---|---|---|---|")
        for kind in args.kinds:
            found = measure(args.tree.resolve(), kind, args, helper)
            print(f"| {kind} | {found['Ir'] / 1e6:.2f} M | {found['I1mr']:,.0f} | {found['D1mr'] + found['D1mw']:,.0f} "
                  f"| {found['ILmr']:,.0f} | {found['DLmr']:,.0f} | {found['DLmw']:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
