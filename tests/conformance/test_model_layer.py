"""The model layer (``fhir.resources``) runs only where it could add a finding to a clean profile walk.

Each case is a valid official HCO message with one change that only the model layer refuses (the
profile walk's regexes admit it): the finding must still be there, exactly as when the model layer
runs on every document. And a document that both layers find clean gets the same (empty) findings
without the model layer being asked.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from nsp_sandbox.conformance import validator as validator_module
from nsp_sandbox.conformance.base_structure import base_structure_issues, model_layer_silent
from nsp_sandbox.conformance.packages import PackageRegistry
from nsp_sandbox.conformance.validator import Validator

HCO = ("medcom.fhir.dk.homecareobservation", "1.2.1", "Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json")


def _hco(packages: PackageRegistry) -> dict[str, Any]:
    name, version, filename = HCO
    package = packages.get(name, version)
    assert package is not None
    return copy.deepcopy(dict(package.examples())[filename])


def _observation(bundle: dict[str, Any]) -> dict[str, Any]:
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation")


def _always_model_layer(validator: Validator, resource: dict[str, Any], monkeypatch: Any) -> list[Any]:
    with monkeypatch.context() as patch:
        patch.setattr(validator_module, "model_layer_silent", lambda _resource: False)
        return validator.validate(resource)


def _no_such_day(bundle: dict[str, Any]) -> str:
    _observation(bundle)["effectiveDateTime"] = "2021-02-29T10:15:00+01:00"
    return "effective"


def _companion_of_complex(bundle: dict[str, Any]) -> str:
    _observation(bundle)["_code"] = {"extension": [{"url": "http://example.org/x", "valueString": "y"}]}
    return "_code"


CHANGES: dict[str, Callable[[dict[str, Any]], str]] = {
    "the 29th of February 2021": _no_such_day,
    "an _element companion of a complex element": _companion_of_complex,
}


@pytest.mark.parametrize("change", CHANGES)
def test_what_only_the_model_layer_finds_is_still_found(packages: PackageRegistry, validator: Validator,
                                                         monkeypatch: Any, change: str) -> None:
    bundle = _hco(packages)
    element = CHANGES[change](bundle)
    assert not model_layer_silent(bundle)
    found = validator.validate(bundle)
    assert found == _always_model_layer(validator, bundle, monkeypatch)
    assert any(i.rule == "base-structure" and i.is_error and element in (i.expression or "") for i in found), found


def test_a_clean_document_is_not_given_to_the_model_layer(packages: PackageRegistry, validator: Validator,
                                                          monkeypatch: Any) -> None:
    bundle = _hco(packages)
    assert model_layer_silent(bundle)
    assert base_structure_issues(bundle) == []
    asked: list[str] = []
    monkeypatch.setattr(validator_module, "base_structure_issues", lambda r: asked.append("model") or [])
    assert [i for i in validator.validate(bundle) if i.is_error] == []
    assert asked == []


def test_a_profile_error_still_brings_the_model_layer_in(packages: PackageRegistry, validator: Validator,
                                                         monkeypatch: Any) -> None:
    bundle = _hco(packages)
    observation = _observation(bundle)
    observation["status"] = 7  # the walk refuses the type; the model layer names it too
    found = validator.validate(bundle)
    assert found == _always_model_layer(validator, bundle, monkeypatch)
    assert any(i.is_error for i in found)


@pytest.mark.parametrize("value, silent", [
    ("2024-02-29", True), ("2023-02-29", False), ("2020-01-01T23:59:59Z", True), ("2020-01-01T23:59:60Z", True),
    ("23:59:60", True), ("12:00:00", True), (2**31 - 1, True), (2**31, False), (float("inf"), False),
    ("12345678", True),
])
def test_which_values_bring_the_model_layer_in(value: Any, silent: bool) -> None:
    assert model_layer_silent({"resourceType": "Basic", "id": "b", "extension": [
        {"url": "http://example.org/v", "valueString": value}]}) is silent


def test_a_resource_type_without_a_model_brings_the_model_layer_in() -> None:
    assert not model_layer_silent({"resourceType": "Bundle", "type": "collection",
                                   "entry": [{"resource": {"resourceType": "EffectEvidenceSynthesis"}}]})


@pytest.mark.parametrize(("control", "silent"), [
    ("\x0b", False), ("\x00", False), ("\x1f", False), ("\n", True), ("\t", True), ("\r", True),
])
@pytest.mark.parametrize("where", ["a short text", "a narrative"])
def test_control_characters_in_short_and_long_strings(packages: PackageRegistry, control: str, silent: bool,
                                                      where: str) -> None:
    """A control character FHIR forbids brings the model layer in wherever it sits in a string —
    a short one or a narrative (long strings are scanned another way) alike; a line break or a tab
    does not."""
    bundle = _hco(packages)
    observation = _observation(bundle)
    if where == "a short text":
        observation["code"]["text"] = f"målt{control}dagligt"
    else:
        text = "Ældre borger — målt 3 gange ’dagligt’ " * 10
        observation["text"]["div"] = observation["text"]["div"].replace("</div>", f"{text}{control}{text}</div>", 1)
        assert len(observation["text"]["div"]) > 200
    assert model_layer_silent(bundle) is silent
    assert (base_structure_issues(bundle) == []) is silent
