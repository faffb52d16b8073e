"""Validation of documents not seen before, one thread, CPU time per document: the HCO message, then the
DocumentReference and the SubmissionSet List of the same ITI-65 Bundles, as a served provide validates them.

The documents are ``../shared/peers/load.py``'s (the official HCO message with a fresh Bundle.id, MessageHeader.id
and CPR; its DocumentReference and List), so the narratives are parsed every time and nothing is answered from the
findings kept by content. ``--warm-up`` documents first (profiles compiled, value sets expanded), then
``freeze_long_lived()`` as a served process does, then ``--count`` more are timed (``time.thread_time``). With
``--against`` the two trees run alternately, each in a process of its own on its own install's interpreter,
``--pairs`` times; each pair uses its own CPRs.

    .venv/bin/python bench/fresh_validation.py
    .venv/bin/python bench/fresh_validation.py --against ../before --pairs 3
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

from engine_instructions import SHARED, peer_load
from served_tree import interpreter_of

ROOT = Path(__file__).resolve().parent.parent


def child(tree: Path, seed: int, count: int, warm_up: int, packages: Path) -> None:
    sys.path.insert(0, str(tree))
    load = peer_load()
    from nsp_sandbox.conformance import compiled
    from nsp_sandbox.conformance.packages import PackageRegistry
    from nsp_sandbox.conformance.validator import Validator
    from sandbox.start_steps import freeze_long_lived

    validator = Validator(PackageRegistry.load([packages], None))
    documents = load.Documents(str(packages))
    cprs = load.make_cprs(1000, random.Random(seed))
    messages, bundles = [], []
    for n in range(warm_up + count):
        messages.append(json.loads(documents.document(cprs[n % len(cprs)])[0]))
        bundles.append(json.loads(documents.bundle(cprs[n % len(cprs)])[0]))
    for message, bundle in zip(messages[:warm_up], bundles[:warm_up], strict=True):
        validator.validate(message)
        validator.validate_layers(bundle["entry"][1]["resource"])
        validator.validate_layers(bundle["entry"][0]["resource"])
    freeze_long_lived()
    started = time.thread_time()
    for message in messages[warm_up:]:
        validator.validate(message)
    middle = time.thread_time()
    for bundle in bundles[warm_up:]:
        validator.validate_layers(bundle["entry"][1]["resource"])
        validator.validate_layers(bundle["entry"][0]["resource"])
    ended = time.thread_time()
    print(json.dumps({"engine": compiled.state, "hco_ms": (middle - started) / count * 1e3,
                      "docref_list_ms": (ended - middle) / count * 1e3}))


def measure(tree: Path, seed: int, args: argparse.Namespace) -> dict[str, float]:
    command = [interpreter_of(tree), __file__, "--child", str(tree), "--seed", str(seed), "--count", str(args.count),
               "--warm-up", str(args.warm_up), "--packages", str(args.packages)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=tree)
    if done.returncode != 0:
        raise SystemExit(f"{tree}: {done.stderr[-2000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"  {tree} (pair {seed}): HCO {result['hco_ms']:.3f} ms, DocumentReference and List "
          f"{result['docref_list_ms']:.3f} ms ({result['engine']})", file=sys.stderr, flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", type=Path, help="another checkout, run alternately with this one")
    parser.add_argument("--pairs", type=int, default=1)
    parser.add_argument("--count", type=int, default=400, help="documents timed")
    parser.add_argument("--warm-up", type=int, default=100, help="documents validated before timing")
    parser.add_argument("--packages", type=Path, default=Path(os.environ.get("NSP_SANDBOX_FHIR_PACKAGES",
                                                                             SHARED / "fhir-packages")))
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child.resolve(), args.seed, args.count, args.warm_up, args.packages)
        return
    trees = [ROOT] + ([args.against.resolve()] if args.against else [])
    results: dict[Path, list[dict[str, float]]] = {tree: [] for tree in trees}
    for pair in range(1, args.pairs + 1):
        for tree in trees:
            results[tree].append(measure(tree, pair, args))
    print(f"| ms of CPU per document, one thread ({args.count} fresh after {args.warm_up}) | "
          + " | ".join(str(t) for t in trees) + " |")
    print("|---|" + "---|" * len(trees))
    for key, label in (("hco_ms", "the HCO message"), ("docref_list_ms", "its DocumentReference and List")):
        cells = []
        for tree in trees:
            values = [r[key] for r in results[tree]]
            cells.append(f"{sum(values) / len(values):.3f} (" + ", ".join(f"{v:.3f}" for v in values) + ")")
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
