"""Instructions per validation, counted by valgrind's callgrind: a measure of the conformance engine that
the machine's load does not move (the same count run after run), for a before/after of a change to it.

Each validation is of a document not seen before, as a served provide's is: the official HCO message with a
fresh Bundle.id, MessageHeader.id and CPR (``../shared/peers/load.py``'s documents), so the narratives are
parsed each time, and the DocumentReference and SubmissionSet List of the same load. After ``--warm-up``
validations (profiles compiled, value sets expanded) and ``freeze_long_lived()`` (what a served process does
before it is ready), callgrind counts ``--count`` more; the figure is their instructions divided by their number
(within 1 % from one run to the next at the same ``--count``; compare trees at one count). valgrind runs
the process some fifty times slower: a kind takes about a minute.

    .venv/bin/python bench/engine_instructions.py
    .venv/bin/python bench/engine_instructions.py --tree ../before      # another checkout (built in place)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
KINDS = ("hco", "docref", "list")


def peer_load() -> Any:
    """``../shared/peers/load.py`` as a module: its ``Documents`` make the load's fresh documents."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("peers_load", SHARED / "peers" / "load.py")
    assert spec and spec.loader
    load = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(load)
    return load


def fresh_document(documents: Any, cprs: list[str], kind: str, n: int) -> Any:
    """The ``n``th fresh document of ``kind``: the HCO message, or its ITI-65 Bundle's DocumentReference or
    SubmissionSet List (``documents``: the ``Documents`` of :func:`peer_load`)."""
    if kind == "hco":
        return json.loads(documents.document(cprs[n])[0])
    bundle = json.loads(documents.bundle(cprs[n])[0])
    return bundle["entry"][1 if kind == "docref" else 0]["resource"]


def child(tree: Path, kind: str, count: int, warm_up: int, packages: Path) -> None:
    """Run under callgrind: validate ``warm_up`` documents, then ``count`` more with instrumentation on."""
    sys.path.insert(0, str(tree))
    load = peer_load()
    from nsp_sandbox.conformance import compiled
    from nsp_sandbox.conformance.packages import PackageRegistry
    from nsp_sandbox.conformance.validator import Validator
    from sandbox.start_steps import freeze_long_lived

    print(f"engine: {compiled.state}", file=sys.stderr, flush=True)
    validator = Validator(PackageRegistry.load([packages], None))
    documents = load.Documents(str(packages))
    cprs = load.make_cprs(1000, random.Random(1))
    items = [fresh_document(documents, cprs, kind, n) for n in range(warm_up + count)]
    validate = validator.validate if kind == "hco" else validator.validate_layers
    for item in items[:warm_up]:
        validate(item)
    freeze_long_lived()  # what a served process does before it is ready: a full collection skips the packages
    control = ["callgrind_control", "-i"]
    subprocess.run([*control, "on", str(os.getpid())], check=True, capture_output=True)
    for item in items[warm_up:]:
        validate(item)
    subprocess.run([*control, "off", str(os.getpid())], check=True, capture_output=True)


def measure(tree: Path, kind: str, args: argparse.Namespace) -> float:
    with tempfile.TemporaryDirectory(prefix="nsp-callgrind-") as folder:
        out = Path(folder) / "callgrind.out"
        command = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
                   sys.executable, __file__, "--child", kind, "--tree", str(tree), "--count", str(args.count),
                   "--warm-up", str(args.warm_up), "--packages", str(args.packages)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"callgrind run failed:\n{done.stderr[-2000:]}")
        state = re.search(r"engine: (.*)", done.stderr)
        totals = re.search(r"^totals: (\d+)", out.read_text(), re.MULTILINE)
        if totals is None:
            raise SystemExit(f"no totals in {out}")
        print(f"  {tree} {kind}: engine {state.group(1) if state else '?'}", file=sys.stderr, flush=True)
        return int(totals.group(1)) / args.count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout to measure (default: this one)")
    parser.add_argument("--count", type=int, default=20, help="validations counted")
    parser.add_argument("--warm-up", type=int, default=10, help="validations before counting")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--packages", type=Path, default=Path(os.environ.get("NSP_SANDBOX_FHIR_PACKAGES",
                                                                             SHARED / "fhir-packages")))
    parser.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.tree.resolve(), args.child, args.count, args.warm_up, args.packages)
        return
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise SystemExit("valgrind is needed (Debian: apt-get install valgrind)")
    print(f"| {args.tree.resolve()} | instructions per validation ({args.count}, after {args.warm_up}) |")
    print("|---|---|")
    for kind in args.kinds:
        print(f"| {kind} | {measure(args.tree.resolve(), kind, args) / 1e6:.2f} M |", flush=True)


if __name__ == "__main__":
    main()
