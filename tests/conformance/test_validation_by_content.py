"""A document validated again from the same bytes, the same way, is answered from what the engine found
the first time (in one process the viewer validates what DDS has just validated): the same findings,
never shared with another profile, another IG version or other bytes."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from nsp_sandbox import hco_versions
from nsp_sandbox.conformance import validator as validator_module
from nsp_sandbox.conformance.packages import PackageRegistry
from nsp_sandbox.conformance.validator import Validator
from nsp_sandbox.hco_terms import HCO_PACKAGE

HCO_BUNDLE = "Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json"


def _message(packages: PackageRegistry) -> dict[str, Any]:
    package = packages.get(HCO_PACKAGE, "1.2.1")
    assert package is not None
    return copy.deepcopy(dict(package.examples())[HCO_BUNDLE])


def _walks(validator: Validator, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    walked: list[int] = []
    real = validator.validate_layers

    def counted(*args: Any, **kwargs: Any) -> Any:
        walked.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(validator, "validate_layers", counted)
    return walked


def test_the_same_bytes_validated_the_same_way_are_walked_once(packages: PackageRegistry,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    validator = Validator(packages)
    walks = _walks(validator, monkeypatch)
    message = _message(packages)
    message["entry"][1]["resource"]["gender"] = "not-a-gender"  # findings worth comparing
    content = json.dumps(message).encode()

    first = hco_versions.judge_stored(validator, json.loads(content), "1.2", content=content)
    again = hco_versions.judge_stored(validator, json.loads(content), "1.2", content=content)
    assert len(walks) == 1
    assert again == first and any(i.is_error for i in first)
    assert first == validator.validate_layers(json.loads(content), package=hco_versions.package_for(
        packages, "1.2", message))[1]  # what a walk finds
    again.clear()  # the caller's own list
    assert hco_versions.judge_stored(validator, json.loads(content), "1.2", content=content) == first


def test_another_profile_version_or_content_is_walked_again(packages: PackageRegistry,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    validator = Validator(packages)
    walks = _walks(validator, monkeypatch)
    message = _message(packages)
    content = json.dumps(message).encode()
    hco_versions.judge_stored(validator, json.loads(content), "1.2", content=content)
    hco_versions.judge_stored(validator, json.loads(content), "1.1", content=content)  # another IG version
    validator.validate(json.loads(content), "http://hl7.org/fhir/StructureDefinition/Bundle", content=content)
    changed = json.dumps(message, indent=1).encode()  # the same resource, other bytes
    hco_versions.judge_stored(validator, json.loads(changed), "1.2", content=changed)
    hco_versions.judge_stored(validator, json.loads(content), "1.2")  # no bytes given: never kept
    assert len(walks) == 5


def test_only_the_newest_are_kept(packages: PackageRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validator_module, "KEPT_BY_CONTENT", 2)
    validator = Validator(packages)
    walks = _walks(validator, monkeypatch)
    resources = [{"resourceType": "Basic", "id": f"b{n}", "code": {"text": "x"}} for n in range(3)]
    contents = [json.dumps(r).encode() for r in resources]
    for resource, content in zip(resources, contents, strict=True):
        validator.validate(resource, content=content)
    validator.validate(resources[2], content=contents[2])  # kept
    validator.validate(resources[0], content=contents[0])  # the oldest, dropped
    assert len(walks) == 4


def test_a_document_with_more_findings_than_may_be_kept_is_not_kept(packages: PackageRegistry,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validator_module, "KEPT_ISSUES", 1)
    validator = Validator(packages)
    walks = _walks(validator, monkeypatch)
    invalid = {"resourceType": "Basic", "id": "b", "unknown": 1, "other": 2}  # two findings
    content = json.dumps(invalid).encode()
    first = validator.validate(invalid, content=content)
    assert len([i for i in first if i.is_error]) >= 2
    assert validator.validate(invalid, content=content) == first
    assert len(walks) == 2 and validator._by_content_issues == 0
