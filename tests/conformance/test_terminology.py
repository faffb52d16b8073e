"""Value set expansion and code membership from the loaded packages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nsp_sandbox.conformance.packages import PackageRegistry
from nsp_sandbox.conformance.terminology import Terminology

XDS = "http://medcomfhir.dk/ig/xdsmetadata/ValueSet/"


@pytest.fixture(scope="module")
def terminology(packages: PackageRegistry) -> Terminology:
    return Terminology(packages)


def test_enumerated_value_set(terminology: Terminology) -> None:
    vs = XDS + "MedCom-ihe-core-HealthcareFacilityTypeCode-VS"
    ok = terminology.check_code(vs, "urn:oid:2.16.840.1.113883.6.96", "550621000005101")
    assert ok.status == "valid"
    bad = terminology.check_code(vs, "urn:oid:2.16.840.1.113883.6.96", "123456")
    assert bad.status == "invalid"
    assert "MedCom-ihe-core-HealthcareFacilityTypeCode-VS|1.0.1" in bad.message
    wrong_system = terminology.check_code(vs, "http://snomed.info/sct", "550621000005101")
    assert wrong_system.status == "invalid"


def test_whole_code_system_and_plain_code(terminology: Terminology) -> None:
    gender = "http://hl7.org/fhir/ValueSet/administrative-gender"
    assert terminology.check_code(gender, None, "female").status == "valid"
    assert terminology.check_code(gender, None, "xyz").status == "invalid"
    assert terminology.check_code(gender, "http://hl7.org/fhir/administrative-gender", "other").valid


def test_confidentiality_is_n_only(terminology: Terminology) -> None:
    vs = XDS + "MedCom-ihe-core-confidentialitycode-VS"
    expansion = terminology.expand(vs)
    assert expansion is not None
    assert [code for _, code in expansion.codes] == ["N"]


def test_unavailable_value_set_and_code_system_are_not_checked(terminology: Terminology) -> None:
    missing = terminology.check_code("http://terminology.hl7.org/ValueSet/v3-ActCode|3.0.0", "x", "y")
    assert missing.status == "not-checked"
    assert "not available" in missing.message
    # R4 core 'all-languages' draws on BCP-47, a grammar no package enumerates.
    result = terminology.check_code("http://hl7.org/fhir/ValueSet/all-languages", "urn:ietf:bcp:47", "da-DK")
    assert result.status == "not-checked"


def test_is_a_filter_and_excludes(tmp_path: Path) -> None:
    root = tmp_path / "p" / "package"
    root.mkdir(parents=True)
    (root / "package.json").write_text(json.dumps({"name": "example.t", "version": "1.0.0"}))
    (root / "CodeSystem-cs.json").write_text(json.dumps({
        "resourceType": "CodeSystem", "url": "http://example.org/cs", "version": "1", "content": "complete",
        "concept": [{"code": "animal", "concept": [
            {"code": "dog", "concept": [{"code": "puppy"}]}, {"code": "cat"}]},
            {"code": "plant"}],
    }))
    (root / "ValueSet-vs.json").write_text(json.dumps({
        "resourceType": "ValueSet", "url": "http://example.org/vs", "version": "1",
        "compose": {"include": [{"system": "http://example.org/cs",
                                 "filter": [{"property": "concept", "op": "is-a", "value": "animal"}]}],
                    "exclude": [{"system": "http://example.org/cs", "concept": [{"code": "cat"}]}]},
    }))
    (root / "ValueSet-imp.json").write_text(json.dumps({
        "resourceType": "ValueSet", "url": "http://example.org/imp", "version": "1",
        "compose": {"include": [{"valueSet": ["http://example.org/vs"]},
                                {"system": "http://loinc.org"}]},
    }))
    registry = PackageRegistry.load([tmp_path / "p"], None, derived=tmp_path / "d")
    t = Terminology(registry)
    expansion = t.expand("http://example.org/vs")
    assert expansion is not None
    assert {c for _, c in expansion.codes} == {"animal", "dog", "puppy"}
    assert t.check_code("http://example.org/imp", "http://example.org/cs", "puppy").status == "valid"
    assert t.check_code("http://example.org/imp", "http://example.org/cs", "plant").status == "invalid"
    assert t.check_code("http://example.org/imp", "http://loinc.org", "1234-5").status == "not-checked"
    assert t.check_in_code_system("http://example.org/cs", "cat").valid
    assert t.check_in_code_system("http://example.org/cs", "fish").status == "invalid"
