"""A validation leaves nothing for the garbage collector: what its walk made (frames, FHIRPath scopes, results,
the Bundle's index) is freed by reference counting as it returns. A served sandbox validates three resources per
provide; a walk left in a reference cycle made a young collection every few provides, each walking the walks'
leftovers."""

from __future__ import annotations

import copy
import gc
from typing import Any

from nsp_sandbox.conformance.frames import Frame
from nsp_sandbox.conformance.packages import PackageRegistry
from nsp_sandbox.conformance.validator import Validator
from nsp_sandbox.hco_terms import HCO_PACKAGE

HCO_BUNDLE = "Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json"


def _message(packages: PackageRegistry) -> dict[str, Any]:
    package = packages.get(HCO_PACKAGE, "1.2.1")
    assert package is not None
    return copy.deepcopy(dict(package.examples())[HCO_BUNDLE])


def _left_for_the_collector(validator: Validator, resource: dict[str, Any]) -> list[Frame]:
    """The frames of ``resource``'s validation that only the garbage collector could free (other threads'
    garbage, if any, is not counted)."""
    gc.collect()
    flags = gc.get_debug()
    gc.disable()
    gc.set_debug(flags | gc.DEBUG_SAVEALL)
    try:
        validator.validate_layers(resource)
        gc.collect()
        return [o for o in gc.garbage if isinstance(o, Frame) and o.root is resource]
    finally:
        gc.set_debug(flags)
        gc.garbage.clear()
        gc.enable()


def test_an_hco_message_validated_leaves_no_cycle_behind(validator: Validator, packages: PackageRegistry) -> None:
    message = _message(packages)
    validator.validate_layers(copy.deepcopy(message))  # profiles compiled, value sets expanded
    assert _left_for_the_collector(validator, message) == []


def test_a_validation_with_findings_leaves_no_cycle_behind(validator: Validator, packages: PackageRegistry) -> None:
    message = _message(packages)
    message["entry"][0]["resource"]["eventCoding"] = {"code": "no-such-event"}
    message["entry"][1]["resource"]["text"]["div"] = "<div xmlns=\"http://www.w3.org/1999/xhtml\"><script/></div>"
    found = validator.validate_layers(copy.deepcopy(message))[1]
    assert any(i.is_error for i in found)
    assert _left_for_the_collector(validator, message) == []
