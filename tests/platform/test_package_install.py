"""Declared, pinned FHIR packages installed from a FHIR package registry into the package cache, as
FHIR tools do on first use; one clear error naming what is missing when no registry gives them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from registry_stub import registry
from servers import HTTP, free_port

from nsp_sandbox.conformance.packages import PackageRegistry
from nsp_sandbox.package_install import PackageId, PackagesUnavailable, declared, ensure, present

UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing answers


def test_every_declared_package_is_one_of_the_official_ones(fhir_packages_dir: Path) -> None:
    official = present([fhir_packages_dir], fhir_packages_dir / "no-cache")
    assert set(declared()) <= official
    assert PackageId("medcom.fhir.dk.homecareobservation", "1.1.0-trial-use") in declared(["hco-1.1"])


def test_missing_packages_come_from_the_registry_with_their_shasum_checked(fhir_packages_dir: Path,
                                                                           tmp_path: Path) -> None:
    lines: list[str] = []
    with registry(fhir_packages_dir) as url:
        installed = ensure([], tmp_path, url, lines.append, only=["hco-1.2"])
        assert {p.key for p in installed} == {p.key for p in declared(["hco-1.2"])}
        assert (tmp_path / "medcom.fhir.dk.homecareobservation#1.2.1" / "package" / "package.json").is_file()
        assert ensure([], tmp_path, url, lines.append, only=["hco-1.2"]) == []  # nothing twice
    assert any(line.startswith(f"[1/{len(installed)}]") for line in lines)  # progress, a line per package
    loaded = PackageRegistry.load([], tmp_path)
    assert loaded.get("medcom.fhir.dk.homecareobservation", "1.2.1") is not None


def test_archives_can_be_kept_as_a_package_source_folder(fhir_packages_dir: Path, tmp_path: Path) -> None:
    with registry(fhir_packages_dir) as url:
        ensure([], tmp_path / "cache", url, lambda _: None, only=["notes"], archives=tmp_path / "tgz")
    kept = sorted(p.name for p in (tmp_path / "tgz").glob("*.tgz"))
    assert kept == sorted(f"{p.name}-{p.version}.tgz" for p in declared(["notes"]))
    assert not (tmp_path / "cache").exists()
    assert PackageRegistry.load([tmp_path / "tgz"], None).get("medcom.fhir.dk.notes", "1.0.0") is not None


def test_a_wrong_shasum_is_refused(fhir_packages_dir: Path, tmp_path: Path) -> None:
    with registry(fhir_packages_dir, wrong_shasum=True) as url, pytest.raises(PackagesUnavailable) as refused:
        ensure([], tmp_path, url, lambda _: None, only=["fhir"])
    assert "does not match the registry's shasum" in str(refused.value)
    assert not (tmp_path / "hl7.fhir.r4.core#4.0.1").exists()


def test_registries_are_tried_in_order(fhir_packages_dir: Path, tmp_path: Path) -> None:
    with registry(fhir_packages_dir) as url:
        installed = ensure([], tmp_path, f"{UNREACHABLE},{url}", lambda _: None, only=["conditionlist"])
    assert len(installed) == len(declared(["conditionlist"]))


def test_offline_names_every_missing_package_and_the_two_ways(tmp_path: Path) -> None:
    with pytest.raises(PackagesUnavailable) as refused:
        ensure([], tmp_path, UNREACHABLE, lambda _: None, only=["notes"])
    text = str(refused.value)
    for package in declared(["notes"]):
        assert package.key in text
    assert "NSP_SANDBOX_FHIR_PACKAGES" in text and "nsp-sandbox packages install" in text


def _clean_machine(tmp_path: Path, registry_url: str) -> dict[str, str]:
    """No ../shared, an empty package cache, and only ``registry_url`` to get packages from."""
    env = {**os.environ, "NSP_SANDBOX_FHIR_PACKAGES": "", "FHIR_PACKAGE_CACHE": str(tmp_path / "cache"),
           "NSP_SANDBOX_FHIR_REGISTRY": registry_url, "HOME": str(tmp_path)}
    env.pop("NSP_SANDBOX_DATABASE_URL", None)
    return env


def test_up_on_a_clean_machine_installs_the_packages_and_runs_the_demo(fhir_packages_dir: Path,
                                                                       tmp_path: Path) -> None:
    port = free_port()
    with registry(fhir_packages_dir) as url:
        proc = subprocess.Popen([sys.executable, "-m", "sandbox.cli", "up", "--port", str(port), "--data-dir",
                                 str(tmp_path / "data")], env=_clean_machine(tmp_path, url),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            waited = subprocess.run([sys.executable, "-m", "sandbox.cli", "wait", f"http://127.0.0.1:{port}",
                                     "--timeout", "240"], capture_output=True, text=True, timeout=300)
            assert waited.returncode == 0, waited.stdout + waited.stderr
            token = HTTP.post(f"http://127.0.0.1:{port}/nsp/sts/token",
                               json={"persona": "citizen-2509479989"}).json()["access_token"]
            found = HTTP.get(f"http://127.0.0.1:{port}/dds/fhir/DocumentReference",
                              headers={"Authorization": f"Bearer {token}"},
                              params={"patient.identifier": "urn:oid:1.2.208.176.1.2|2509479989", "status": "current"})
            assert found.json()["total"] > 0
        finally:
            proc.terminate()
            output = proc.communicate(timeout=30)[0]
    assert f"[{len(declared())}/{len(declared())}]" in output
    assert "ready in" in output


def test_up_without_packages_or_registry_stops_with_one_clear_message(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "sandbox.cli", "up", "--port", str(free_port()), "--data-dir",
                           str(tmp_path / "data")], env=_clean_machine(tmp_path, UNREACHABLE),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "medcom.fhir.dk.homecareobservation#1.2.1" in done.stderr
    assert "NSP_SANDBOX_FHIR_PACKAGES" in done.stderr and "ready in" not in done.stdout
