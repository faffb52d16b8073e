"""Conformance benchmark: validations per second per core for an HCO message, a ConditionList and
a Notes document (the official examples), in one thread of one process.

For each document it measures, after a warm-up (profiles compiled, value sets expanded):

* the whole validation (``Validator.validate``: base structure with ``fhir.resources`` + profiles),
* the profile layer alone (``Validator(..., base_structure=False)``),
* the base-structure layer alone (``fhir.resources.R4B`` model validation),

each as the median of ``--rounds`` timed rounds of ``--seconds`` seconds, and prints a Markdown
table ready for ``docs/benchmarks.md``.

    .venv/bin/python bench/conformance.py
    .venv/bin/python bench/conformance.py --seconds 3 --rounds 5
    .venv/bin/python bench/conformance.py --tree ../before      # another checkout, for before/after
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# --tree OTHER measures another checkout (a before/after comparison: run both alternately).
TREE = Path(sys.argv[sys.argv.index("--tree") + 1]).resolve() if "--tree" in sys.argv[:-1] else ROOT
sys.path.insert(0, str(TREE))

from nsp_sandbox.conformance.base_structure import base_structure_issues  # noqa: E402
from nsp_sandbox.conformance.packages import PackageRegistry  # noqa: E402
from nsp_sandbox.conformance.validator import Validator  # noqa: E402

PACKAGES = Path(os.environ.get("NSP_SANDBOX_TEST_FHIR_PACKAGES", ROOT.parent / "shared" / "fhir-packages"))
DOCUMENTS = (
    ("HCO message", "medcom.fhir.dk.homecareobservation", "1.2.1", "Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json"),
    ("ConditionList document", "medcom.fhir.dk.conditionlist", "1.0.1",
     "Bundle-23d8ece4-7cff-47c1-9680-571377c6ea74.json"),
    ("Notes document", "medcom.fhir.dk.notes", "1.0.0", "Bundle-ba7d908a-0134-4f28-b5f5-0fcaf088e60b.json"),
)


def per_second(fn: Callable[[], Any], seconds: float, rounds: int, label: str) -> float:
    """Median calls per second over ``rounds`` rounds of about ``seconds`` each (the process's CPU
    time per call is printed beside it: on a loaded machine it moves less than the wall clock)."""
    results = []
    for round_no in range(rounds):
        calls = 0
        start, cpu = time.perf_counter(), time.process_time()
        deadline = start + seconds
        while time.perf_counter() < deadline:
            fn()
            calls += 1
        results.append(calls / (time.perf_counter() - start))
        cpu_ms = (time.process_time() - cpu) / calls * 1000
        print(f"  {label}: round {round_no + 1}/{rounds}: {results[-1]:.0f}/s, CPU {cpu_ms:.2f} ms per call",
              file=sys.stderr, flush=True)
    return statistics.median(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0, help="length of one timed round")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per figure (median reported)")
    parser.add_argument("--packages", type=Path, default=PACKAGES, help="folder of FHIR package .tgz files")
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout to measure (default: this one)")
    args = parser.parse_args()
    print(f"measuring {TREE}", file=sys.stderr)

    started = time.perf_counter()
    registry = PackageRegistry.load([args.packages], None)
    print(f"packages loaded in {time.perf_counter() - started:.2f} s from {args.packages}", file=sys.stderr)
    full = Validator(registry)
    profiles_only = Validator(registry, base_structure=False)

    rows = []
    for label, name, version, filename in DOCUMENTS:
        package = registry.get(name, version)
        if package is None:
            sys.exit(f"{name}#{version} is not loaded from {args.packages}")
        resource = dict(package.examples())[filename]
        size = len((package.root / "example" / filename).read_bytes())
        warm = time.perf_counter()
        errors = [i for i in full.validate(resource) if i.is_error]
        if errors:
            sys.exit(f"{label}: the example has errors: {errors[:3]}")
        profiles_only.validate(resource)
        print(f"{label} ({filename}, {size / 1024:.1f} KB): first validation {time.perf_counter() - warm:.3f} s",
              file=sys.stderr)
        whole = per_second(lambda r=resource: full.validate(r), args.seconds, args.rounds, f"{label} whole")
        profile = per_second(lambda r=resource: profiles_only.validate(r), args.seconds, args.rounds,
                             f"{label} profiles")
        base = per_second(lambda r=resource: base_structure_issues(r), args.seconds, args.rounds,
                          f"{label} base structure")
        rows.append((label, size, whole, profile, base))

    print()
    print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores; one thread; "
          f"median of {args.rounds} rounds of {args.seconds:g} s")
    print()
    print("| document | size | whole validation | profile layer alone | base structure alone |")
    print("|---|---|---|---|---|")
    for label, size, whole, profile, base in rows:
        print(f"| {label} | {size / 1024:.1f} KB | {whole:.0f}/s ({1000 / whole:.1f} ms) "
              f"| {profile:.0f}/s ({1000 / profile:.1f} ms) | {base:.0f}/s ({1000 / base:.1f} ms) |")


if __name__ == "__main__":
    main()
