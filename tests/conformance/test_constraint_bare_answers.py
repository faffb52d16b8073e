"""A constraint whose value depends only on some children of its focus is answered once per type for a focus
without them. A choice element is one of those children under any of its typed keys (``valueQuantity``,
``_valueString``): a focus with such a key is judged itself, whatever was judged before it."""

from __future__ import annotations

from typing import Any

import pytest

from nsp_sandbox.conformance.invariants import InvariantEngine
from nsp_sandbox.conformance.packages import PackageRegistry
from nsp_sandbox.conformance.validator import Validator

WITH_VALUE = {"resourceType": "Observation", "status": "final", "valueQuantity": {"value": 1}}
WITH_EXTENDED_VALUE = {"resourceType": "Observation", "status": "final",
                       "_valueString": {"extension": [{"url": "http://example.org/x", "valueCode": "a"}]}}
WITHOUT_VALUE = {"resourceType": "Observation", "status": "final"}


@pytest.mark.parametrize("order", [(WITH_VALUE, WITHOUT_VALUE), (WITHOUT_VALUE, WITH_VALUE),
                                   (WITH_EXTENDED_VALUE, WITHOUT_VALUE), (WITHOUT_VALUE, WITH_EXTENDED_VALUE)])
def test_a_choice_element_under_its_typed_key_is_read_in_any_order(order: tuple[dict[str, Any], ...]) -> None:
    engine = InvariantEngine()
    runner = engine.runner("value.exists()")
    assert not isinstance(runner, str)
    answers = [runner(focus, "Observation", focus, focus) for focus in order]
    assert answers == [[focus is not WITHOUT_VALUE] for focus in order]


def _family_history(**choices: Any) -> dict[str, Any]:
    return {"resourceType": "FamilyMemberHistory", "id": "f", "status": "completed",
            "patient": {"reference": "Patient/p"},
            "relationship": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                                         "code": "FTH"}]},
            **choices}


@pytest.mark.parametrize("first_compliant", [True, False])
def test_base_r4_fhs_1_is_judged_per_resource_whichever_came_first(packages: PackageRegistry,
                                                                   first_compliant: bool) -> None:
    """fhs-1 (``age.empty() or born.empty()``): both age[x] and born[x] given is an error, neither is not."""
    validator = Validator(packages)  # its own: the answers kept are the engine's
    neither = _family_history()
    both = _family_history(ageAge={"value": 60, "system": "http://unitsofmeasure.org", "code": "a"},
                           bornDate="1950")
    order = [neither, both] if first_compliant else [both, neither]
    failed = {id(resource): any(i.rule == "invariant:fhs-1" for i in validator.validate(resource))
              for resource in order}
    assert failed == {id(neither): False, id(both): True}


# A resource that contains nothing gives dom-3 (``contained.where(…).empty()``) one answer, kept; one that
# contains a resource nothing refers to is judged itself.
UNREFERENCED = {"resourceType": "Patient", "id": "p", "contained": [{"resourceType": "Organization", "id": "o"}]}
REFERENCED = {**UNREFERENCED, "managingOrganization": {"reference": "#o"}}
CONTAINS_NOTHING = {"resourceType": "Patient", "id": "q"}
DOM_3 = ("contained.where((('#'+id in (%resource.descendants().reference | %resource.descendants().as(canonical) | "
         "%resource.descendants().as(uri) | %resource.descendants().as(url))) or descendants().where(reference = '#')"
         ".exists() or descendants().where(as(canonical) = '#').exists() or descendants().where(as(canonical) = '#')"
         ".exists()).not()).trace('unmatched', id).empty()")


def _answers(expression: str, resources: list[dict[str, Any]]) -> list[list[Any]]:
    runner = InvariantEngine().runner(expression)
    assert not isinstance(runner, str)
    return [runner(r, r["resourceType"], r, r) for r in resources]


@pytest.mark.parametrize("order", [(CONTAINS_NOTHING, UNREFERENCED, REFERENCED),
                                   (UNREFERENCED, CONTAINS_NOTHING, REFERENCED, CONTAINS_NOTHING)])
def test_dom_3_on_a_resource_without_contained_resources_and_with_them(order: tuple[dict[str, Any], ...]) -> None:
    assert _answers(DOM_3, list(order)) == [[r is not UNREFERENCED] for r in order]


@pytest.mark.parametrize("expression, answers", [
    # A chain from a choice element: the typed key is that element.
    ("value.where(%resource.status = 'final').exists()", [[True], [False], [False]]),
    # combine() reads its argument on an empty collection too: not one answer for every focus without ``value``.
    ("value.combine(%resource.identifier).exists()", [[True], [True], [False]]),
    # Not a chain from the focus's child: evaluated each time.
    ("value.exists() or %resource.identifier.exists()", [[True], [True], [False]]),
    # A leading type name selects the focus itself, not a child of it.
    ("Observation.where(identifier.exists()).exists()", [[True], [True], [False]]),
])
def test_an_answer_is_kept_only_where_the_child_it_starts_from_decides(expression: str,
                                                                      answers: list[list[Any]]) -> None:
    with_value = {"resourceType": "Observation", "status": "final", "valueString": "a",
                  "identifier": [{"value": "1"}]}
    without_value = {"resourceType": "Observation", "status": "final", "identifier": [{"value": "1"}]}
    without_either = {"resourceType": "Observation", "status": "final"}
    assert _answers(expression, [with_value, without_value, without_either]) == answers


def test_a_value_whose_resource_type_is_not_a_string_still_has_its_constraints_checked(validator: Validator) -> None:
    """Malformed JSON may give any value a ``resourceType`` key: an array there is an error of its own, and the
    value's constraints (a Quantity's qty-3) are still judged, not reported as not checked."""
    observation = {"resourceType": "Observation", "id": "o", "status": "final", "code": {"text": "x"},
                   "valueQuantity": {"value": 1, "resourceType": [2]}}
    issues = validator.validate(observation)
    assert any(i.rule == "unknown-element" for i in issues)
    assert not [i for i in issues if "not checked" in i.diagnostics], [i.diagnostics for i in issues]
