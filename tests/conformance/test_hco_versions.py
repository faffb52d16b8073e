"""HomeCareObservation 1.1 and 1.2: each official example is valid as its own version, with zero errors,
in JSON (from the packages) and in MedCom's XML (``../shared/fhir-examples-xml``); a code only the 1.2
terminology has is flagged in a 1.1 message, naming the release that has it; ``--ig 1.1`` and the
``version`` parameter of ``$validate`` choose the version."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from nsp_sandbox import hco_versions
from nsp_sandbox.conformance.packages import PackageRegistry
from nsp_sandbox.conformance.validator import Validator
from nsp_sandbox.hco_terms import HCO_PACKAGE, NPU_SYSTEM
from sandbox.cli import app

ONLY_IN_1_2 = "NPU03963"  # U—Erythrocytter; arb.k.(proc.): in terminology 2.0.2 (HCO 1.2), not in 2.0.0-draft
RELEASES = ("1.1.0-trial-use", "1.1.1-trial-use", "1.2.1")
HCO_BUNDLE = "Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json"


def _errors(issues: list[Any]) -> list[str]:
    return [f"{i.expression} [{i.rule}] {i.diagnostics}" for i in issues if i.is_error]


def _bundles(packages: PackageRegistry, release: str) -> list[tuple[str, dict[str, Any]]]:
    package = packages.get(HCO_PACKAGE, release)
    assert package is not None, f"{HCO_PACKAGE}#{release} is not loaded"
    return [(name, r) for name, r in package.examples() if r["resourceType"] == "Bundle"]


@pytest.fixture(scope="module")
def xml_examples(fhir_packages_dir: Path) -> Path:
    folder = fhir_packages_dir.parent / "fhir-examples-xml"
    if not folder.is_dir():
        pytest.skip(f"MedCom's XML examples not found at {folder}")
    return folder


@pytest.mark.parametrize("release", RELEASES)
def test_every_official_json_example_is_valid_as_its_own_version(validator: Validator, packages: PackageRegistry,
                                                                 release: str) -> None:
    family = hco_versions.family(release)
    bundles = _bundles(packages, release)
    assert len(bundles) == (9 if family == "1.2" else 5)
    for name, bundle in bundles:
        chosen = hco_versions.package_for(packages, family, bundle)
        assert chosen.version == release, name  # 1.1.0's legacy definition picks 1.1.0, |1.1 picks 1.1.1
        assert _errors(hco_versions.validate(validator, bundle, family)) == [], name


@pytest.mark.parametrize(("folder", "family", "count"), [
    ("homecareobservation-1.1.1-trial-use", "1.1", 5), ("homecareobservation-1.2.1", "1.2", 9)])
def test_medcoms_xml_examples_are_valid_as_their_version(validator: Validator, xml_examples: Path, folder: str,
                                                         family: str, count: int) -> None:
    files = sorted((xml_examples / folder).glob("Bundle-*.xml"))
    assert len(files) == count
    for path in files:
        resource, problems = validator.parse(path.read_bytes(), "application/fhir+xml")
        assert resource is not None and problems == [], path.name
        assert _errors(hco_versions.validate(validator, resource, family)) == [], path.name


def _with_code_only_in_1_2(bundle: dict[str, Any]) -> tuple[dict[str, Any], int]:
    changed = copy.deepcopy(bundle)
    for n, entry in enumerate(changed["entry"]):
        resource = entry["resource"]
        if resource["resourceType"] == "Observation" and resource["code"]["coding"][0]["system"] == NPU_SYSTEM:
            resource["code"]["coding"] = [{"system": NPU_SYSTEM, "code": ONLY_IN_1_2,
                                           "display": "U—Erythrocytter; arb.k.(proc.) = ?"}]
            return changed, n
    raise AssertionError("no NPU-coded Observation in the example")


def test_a_code_only_the_1_2_terminology_has_is_flagged_in_a_1_1_message(validator: Validator,
                                                                          packages: PackageRegistry) -> None:
    bundle = dict(_bundles(packages, "1.1.1-trial-use"))[HCO_BUNDLE]
    changed, n = _with_code_only_in_1_2(bundle)
    found = [i for i in hco_versions.validate(validator, changed, "1.1") if i.rule == "code-system"]
    assert [i.expression for i in found] == [f"Bundle.entry[{n}].resource.code.coding[0].code"]
    text = found[0].diagnostics
    assert f"{ONLY_IN_1_2} is not a code of {NPU_SYSTEM}|2.0.0-draft" in text
    assert "defined only in medcom.fhir.dk.terminology#2.0.2" in text and found[0].severity == "error"
    assert _errors(hco_versions.validate(validator, changed, "1.2")) == []  # the same message as 1.2


def test_a_stored_hcom_is_judged_as_its_entrys_format_code_says(validator: Validator,
                                                                packages: PackageRegistry) -> None:
    changed, _ = _with_code_only_in_1_2(dict(_bundles(packages, "1.1.1-trial-use"))[HCO_BUNDLE])
    def entry(code: str) -> dict[str, Any]:
        return {"resourceType": "DocumentReference", "content": [{"format": {"code": code}}]}
    assert hco_versions.version_of_entry(entry("urn:ad:dk:medcom:msg:hco-v1.1:full")) == "1.1"
    assert hco_versions.version_of_entry(entry("urn:ad:dk:medcom:plr-v1.0:full")) is None
    assert hco_versions.version_of_entry({"content": "x"}) is None  # read defensively: stored entries vary
    as_1_1 = hco_versions.judge_stored(validator, changed, "1.1")
    assert any(ONLY_IN_1_2 in i.diagnostics for i in as_1_1 if i.is_error)
    assert _errors(hco_versions.judge_stored(validator, changed, "1.2")) == []
    assert _errors(hco_versions.judge_stored(validator, changed, None)) == []  # no HCO formatCode: the default


def test_versions_are_named_as_families_or_releases(packages: PackageRegistry) -> None:
    assert hco_versions.family("1.1.0-trial-use") == "1.1" and hco_versions.family("1.2") == "1.2"
    assert hco_versions.package_for(packages, "1.2").version == "1.2.1"
    assert hco_versions.package_for(packages, "1.1").version == "1.1.1-trial-use"
    assert hco_versions.package_for(packages, "1.1.0").version == "1.1.0-trial-use"
    assert hco_versions.choose(None, "", "1.1", "1.2") == "1.1" and hco_versions.choose(None) == "1.2"
    assert hco_versions.format_code("1.1.1") == ("urn:ad:dk:medcom:msg:hco-v1.1:full",
                                                 "DK HomeCareObservation message v1.1")
    assert hco_versions.version_of_format("urn:ad:dk:medcom:msg:hco-v1.2:full") == "1.2"
    for wrong in ("2.0", "1.3", "latest", ""):
        with pytest.raises(hco_versions.UnknownVersion):
            hco_versions.family(wrong)


def test_each_release_is_compiled_once_and_kept(validator: Validator, packages: PackageRegistry) -> None:
    bundle = dict(_bundles(packages, "1.2.1"))[HCO_BUNDLE]
    hco_versions.validate(validator, bundle, "1.1")
    hco_versions.validate(validator, bundle, "1.2")
    url = "http://medcomfhir.dk/ig/homecareobservation/StructureDefinition/medcom-homecareobservation-message"
    as_1_1 = validator.structures.get(url, hco_versions.package_for(packages, "1.1"))
    as_1_2 = validator.structures.get(url, hco_versions.package_for(packages, "1.2"))
    assert as_1_1 is not None and as_1_2 is not None
    assert (as_1_1.version, as_1_2.version) == ("1.1.1-trial-use", "1.2.1")
    assert validator.structures.get(url, hco_versions.package_for(packages, "1.1")) is as_1_1


def test_the_cli_judges_by_ig_version(fhir_packages_dir: Path, tmp_path: Path, packages: PackageRegistry) -> None:
    env = {"NSP_SANDBOX_FHIR_PACKAGES": str(fhir_packages_dir), "FHIR_PACKAGE_CACHE": str(tmp_path / "cache"),
           "COLUMNS": "250"}
    changed, _ = _with_code_only_in_1_2(dict(_bundles(packages, "1.2.1"))[HCO_BUNDLE])
    path = tmp_path / "hco.json"
    path.write_text(json.dumps(changed), encoding="utf-8")
    as_1_2 = CliRunner().invoke(app, ["validate", "--ig", "1.2", str(path)], env=env)
    assert as_1_2.exit_code == 0, as_1_2.output
    as_1_1 = CliRunner().invoke(app, ["validate", "--ig", "1.1", "--json", str(path)], env=env)
    assert as_1_1.exit_code == 1, as_1_1.output
    issues = json.loads(as_1_1.stdout)[str(path)]["issue"]
    assert any(ONLY_IN_1_2 in i["diagnostics"] and "2.0.2" in i["diagnostics"] for i in issues)
    wrong = CliRunner().invoke(app, ["validate", "--ig", "3.0", "--json", str(path)], env=env)
    assert wrong.exit_code == 1 and "not an HomeCareObservation IG version" in wrong.stdout


def test_validate_operation_takes_a_version(client: TestClient, packages: PackageRegistry) -> None:
    changed, _ = _with_code_only_in_1_2(dict(_bundles(packages, "1.2.1"))[HCO_BUNDLE])
    url, headers = "/conformance/$validate", {"Content-Type": "application/fhir+json"}

    def errors(response: Any) -> list[str]:
        assert response.status_code == 200, response.text
        return [i["diagnostics"] for i in response.json()["issue"] if i["severity"] in ("error", "fatal")]

    assert errors(client.post(url, params={"version": "1.2"}, content=json.dumps(changed), headers=headers)) == []
    assert any(ONLY_IN_1_2 in e for e in errors(client.post(url, params={"version": "1.1"},
                                                                content=json.dumps(changed), headers=headers)))
    parameters = {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": changed},
                                                              {"name": "version", "valueString": "1.1"}]}
    assert any(ONLY_IN_1_2 in e for e in errors(client.post(url, json=parameters)))
    wrong = client.post(url, params={"version": "9"}, content=json.dumps(changed), headers=headers)
    assert wrong.status_code == 400 and wrong.json()["issue"][0]["expression"] == ["version"]
