"""Every official example instance validates against its ``meta.profile`` with zero errors.

The examples come from the published packages in ``../shared/fhir-packages`` (read at run time,
never copied). Each is validated in the context of its own package, so unversioned canonicals
resolve to the dependency versions that package was built against — as the IG Publisher does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from nsp_sandbox.conformance.packages import PackageRegistry
from nsp_sandbox.conformance.validator import Validator
from nsp_sandbox.outcome import Issue

PACKAGES = (
    "medcom.fhir.dk.homecareobservation#1.2.1",
    "medcom.fhir.dk.conditionlist#1.0.1",
    "medcom.fhir.dk.notes#1.0.0",
    "medcom.fhir.dk.xdsdocuments#0.1.0-homecareobservation-draft-2",
    "medcom.fhir.dk.acknowledgement#2.0.3",
)

# Official examples we hold to be wrong, with the reason: (package, file) -> (expected rule, why).
# Each listed example must still fail with that rule, so the table cannot go stale.
KNOWN_WRONG: dict[tuple[str, str], tuple[str, str]] = {}

# The example counts the packages' README states; a drift means the packages changed.
EXPECTED_COUNTS = {
    "medcom.fhir.dk.homecareobservation#1.2.1": 59,
    "medcom.fhir.dk.conditionlist#1.0.1": 39,
    "medcom.fhir.dk.notes#1.0.0": 13,
    "medcom.fhir.dk.xdsdocuments#0.1.0-homecareobservation-draft-2": 1,
    "medcom.fhir.dk.acknowledgement#2.0.3": 19,
}


FHIR_PACKAGES_DIR = Path(os.environ.get("NSP_SANDBOX_TEST_FHIR_PACKAGES",
                                        Path(__file__).resolve().parents[2].parent / "shared" / "fhir-packages"))


def _examples() -> list[Any]:
    if not FHIR_PACKAGES_DIR.is_dir():
        return []
    registry = PackageRegistry.load([FHIR_PACKAGES_DIR], None)
    params = []
    for spec in PACKAGES:
        name, _, version = spec.partition("#")
        package = registry.get(name, version)
        if package is None:
            continue
        for filename, _resource in package.examples():
            params.append(pytest.param(spec, filename, id=f"{name.removeprefix('medcom.fhir.dk.')}/{filename}"))
    return params


def _errors(issues: list[Issue]) -> list[str]:
    return [f"{i.severity} {i.expression} [{i.rule}] {i.diagnostics}" for i in issues if i.is_error]


@pytest.mark.parametrize(("spec", "filename"), _examples())
def test_official_example_has_no_errors(validator: Validator, packages: PackageRegistry, spec: str,
                                        filename: str) -> None:
    name, _, version = spec.partition("#")
    package = packages.get(name, version)
    assert package is not None
    resource = dict(package.examples())[filename]
    issues = validator.validate(resource, package=package)
    known = KNOWN_WRONG.get((spec, filename))
    if known is not None:
        rule, why = known
        assert any(i.rule == rule and i.is_error for i in issues), f"listed as wrong ({why}) but no {rule} error"
        return
    assert _errors(issues) == []


def test_every_example_is_found(packages: PackageRegistry) -> None:
    for spec, count in EXPECTED_COUNTS.items():
        name, _, version = spec.partition("#")
        package = packages.get(name, version)
        assert package is not None, f"{spec} is not loaded"
        assert len(list(package.examples())) == count, spec


def test_examples_are_checked_against_their_profiles(validator: Validator, packages: PackageRegistry) -> None:
    """The zero-error result is not vacuous: each example's profile tree was actually walked."""
    package = packages.get("medcom.fhir.dk.homecareobservation", "1.2.1")
    assert package is not None
    bundle = dict(package.examples())["Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json"]
    structure = validator.structures.get(bundle["meta"]["profile"][0], package)
    assert structure is not None and structure.root is not None
    assert structure.version == "1.2.1"
    broken = dict(bundle, type="document")
    issues = validator.validate(broken, package=package)
    assert any(i.rule == "pattern" and i.expression == "Bundle.type" for i in issues)
