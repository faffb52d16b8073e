"""How constraint results are judged: false fails, empty (nothing to judge) passes."""

from __future__ import annotations

import copy

from nsp_sandbox.conformance.validator import Validator

DR = ("medcom.fhir.dk.xdsdocuments", "example/DocumentReference-16002002-ac41-45de-ad6b-eb02b098e859.json")


def _dr(packages) -> dict:  # type: ignore[no-untyped-def]
    return copy.deepcopy(packages.get(DR[0]).load(DR[1]))


def test_logical_reference_satisfies_ref_1(validator: Validator, packages) -> None:  # type: ignore[no-untyped-def]
    dr = _dr(packages)
    target = {"identifier": {"value": "urn:uuid:6f1c1f0e-4c71-4b36-9c2a-6a4d1c0f2d11"}}
    dr["relatesTo"] = [{"code": "replaces", "target": target}]
    issues = validator.validate(dr)
    assert not [i for i in issues if i.rule == "invariant:ref-1"], issues


def test_local_reference_to_a_missing_contained_resource_fails_ref_1(validator: Validator, packages) -> None:  # type: ignore[no-untyped-def]
    dr = _dr(packages)
    dr["relatesTo"] = [{"code": "replaces", "target": {"reference": "#not-there"}}]
    failed = [i for i in validator.validate(dr) if i.rule == "invariant:ref-1"]
    assert [(i.severity, i.expression) for i in failed] == [("error", "DocumentReference.relatesTo[0].target")]
