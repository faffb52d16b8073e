"""``nsp-sandbox validate``: tables, exit codes, ``--json``, ``--profile`` and XML input."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from test_validator_xml import to_xml  # the FHIR XML writer of the XML tests
from typer.testing import CliRunner

from nsp_sandbox.conformance.packages import PackageRegistry
from sandbox.cli import app

HCO_BUNDLE = "Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json"


@pytest.fixture
def env(fhir_packages_dir: Path, tmp_path: Path) -> dict[str, str]:
    return {"NSP_SANDBOX_FHIR_PACKAGES": str(fhir_packages_dir), "FHIR_PACKAGE_CACHE": str(tmp_path / "cache"),
            "COLUMNS": "200"}


@pytest.fixture
def hco(packages: PackageRegistry) -> dict[str, Any]:
    package = packages.get("medcom.fhir.dk.homecareobservation", "1.2.1")
    assert package is not None
    return dict(package.examples())[HCO_BUNDLE]


def write(path: Path, resource: dict[str, Any]) -> Path:
    path.write_text(json.dumps(resource), encoding="utf-8")
    return path


def broken(hco: dict[str, Any]) -> dict[str, Any]:
    bundle = copy.deepcopy(hco)
    report = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "DiagnosticReport")
    report["status"] = "preliminary"
    return bundle


def test_valid_file_exits_0(env: dict[str, str], tmp_path: Path, hco: dict[str, Any]) -> None:
    path = write(tmp_path / "hco.json", hco)
    result = CliRunner().invoke(app, ["validate", str(path)], env=env)
    assert result.exit_code == 0, result.output
    assert "valid" in result.stdout and "0 error(s)" in result.stdout


def test_invalid_file_exits_1_and_names_element_and_rule(env: dict[str, str], tmp_path: Path,
                                                         hco: dict[str, Any]) -> None:
    path = write(tmp_path / "bad.json", broken(hco))
    result = CliRunner().invoke(app, ["validate", str(path)], env=env)
    assert result.exit_code == 1
    assert "invalid" in result.stdout
    assert "Bundle.entry[2].resource.status" in result.stdout and "pattern" in result.stdout


def test_json_output_maps_each_path_as_given(env: dict[str, str], tmp_path: Path, hco: dict[str, Any],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "good.json", hco)
    write(tmp_path / "bad.json", broken(hco))
    result = CliRunner().invoke(app, ["validate", "good.json", "./bad.json", "--json"], env=env)
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert list(report) == ["good.json", "./bad.json"]
    assert report["good.json"]["resourceType"] == "OperationOutcome"
    assert all(i["severity"] not in ("error", "fatal") for i in report["good.json"]["issue"])
    bad = [i for i in report["./bad.json"]["issue"] if i["severity"] == "error"]
    assert any(i["expression"] == ["Bundle.entry[2].resource.status"] for i in bad)


def test_xml_file(env: dict[str, str], tmp_path: Path, hco: dict[str, Any]) -> None:
    (tmp_path / "hco.xml").write_bytes(to_xml(hco))
    (tmp_path / "bad.xml").write_bytes(to_xml(broken(hco)))
    assert CliRunner().invoke(app, ["validate", str(tmp_path / "hco.xml")], env=env).exit_code == 0
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "bad.xml"), "--json"], env=env)
    assert result.exit_code == 1
    issues = json.loads(result.stdout)[str(tmp_path / "bad.xml")]["issue"]
    assert any(i.get("expression") == ["Bundle.entry[2].resource.status"] for i in issues)


def test_profile_option(env: dict[str, str], tmp_path: Path) -> None:
    patient = {"resourceType": "Patient", "id": "p", "name": [{"family": "Elmer"}]}
    path = write(tmp_path / "patient.json", patient)
    plain = CliRunner().invoke(app, ["validate", str(path), "--json"], env=env)
    assert plain.exit_code == 0
    profiled = CliRunner().invoke(app, ["validate", str(path), "--json", "--profile",
                                        "http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-patient|2.4.0"],
                                  env=env)
    assert profiled.exit_code == 1
    issues = json.loads(profiled.stdout)[str(path)]["issue"]
    assert any(i["severity"] == "error" and i.get("expression") == ["Patient.identifier"] for i in issues)


def test_unreadable_and_non_fhir_files(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "junk.json").write_text("{not json")
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "missing.json"), str(tmp_path / "junk.json"),
                                      "--json"], env=env)
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report[str(tmp_path / "missing.json")]["issue"][0]["severity"] == "fatal"
    assert report[str(tmp_path / "junk.json")]["issue"][0]["details"]["coding"][0]["code"] == "json-syntax"


def test_many_files_show_progress_and_keep_stdout_clean(env: dict[str, str], tmp_path: Path,
                                                        hco: dict[str, Any]) -> None:
    paths = [str(write(tmp_path / f"m{i}.json", hco)) for i in range(6)]
    result = CliRunner().invoke(app, ["validate", *paths, "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert sorted(json.loads(result.stdout)) == sorted(paths)


def test_no_packages_and_no_registry_exits_2_naming_what_is_missing(tmp_path: Path) -> None:
    env = {"NSP_SANDBOX_FHIR_PACKAGES": str(tmp_path / "none"), "FHIR_PACKAGE_CACHE": str(tmp_path / "empty"),
           "NSP_SANDBOX_FHIR_REGISTRY": "http://127.0.0.1:9"}  # nothing answers there
    path = write(tmp_path / "p.json", {"resourceType": "Patient"})
    result = CliRunner().invoke(app, ["validate", str(path)], env=env)
    assert result.exit_code == 2
    assert "medcom.fhir.dk.homecareobservation#1.2.1" in result.output
    assert "NSP_SANDBOX_FHIR_PACKAGES" in result.output


@pytest.mark.parametrize("spec", [
    "medcom.fhir.dk.homecareobservation#1.2.1", "medcom.fhir.dk.conditionlist#1.0.1", "medcom.fhir.dk.notes#1.0.0",
    "medcom.fhir.dk.xdsdocuments#0.1.0-homecareobservation-draft-2", "medcom.fhir.dk.acknowledgement#2.0.3",
])
def test_every_official_example_is_valid_from_the_command_line(env: dict[str, str], packages: PackageRegistry,
                                                               spec: str) -> None:
    name, _, version = spec.partition("#")
    package = packages.get(name, version)
    assert package is not None
    files = sorted(str(p) for p in (package.root / "example").glob("*.json"))
    assert files
    result = CliRunner().invoke(app, ["validate", *files, "--ig", spec, "--json"], env=env)
    report = json.loads(result.stdout)
    failing = {f: [i["diagnostics"] for i in oo["issue"] if i["severity"] in ("error", "fatal")]
               for f, oo in report.items()}
    assert {f: e for f, e in failing.items() if e} == {}
    assert result.exit_code == 0


def test_unversioned_profile_with_several_versions_says_which_was_used(env: dict[str, str], tmp_path: Path) -> None:
    patient = {"resourceType": "Patient", "meta": {"profile": [
        "http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-patient"]},
        "identifier": [{"system": "urn:oid:1.2.208.176.1.2", "value": "2509479989"}],
        "name": [{"use": "official", "family": "Elmer", "given": ["Bruno"]}]}
    path = write(tmp_path / "patient.json", patient)
    result = CliRunner().invoke(app, ["validate", str(path), "--json"], env=env)
    notes = [i for i in json.loads(result.stdout)[str(path)]["issue"]
             if i["details"]["coding"][-1]["code"] == "profile-version"]
    assert notes and "2.4.0" in notes[0]["diagnostics"] and notes[0]["severity"] == "information"
