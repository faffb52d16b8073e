"""The package loader: finding packages, dependencies, canonical resolution, the derived cache."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from nsp_sandbox.conformance.packages import PackageRegistry, version_key

HCO = "medcom.fhir.dk.homecareobservation"


def test_loads_every_official_package(packages: PackageRegistry, fhir_packages_dir: Path) -> None:
    expected = {p.name.removesuffix(".tgz") for p in fhir_packages_dir.glob("*.tgz")}
    loaded = {f"{p.name}-{p.version}" for p in packages.all_packages()}
    assert loaded == expected


def test_dependencies_resolve_exactly_when_present(packages: PackageRegistry) -> None:
    hco = packages.get(HCO, "1.2.1")
    assert hco is not None
    closure = {p.name: p.version for p in packages.closure(hco)}
    assert closure["medcom.fhir.dk.core"] == "2.4.0"
    assert closure["medcom.fhir.dk.messaging"] == "3.0.0"
    assert closure["hl7.fhir.dk.core"] == "3.4.0"
    assert closure["hl7.fhir.r4.core"] == "4.0.1"


def test_missing_dependency_uses_nearest_version_with_a_warning(packages: PackageRegistry) -> None:
    ack = packages.get("medcom.fhir.dk.acknowledgement")
    assert ack is not None
    closure = {p.name: p.version for p in packages.closure(ack)}
    assert closure["medcom.fhir.dk.messaging"] == "3.0.0"  # wants 2.1.0: 3.0.0 is nearer than 4.0.2
    assert any("medcom.fhir.dk.messaging#2.1.0 is not available; using medcom.fhir.dk.messaging#3.0.0" in w
               for w in packages.warnings)
    assert any("hl7.terminology.r4" in w and "cannot be checked" in w for w in packages.warnings)


def test_canonical_resolution_follows_the_context_package(packages: PackageRegistry) -> None:
    url = "http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-patient"
    hco = packages.get(HCO)
    from_hco = packages.structure_definition(url, hco)
    assert from_hco is not None and from_hco["version"] == "2.4.0"
    newest = packages.structure_definition(url)
    assert newest is not None and newest["version"] == "4.0.0"
    pinned = packages.resolve(f"{url}|3.0.1")
    assert pinned is not None and pinned["version"] == "3.0.1"
    owner = packages.package_of(pinned)
    assert owner is not None and owner.id == "medcom.fhir.dk.core#3.0.1"
    assert packages.resolve(f"{url}|9.9.9") is None
    assert packages.resolve("http://example.org/nothing") is None


def test_examples_are_listed(packages: PackageRegistry) -> None:
    hco = packages.get(HCO)
    assert hco is not None
    names = [name for name, _ in hco.examples()]
    assert "Bundle-ReceiveTestExample1.json" in names
    assert all(isinstance(res.get("resourceType"), str) for _, res in hco.examples())


def test_version_ordering() -> None:
    assert version_key("1.0.0-draft") < version_key("1.0.0") < version_key("1.0.1") < version_key("1.10.0")


def test_a_version_part_of_other_digits_sorts_as_text_and_raises_nothing() -> None:
    """'²' is a digit to str.isdigit() and none to int(); a registry's version is text from outside."""
    assert version_key("1.0.\u00b2") > version_key("1.0.9") and version_key("1.\u0661") > version_key("1.9")


def _make_package(folder: Path, name: str, version: str, deps: dict[str, str]) -> Path:
    root = folder / "package"
    root.mkdir(parents=True)
    (root / "package.json").write_text(json.dumps({"name": name, "version": version, "dependencies": deps}))
    (root / "ValueSet-x.json").write_text(json.dumps({
        "resourceType": "ValueSet", "id": "x", "url": f"http://example.org/{name}/vs", "version": version,
        "compose": {"include": [{"system": "http://example.org/cs", "concept": [{"code": "a"}]}]},
    }))
    return folder


def test_tgz_folder_and_cache_sources(tmp_path: Path) -> None:
    src = _make_package(tmp_path / "src", "example.a", "1.0.0", {"example.b": "2.0.0"})
    tgz = tmp_path / "example.a-1.0.0.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(src / "package", arcname="package")
    cache = tmp_path / "cache"
    _make_package(cache / "example.b#2.0.0", "example.b", "2.0.0", {})
    unpacked = _make_package(tmp_path / "unpacked", "example.c", "0.1.0", {"example.missing": "1.0.0"})
    derived = tmp_path / "derived"
    registry = PackageRegistry.load([tgz, unpacked], cache, derived=derived)
    assert {p.id for p in registry.all_packages()} == {"example.a#1.0.0", "example.b#2.0.0", "example.c#0.1.0"}
    a = registry.get("example.a")
    assert a is not None
    assert [p.id for p in registry.closure(a)] == ["example.a#1.0.0", "example.b#2.0.0"]
    assert registry.value_set("http://example.org/example.b/vs") is not None
    assert any("example.missing#1.0.0 is not available" in w for w in registry.warnings)
    # The archive is unpacked once; a second load reuses it.
    unpacked_dirs = [p for p in derived.iterdir() if p.name.startswith("example.a")]
    assert len(unpacked_dirs) == 1
    PackageRegistry.load([tgz], None, derived=derived)
    assert [p for p in derived.iterdir() if p.name.startswith("example.a")] == unpacked_dirs


def test_broken_archive_is_a_warning_not_a_crash(tmp_path: Path) -> None:
    bad = tmp_path / "broken-1.0.0.tgz"
    bad.write_bytes(b"not a tar file")
    registry = PackageRegistry.load([bad, tmp_path / "does-not-exist"], None, derived=tmp_path / "d")
    assert registry.all_packages() == []
    assert any("cannot unpack" in w for w in registry.warnings)
    assert any("does not exist" in w for w in registry.warnings)


@pytest.mark.timing
def test_loading_hco_conditionlist_notes_with_dependencies_takes_under_a_second(
    fhir_packages_dir: Path, tmp_path: Path,
) -> None:
    wanted = ["homecareobservation", "conditionlist", "notes", "dk.core", "r4.core", "messaging",
              "messagedefinitions", "terminology", "document"]
    sources = [p for p in fhir_packages_dir.glob("*.tgz") if any(w in p.name for w in wanted)]
    derived = tmp_path / "derived"
    PackageRegistry.load(sources, None, derived=derived)  # first start: unpack and index once
    url = "http://medcomfhir.dk/ig/homecareobservation/StructureDefinition/medcom-homecareobservation-message"
    times = []
    for _ in range(3):  # other tests may load the machine: the best of three starts counts
        started = time.perf_counter()
        registry = PackageRegistry.load(sources, None, derived=derived)
        hco = registry.get(HCO)
        assert hco is not None
        assert registry.structure_definition(url, hco) is not None
        times.append(time.perf_counter() - started)
        if times[-1] < 1.0:
            break
    assert min(times) < 1.0, f"loading took {', '.join(f'{t:.2f}' for t in times)} s"


def test_cli_list_and_offline_install(fhir_packages_dir: Path, tmp_path: Path) -> None:
    env = {"NSP_SANDBOX_FHIR_PACKAGES": str(fhir_packages_dir), "FHIR_PACKAGE_CACHE": str(tmp_path / "cache"),
           "PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "COLUMNS": "200"}
    cli = [sys.executable, "-m", "sandbox.cli"]
    listed = subprocess.run([*cli, "packages", "list", "--json"], env=env, capture_output=True, text=True,
                            timeout=60)
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    assert "medcom.fhir.dk.homecareobservation#1.2.1" in {r["package"] for r in data["packages"]}
    # An unreachable registry fails cleanly: a message, exit 1, nothing half-installed.
    installed = subprocess.run(
        [*cli, "packages", "install", "medcom.fhir.dk.core#4.0.0", "--registry-url", "http://127.0.0.1:9",
         "--timeout", "3"], env=env, capture_output=True, text=True, timeout=60)
    assert installed.returncode == 1
    assert "cannot reach" in installed.stderr
    assert not (tmp_path / "cache" / "medcom.fhir.dk.core#4.0.0").exists()
    bad = subprocess.run([*cli, "packages", "install", "no-version"], env=env, capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2


@pytest.mark.skipif(shutil.which("tar") is None, reason="needs tar")
def test_package_cache_folder_is_read(fhir_packages_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    target = cache / "medcom.fhir.dk.notes#1.0.0"
    target.mkdir(parents=True)
    subprocess.run(["tar", "xzf", str(fhir_packages_dir / "medcom.fhir.dk.notes-1.0.0.tgz"), "-C", str(target)],
                   check=True)
    registry = PackageRegistry.load([], cache, derived=tmp_path / "derived")
    notes = registry.get("medcom.fhir.dk.notes")
    assert notes is not None and notes.origin == str(target)
    assert notes.count("StructureDefinition") == 3
