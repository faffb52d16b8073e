"""Does leaving the model layer out change any finding? Every document validated twice, compared.

The validator runs the base-structure model layer (``fhir.resources``) only where the profile walk
found an error or :func:`~nsp_sandbox.conformance.base_structure.model_layer_silent` sees something
the model layer alone could refuse. This check validates each document as the engine decides and
again with the model layer always run, and compares the findings. The documents: every example of
every loaded package (in its package and without one), ``--mutations`` random mutations of each (as
``bench/conformance_findings.py`` makes them) and ``--targeted`` mutations aimed at what only the
model layer reads (dates not in the calendar, leap seconds, 32-bit overflows, odd ids, URLs with
spaces, ``_element`` companions of complex elements, …)::

    .venv/bin/python bench/model_layer_check.py                 # --mutations 20 --targeted 40 --seed 7

Exit status 1 when any document differs.
"""

from __future__ import annotations

import argparse
import copy
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from conformance_findings import PACKAGES, _locations, findings, mutate  # noqa: E402

from nsp_sandbox.conformance import validator as validator_module  # noqa: E402
from nsp_sandbox.conformance.packages import FhirPackage, PackageRegistry  # noqa: E402
from nsp_sandbox.conformance.validator import Validator  # noqa: E402

TARGETED: tuple[Any, ...] = (
    "2020-02-30", "2021-02-29T10:00:00+01:00", "2020-01-01T10:00:60Z", "2020-04-31", "23:59:60",
    "2020-01-01T24:00:00Z", 2**31, 2**40, -(2**31) - 1, float("inf"), "a_b", "x" * 65, "Patient/a b",
    "http://a b", "urn:oid:1.2.3", "urn:uuid:zz", "0000-01-01", "2020-1-1", "12:00:00", "1e5", 3.0, "ÆØÅ",
    "a  b", " a", "mailto:x", "http://[::1", "12345", "2020-02-29", "2019-02-29",
)
COMPANIONS: tuple[Any, ...] = ({"extension": [{"url": "http://example.org/x", "valueString": "y"}]}, "x", [None])


def targeted(resource: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A copy of ``resource`` with one value replaced by one of TARGETED, or a companion added."""
    doc = copy.deepcopy(resource)
    locations = _locations(doc, [])
    if not locations:
        return doc
    container, key = rng.choice(locations)
    if rng.random() < 0.15 and isinstance(container, dict):
        container["_" + str(key)] = copy.deepcopy(rng.choice(COMPANIONS))
    else:
        container[key] = rng.choice(TARGETED)
    return doc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mutations", type=int, default=20)
    parser.add_argument("--targeted", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--packages", type=Path, default=PACKAGES)
    args = parser.parse_args()

    registry = PackageRegistry.load([args.packages], None)
    validator = Validator(registry)
    decide = validator_module.model_layer_silent
    rng = random.Random(args.seed)
    counts = {"documents": 0, "differ": 0, "model layer left out": 0}
    started = time.perf_counter()

    def compare(name: str, document: dict[str, Any], package: FhirPackage | None) -> None:
        asked: list[bool] = []

        def spy(resource: dict[str, Any]) -> bool:
            asked.append(decide(resource))
            return asked[-1]

        validator_module.model_layer_silent = spy
        decided = findings(validator.validate(document, package=package))
        validator_module.model_layer_silent = lambda _resource: False
        always = findings(validator.validate(document, package=package))
        validator_module.model_layer_silent = decide
        counts["documents"] += 1
        counts["model layer left out"] += bool(asked and asked[-1])
        if decided != always:
            counts["differ"] += 1
            if counts["differ"] <= 20:
                print(f"DIFFERENT: {name}\n  always:  {always}\n  decided: {decided}")

    packages = list(registry.all_packages())
    for number, package in enumerate(packages, 1):
        for filename, resource in package.examples():
            name = f"{package.id}/{filename}"
            compare(f"{name} in-package", resource, package)
            compare(f"{name} default", resource, None)
            for index in range(args.targeted):
                compare(f"{name} targeted {index}", targeted(resource, rng), package)
            for index in range(args.mutations):
                compare(f"{name} mutation {index}", mutate(resource, rng), package)
        print(f"  {number}/{len(packages)} {package.id}: {counts['documents']} documents so far, "
              f"{counts['differ']} differ", flush=True)
    print(f"{counts['documents']} documents, {counts['differ']} differ, model layer left out on "
          f"{counts['model layer left out']}, {time.perf_counter() - started:.0f} s")
    sys.exit(1 if counts["differ"] else 0)


if __name__ == "__main__":
    main()
