"""The snapshot walk on small hand-made resources: shape, cardinality, types, references, profiles."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from nsp_sandbox.conformance.base_structure import base_structure_issues, fhirpath_of
from nsp_sandbox.conformance.packages import PackageRegistry
from nsp_sandbox.conformance.validator import Validator
from nsp_sandbox.outcome import Issue, operation_outcome

CORE = "http://hl7.org/fhir/StructureDefinition/"


def find(issues: list[Issue], expression: str, rule: str) -> Issue | None:
    return next((i for i in issues if i.expression == expression and i.rule == rule), None)


def observation(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"resourceType": "Observation", "id": "o1", "status": "final",
                            "code": {"text": "Puls"}}
    base.update(extra)
    return base


def test_base_resource_without_profile_is_clean(validator: Validator) -> None:
    issues = validator.validate(observation())
    assert [i for i in issues if i.is_error] == []


def test_missing_base_element_names_the_base_definition(validator: Validator) -> None:
    resource = observation()
    del resource["status"]
    issue = find(validator.validate(resource), "Observation.status", "cardinality")
    assert issue is not None and issue.severity == "error"
    assert issue.source == f"{CORE}Observation#Observation.status"


def test_json_shape_errors(validator: Validator) -> None:
    issues = validator.validate(observation(
        note={"text": "not an array"}, category=[], colour="red", issued=["2020-01-01T00:00:00Z"]))
    assert find(issues, "Observation.note", "type") is not None
    assert find(issues, "Observation.category", "type") is not None
    assert find(issues, "Observation.colour", "unknown-element") is not None
    assert find(issues, "Observation.issued", "type") is not None


def test_primitive_formats(validator: Validator) -> None:
    issues = validator.validate(observation(
        effectiveDateTime="2020-02-30T25:00:00Z", valueBoolean="yes",
        subject={"reference": ""}))
    assert find(issues, "Observation.effective.ofType(dateTime)", "type") is not None
    assert find(issues, "Observation.value.ofType(boolean)", "type") is not None
    assert find(issues, "Observation.subject.reference", "type") is not None


def test_only_one_choice_type(validator: Validator) -> None:
    issues = validator.validate(observation(valueString="a", valueBoolean=True))
    assert find(issues, "Observation.value", "type") is not None


def test_empty_element_breaks_ele_1(validator: Validator) -> None:
    issues = validator.validate(observation(subject={}))
    assert find(issues, "Observation.subject", "invariant:ele-1") is not None


def test_known_extension_is_validated_against_its_definition(validator: Validator) -> None:
    ext = {"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason"}
    issues = validator.validate(observation(extension=[ext]))
    assert find(issues, "Observation.extension[0]", "invariant:ext-1") is not None
    assert find(issues, "Observation.extension[0].value", "cardinality") is not None


def test_extension_of_an_unavailable_package_is_not_checked(validator: Validator, packages: PackageRegistry) -> None:
    url = "http://hl7.org/fhir/StructureDefinition/artifact-versionAlgorithm"
    assert packages.structure_definition(url) is None
    issues = validator.validate(observation(extension=[{"url": url, "valueString": "semver"}]))
    not_checked = find(issues, "Observation.extension[0]", "extension-not-checked")
    assert not_checked is not None and not_checked.severity == "warning"
    assert not any(i.is_error for i in issues)


def test_modifier_extension_must_be_known(validator: Validator) -> None:
    ext = {"url": "http://example.org/modifier", "valueBoolean": True}
    issue = find(validator.validate(observation(modifierExtension=[ext])), "Observation.modifierExtension[0]",
                 "extension-unknown")
    assert issue is not None and issue.is_error


def test_required_binding_on_code(validator: Validator) -> None:
    issue = find(validator.validate(observation(status="done")), "Observation.status", "binding")
    assert issue is not None and issue.severity == "error"
    assert "observation-status" in issue.diagnostics


def test_contained_reference_resolution(validator: Validator) -> None:
    patient = {"resourceType": "Patient", "id": "p", "name": [{"family": "Elmer"}]}
    ok = observation(contained=[patient], subject={"reference": "#p"})
    assert [i for i in validator.validate(ok) if i.is_error] == []
    broken = observation(contained=[patient], subject={"reference": "#nobody"})
    issue = find(validator.validate(broken), "Observation.subject.reference", "reference-unresolved")
    assert issue is not None and issue.is_error


def test_unreferenced_contained_resource_breaks_dom_3(validator: Validator) -> None:
    patient = {"resourceType": "Patient", "id": "p", "name": [{"family": "Elmer"}]}
    referenced = validator.validate(observation(contained=[patient], subject={"reference": "#p"}))
    assert find(referenced, "Observation", "invariant:dom-3") is None
    orphan = validator.validate(observation(contained=[patient]))
    issue = find(orphan, "Observation", "invariant:dom-3")
    assert issue is not None and issue.severity == "error"


def test_contained_resource_is_walked(validator: Validator) -> None:
    patient = {"resourceType": "Patient", "id": "p", "gender": "unknown-value"}
    issues = validator.validate(observation(contained=[patient], subject={"reference": "#p"}))
    assert find(issues, "Observation.contained[0].gender", "binding") is not None


def test_bundle_relative_reference_against_restful_full_url(validator: Validator) -> None:
    base = "http://example.org/fhir"
    bundle = {
        "resourceType": "Bundle", "type": "collection",
        "entry": [
            {"fullUrl": f"{base}/Observation/o1", "resource": observation(subject={"reference": "Patient/p"})},
            {"fullUrl": f"{base}/Patient/p", "resource": {"resourceType": "Patient", "id": "p"}},
        ],
    }
    issues = validator.validate(bundle)
    assert not any(i.rule == "reference-unresolved" for i in issues)
    broken = copy.deepcopy(bundle)
    broken["entry"][0]["resource"]["subject"]["reference"] = "Patient/q"
    issue = find(validator.validate(broken), "Bundle.entry[0].resource.subject.reference", "reference-unresolved")
    assert issue is not None and issue.severity == "warning"  # not 'bundled', not a document


def test_unknown_profile_is_not_checked_not_passed(validator: Validator) -> None:
    resource = observation(meta={"profile": ["http://example.org/StructureDefinition/nothing"]})
    issue = find(validator.validate(resource), "Observation.meta.profile[0]", "profile")
    assert issue is not None and issue.severity == "warning" and "not checked" in issue.diagnostics


def test_explicit_profile_of_another_type(validator: Validator) -> None:
    issues = validator.validate(observation(), profile=f"{CORE}Patient")
    assert any(i.rule == "profile" and i.is_error for i in issues)


def test_base_structure_layer_maps_locations() -> None:
    resource = observation(effectiveDateTime="2020-13-01", code={"coding": [{"code": 5}]})
    issues = base_structure_issues(resource)
    expressions = {i.expression for i in issues}
    assert "Observation.effective.ofType(dateTime)" in expressions
    assert "Observation.code.coding[0].code" in expressions
    bundle = {"resourceType": "Bundle", "entry": [{"resource": observation()}]}
    assert fhirpath_of(bundle, ("entry", 0, "resource", "valueQuantity", "value")) == \
        "Bundle.entry[0].resource.value.ofType(Quantity).value"


def test_issues_become_an_operation_outcome(validator: Validator) -> None:
    resource = observation()
    del resource["status"]
    outcome = operation_outcome(validator.validate(resource))
    assert outcome["resourceType"] == "OperationOutcome"
    issue = next(i for i in outcome["issue"] if i.get("expression") == ["Observation.status"])
    assert issue["severity"] == "error"
    assert issue["extension"][0]["valueString"] == f"{CORE}Observation#Observation.status"
    assert {"system": "urn:nsp-sandbox:rule", "code": "cardinality"} in issue["details"]["coding"]


def test_validator_is_reused_without_state(packages: PackageRegistry) -> None:
    validator = Validator(packages)
    resource = observation()
    del resource["status"]
    first = validator.validate(resource)
    second = validator.validate(resource)
    assert first == second and any(i.rule == "cardinality" for i in first)
    assert [i for i in validator.validate(observation()) if i.is_error] == []


JUNK: list[Any] = [None, 1, -3, 2.5, True, "", " ", "x", [], {}, [None], [1, "a"], {"a": 1}, {"resourceType": 5},
                   {"resourceType": "Nope"}, {"reference": 5}, [{"url": 3}]]


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            out += _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out += _paths(child, (*path, index))
    return out


def test_malformed_input_never_breaks_the_validator(validator: Validator, packages: PackageRegistry) -> None:
    """Random type confusion anywhere in the example Bundles: always issues, never an exception."""
    import random

    rng = random.Random(20240611)
    checked = 0
    for name in ("medcom.fhir.dk.homecareobservation", "medcom.fhir.dk.conditionlist", "medcom.fhir.dk.notes",
                 "medcom.fhir.dk.acknowledgement"):
        package = packages.get(name)
        assert package is not None
        for _filename, resource in package.examples():
            if resource["resourceType"] != "Bundle":
                continue
            paths = _paths(resource)[1:]
            for _ in range(25):
                mutant = copy.deepcopy(resource)
                path = rng.choice(paths)
                parent: Any = mutant
                for step in path[:-1]:
                    parent = parent[step]
                parent[path[-1]] = copy.deepcopy(rng.choice(JUNK))
                issues = validator.validate(mutant)
                assert not any(i.rule == "validator-error" for i in issues), (path, parent[path[-1]])
                checked += 1
    assert checked > 400


def test_base_structure_findings_given_are_used_and_not_found_again(validator: Validator) -> None:
    resource = observation(effectiveDateTime="2020-02-30")  # the R4 regex allows it, the calendar does not
    found = base_structure_issues(resource)
    assert [i.expression for i in found if i.rule == "base-structure"] == ["Observation.effective.ofType(dateTime)"]
    whole = validator.validate(resource)
    assert validator.validate(resource, structure=found) == whole
    assert any(i.rule == "base-structure" for i in whole)
    assert not any(i.rule == "base-structure" for i in validator.validate(resource, structure=[]))


def _nested(kind: str, depth: int) -> dict[str, Any]:
    if kind == "extension":
        extension: dict[str, Any] = {"url": "http://example.org/x", "valueString": "a"}
        for _ in range(depth):
            extension = {"url": "http://example.org/x", "extension": [extension]}
        return {"resourceType": "Patient", "extension": [extension]}
    resource: dict[str, Any] = {"resourceType": "Patient"}
    for _ in range(depth):
        resource = {"resourceType": "Patient", "contained": [resource]}
    return resource


@pytest.mark.parametrize("kind", ["extension", "contained"])
@pytest.mark.parametrize("depth", [150, 5000])
def test_a_resource_nested_too_deeply_is_a_finding_never_a_crash(validator: Validator, kind: str, depth: int) -> None:
    """Deeper than any JSON body may nest (``strict_json.MAX_DEPTH``): the validator's limit, compiled or not
    (compiled, the walk's calls are not counted by Python's recursion limit)."""
    issues = validator.validate(_nested(kind, depth))
    assert [i.rule for i in issues] == ["validator-limit"]


def test_a_resource_nested_as_deep_as_a_body_may_be_is_validated(validator: Validator) -> None:
    issues = validator.validate(_nested("extension", 40))  # 81 JSON levels: objects and arrays
    assert "validator-limit" not in {i.rule for i in issues}
    assert any(i.rule == "extension-unknown" for i in issues)
