"""A discriminator of element names with a fixed value or pattern is matched by a direct walk of
the path (``_values_at``); it must find what the general discriminator walk (``instance_values``)
finds, in the same order — arrays, choice elements, missing and malformed steps included."""

from __future__ import annotations

from typing import Any

import pytest

from nsp_sandbox.conformance.slice_matching import _plain_steps, _values_at
from nsp_sandbox.conformance.slicing import Expectation, instance_values

VALUES: list[Any] = [
    {"url": "http://example.org/a", "valueString": "x"},
    {"url": ["http://example.org/a", "http://example.org/b"]},
    {"system": "urn:oid:1.2.208.176.1.1", "value": "123"},
    {"coding": [{"system": "http://loinc.org", "code": "1"}, {"code": "2"}, "not an object"]},
    {"valueCoding": {"code": "3"}, "valueQuantity": {"value": 1}},
    {"value": None},
    {"resource": {"resourceType": "Patient", "identifier": [{"value": "7"}]}},
    "a string",
    None,
    [],
]
PATHS = ["url", "$this", "system", "coding.code", "coding.system", "value", "value.code", "resource.identifier.value"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("value", VALUES)
def test_plain_paths_find_what_the_general_walk_finds(path: str, value: Any) -> None:
    steps = _plain_steps(path, Expectation("fixed", "x"))
    assert steps is not None
    general = [found for found, _ in instance_values(value, None, path, lambda _ref: None)]
    assert _values_at(value, steps) == general


@pytest.mark.parametrize("path", ["extension('http://example.org/a').value", "value.ofType(Coding)",
                                  "reference.resolve()"])
def test_other_paths_take_the_general_walk(path: str) -> None:
    assert _plain_steps(path, Expectation("fixed", "x")) is None
    assert _plain_steps("url", Expectation("types", frozenset({"Patient"}))) is None
