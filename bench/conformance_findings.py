"""Findings of the conformance engine on every official example, and on mutations of them, as JSON.

A change that must not alter any validation result (a speed-up) is checked by dumping the findings
before and after and comparing the two files::

    .venv/bin/python bench/conformance_findings.py --out /tmp/before.json
    # ... change the engine ...
    .venv/bin/python bench/conformance_findings.py --out /tmp/after.json --compare /tmp/before.json

Every example of every loaded package is validated in the context of its own package and without
one; each is then mutated ``--mutations`` times (seeded, so both runs see the same documents): a
value replaced by one of another JSON type, an empty or malformed string, a dropped or added key, a
doubled or emptied array, a code changed. Each finding is kept as (severity, code, expression, rule,
diagnostics, source).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nsp_sandbox.conformance.packages import PackageRegistry  # noqa: E402
from nsp_sandbox.conformance.validator import Validator  # noqa: E402
from nsp_sandbox.outcome import Issue  # noqa: E402

PACKAGES = Path(os.environ.get("NSP_SANDBOX_TEST_FHIR_PACKAGES", ROOT.parent / "shared" / "fhir-packages"))

REPLACEMENTS: tuple[Any, ...] = (
    None, "", " ", "xyz", "2020-13-45", "2020-01-01", "2020-01-01T10:00:00", "\x01", 0, -1, 1.5, True,
    {}, [], {"foo": "bar"}, ["a"], [{}], {"resourceType": "Patient"},
)


def findings(issues: list[Issue]) -> list[list[Any]]:
    return [[i.severity, i.code, i.expression, i.rule, i.diagnostics, i.source] for i in issues]


def _locations(node: Any, out: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Every (container, key) pair in ``node``, depth first."""
    if isinstance(node, dict):
        for key, value in node.items():
            out.append((node, key))
            _locations(value, out)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out.append((node, index))
            _locations(value, out)
    return out


def mutate(resource: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A copy of ``resource`` with one random change."""
    doc = copy.deepcopy(resource)
    locations = _locations(doc, [])
    if not locations:
        return doc
    container, key = rng.choice(locations)
    value = container[key]
    action = rng.randrange(7)
    if action == 0 and isinstance(container, dict):
        del container[key]
    elif action == 0 and isinstance(container, list):
        container.pop(key)
    elif action == 1 and isinstance(container, dict):
        container[rng.choice(("foo", "_" + str(key), str(key) + "X", "extension", "id", "modifierExtension"))] = (
            rng.choice(REPLACEMENTS))
    elif action == 2 and isinstance(value, list):
        value.append(copy.deepcopy(value[0]) if value else "x")
    elif action == 3 and isinstance(value, str):
        container[key] = rng.choice((value + "x", value.upper(), value[:-1], value + " ", "urn:uuid:" + value,
                                     value.replace("-", ""), value + "+01:00"))
    elif action == 4 and isinstance(value, dict):
        container[key] = [value]
    elif action == 5 and isinstance(value, list) and value:
        container[key] = value[0]
    else:
        container[key] = copy.deepcopy(rng.choice(REPLACEMENTS))
    return doc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="where to write the findings (JSON)")
    parser.add_argument("--compare", type=Path, help="findings of an earlier run to compare with")
    parser.add_argument("--mutations", type=int, default=30, help="mutated documents per example")
    parser.add_argument("--packages", type=Path, default=PACKAGES, help="folder of FHIR package .tgz files")
    args = parser.parse_args()

    registry = PackageRegistry.load([args.packages], None)
    validator = Validator(registry)
    rng = random.Random(20261126)
    results: dict[str, Any] = {}
    started = time.perf_counter()
    for package in registry.all_packages():
        for filename, resource in package.examples():
            name = f"{package.id}/{filename}"
            results[f"{name} in-package"] = findings(validator.validate(resource, package=package))
            results[f"{name} default"] = findings(validator.validate(resource))
            for number in range(args.mutations):
                mutated = mutate(resource, rng)
                results[f"{name} mutation {number}"] = findings(validator.validate(mutated, package=package))
    args.out.write_text(json.dumps(results, indent=0, sort_keys=True))
    total = sum(len(v) for v in results.values())
    print(f"{len(results)} documents, {total} findings in {time.perf_counter() - started:.1f} s -> {args.out}")
    if args.compare is None:
        return
    before = json.loads(args.compare.read_text())
    after = json.loads(args.out.read_text())
    differing = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    for key in differing[:20]:
        print(f"DIFFERENT: {key}\n  before: {before.get(key)}\n  after:  {after.get(key)}")
    print(f"{len(differing)} of {len(before.keys() | after.keys())} documents differ")
    sys.exit(1 if differing else 0)


if __name__ == "__main__":
    main()
