"""Validation of documents not seen before, one thread, CPU time per document: the HCO message, then the
DocumentReference and the SubmissionSet List of the same ITI-65 Bundles, as a served provide validates them.

The documents are ``../shared/peers/load.py``'s (the official HCO message with a fresh Bundle.id, MessageHeader.id
and CPR; its DocumentReference and List), so the narratives are parsed every time and nothing is answered from the
findings kept by content. ``--warm-up`` documents first (profiles compiled, value sets expanded), then
``freeze_long_lived()`` as a served process does, then ``--count`` more are timed (``time.thread_time``). With
``--against`` the two trees run alternately, each in a process of its own on its own install's interpreter,
``--pairs`` times; each pair uses its own CPRs.

The load's messages differ from each other only in two ids and the CPR, where a sender's differ in every
resource's id (and so in every reference and narrative anchor), in the measured values and in the times.
``--varied`` runs each tree a second time on such messages (``engine_instructions.varied``: every UUID
replaced by a fresh one throughout, each Observation's value and time, the report's and the provenance's times
new, the narratives' text changed to match), so that what the engine keeps from one message for the next is measured
on traffic that does not repeat itself. Every varied message must validate without an error, or the run stops.

    .venv/bin/python bench/fresh_validation.py
    .venv/bin/python bench/fresh_validation.py --against ../before --pairs 3
    .venv/bin/python bench/fresh_validation.py --varied --pairs 3
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
from typing import Any

from engine_instructions import SHARED, peer_load, varied
from served_tree import interpreter_of, table_head, table_row

ROOT = Path(__file__).resolve().parent.parent


def child(tree: Path, seed: int, count: int, warm_up: int, packages: Path, vary: bool) -> None:
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
    rng = random.Random(seed)
    for n in range(warm_up + count):
        text = documents.document(cprs[n % len(cprs)])[0]
        messages.append(varied(text.decode() if isinstance(text, bytes) else text, rng) if vary else json.loads(text))
        bundles.append(json.loads(documents.bundle(cprs[n % len(cprs)])[0]))
    if vary:
        for message in messages[::50]:
            errors = [i for i in validator.validate(message) if i.is_error]
            if errors:
                raise SystemExit(f"a varied message does not validate: {errors[0]}")
        validator = Validator(PackageRegistry.load([packages], None))  # what it kept of the messages checked, gone
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
    print(json.dumps({"engine": compiled.state, "varied": vary, "hco_ms": (middle - started) / count * 1e3,
                      "docref_list_ms": (ended - middle) / count * 1e3}))


def measure(tree: Path, seed: int, vary: bool, args: argparse.Namespace) -> dict[str, Any]:
    command = [interpreter_of(tree), __file__, "--child", str(tree), "--seed", str(seed), "--count", str(args.count),
               "--warm-up", str(args.warm_up), "--packages", str(args.packages)] + (["--varied"] if vary else [])
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=tree)
    if done.returncode != 0:
        raise SystemExit(f"{tree}: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"  {tree} (pair {seed}{', varied' if vary else ''}): HCO {result['hco_ms']:.3f} ms, DocumentReference and "
          f"List {result['docref_list_ms']:.3f} ms ({result['engine']})", file=sys.stderr, flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", type=Path, help="another checkout, run alternately with this one")
    parser.add_argument("--pairs", type=int, default=1)
    parser.add_argument("--count", type=int, default=400, help="documents timed")
    parser.add_argument("--warm-up", type=int, default=100, help="documents validated before timing")
    parser.add_argument("--varied", action="store_true",
                        help="each tree also on messages that differ in every id, value and time (see above)")
    parser.add_argument("--packages", type=Path, default=Path(os.environ.get("NSP_SANDBOX_FHIR_PACKAGES",
                                                                             SHARED / "fhir-packages")))
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child.resolve(), args.seed, args.count, args.warm_up, args.packages, args.varied)
        return
    trees = [ROOT] + ([args.against.resolve()] if args.against else [])
    columns = [(tree, vary) for tree in trees for vary in ([False, True] if args.varied else [False])]
    results: dict[tuple[Path, bool], list[dict[str, Any]]] = {column: [] for column in columns}
    for pair in range(1, args.pairs + 1):
        for tree, vary in columns:
            results[tree, vary].append(measure(tree, pair, vary, args))
    table_head(f"ms of CPU per document, one thread ({args.count} fresh after {args.warm_up})",
               [f"{tree}{', varied' if vary else ''}" for tree, vary in columns])
    for key, label in (("hco_ms", "the HCO message"), ("docref_list_ms", "its DocumentReference and List")):
        cells = []
        for column in columns:
            values = [r[key] for r in results[column]]
            cells.append(f"{sum(values) / len(values):.3f} (" + ", ".join(f"{v:.3f}" for v in values) + ")")
        table_row(label, cells)


if __name__ == "__main__":
    main()
