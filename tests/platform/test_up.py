"""`nsp-sandbox up`: one process, one origin, every built actor, answering HTTP in well under 2 s;
"ready" (``GET /health`` 200, ``nsp-sandbox wait``) only once the packages and the demo data are in."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from servers import HTTP, free_port

from sandbox.actors import ACTORS


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory, fhir_packages_dir: Path) -> Iterator[tuple[str, float, str]]:
    port = free_port()
    data = tmp_path_factory.mktemp("up-data")
    env = {**os.environ, "NSP_SANDBOX_FHIR_PACKAGES": str(fhir_packages_dir),
           "FHIR_PACKAGE_CACHE": str(data / "cache")}
    env.pop("NSP_SANDBOX_DATABASE_URL", None)
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "sandbox.cli", "up", "--port", str(port),
                             "--data-dir", str(data)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    base = f"http://localhost:{port}"
    ready = None
    while time.perf_counter() - started < 60:  # a loaded machine: the timing test holds the real limit
        try:
            if HTTP.get(f"{base}/health", timeout=0.5).status_code in (200, 503):
                ready = time.perf_counter() - started
                break
        except httpx.HTTPError:
            time.sleep(0.02)
    if ready is None:
        proc.kill()
        pytest.fail(f"sandbox did not start: {proc.communicate()[0]}")
    while time.perf_counter() - started < 120:  # answering at once ("starting"); the actors follow
        if "actors" in HTTP.get(f"{base}/health", timeout=5).json():
            break
        time.sleep(0.05)
    yield base, ready, str(data)
    proc.terminate()
    try:
        output = proc.communicate(timeout=10)[0]
    except subprocess.TimeoutExpired:
        proc.kill()
        output = proc.communicate()[0]
    running.output = output  # type: ignore[attr-defined]


@pytest.mark.timing
def test_answers_http_in_well_under_two_seconds(running: tuple[str, float, str], fhir_packages_dir: Path,
                                         tmp_path: Path) -> None:
    """From process start to answering HTTP (``/health``, ready or not yet). Other tests may load the
    machine at the same time, so the best of up to three starts counts (each on a fresh data dir)."""
    times = [running[1]]
    while min(times) >= 2.0 and len(times) < 3:
        times.append(_time_to_ready(fhir_packages_dir, tmp_path / f"try{len(times)}"))
    assert min(times) < 2.0, f"ready after {', '.join(f'{t:.2f}' for t in times)} s"


def _time_to_ready(fhir_packages_dir: Path, data: Path) -> float:
    port = free_port()
    env = {**os.environ, "NSP_SANDBOX_FHIR_PACKAGES": str(fhir_packages_dir)}
    env.pop("NSP_SANDBOX_DATABASE_URL", None)
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "sandbox.cli", "up", "--port", str(port),
                             "--data-dir", str(data)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - started < 15:
            try:
                if HTTP.get(f"http://localhost:{port}/health", timeout=0.5).status_code in (200, 503):
                    return time.perf_counter() - started
            except httpx.HTTPError:
                time.sleep(0.02)
        return float("inf")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_landing_page_lists_the_actors(running: tuple[str, float, str]) -> None:
    base, _, _ = running
    page = HTTP.get(base + "/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for actor in ACTORS:
        if actor.factory() is not None:
            assert f'href="{base}{actor.prefix}{actor.entry}"' in page.text


def test_dds_metadata_is_served(running: tuple[str, float, str]) -> None:
    base, _, _ = running
    response = HTTP.get(base + "/dds/fhir/metadata")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    assert response.json()["resourceType"] == "CapabilityStatement"


def test_default_storage_is_sqlite_under_the_data_dir(running: tuple[str, float, str]) -> None:
    _, _, data = running
    assert (Path(data) / "sandbox.db").is_file()


def test_urls_are_printed(fhir_packages_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "NSP_SANDBOX_FHIR_PACKAGES": str(fhir_packages_dir)}
    proc = subprocess.Popen([sys.executable, "-m", "sandbox.cli", "up", "--port", str(port),
                             "--data-dir", str(tmp_path)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.time() + 120  # "ready" comes after the demo data is in: slow on a loaded machine
        while time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("Press Ctrl+C"):
                break
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    text = "".join(lines)
    assert text.index(f"listening on http://localhost:{port}") < text.index("ready in")
    assert f"http://localhost:{port}/dds/fhir/metadata" in text


def _documents(base: str) -> list[str]:
    token = HTTP.post(f"{base}/nsp/sts/token", json={"persona": "citizen-2509479989"}).json()["access_token"]
    found = HTTP.get(f"{base}/dds/fhir/DocumentReference", headers={"Authorization": f"Bearer {token}"},
                      params={"patient.identifier": "urn:oid:1.2.208.176.1.2|2509479989",
                              "status": "current,superseded,entered-in-error", "_count": "100"})
    assert found.status_code == 200, found.text
    return sorted(e["resource"]["id"] for e in found.json().get("entry", []))


def test_wait_returns_once_every_demo_document_is_in(running: tuple[str, float, str]) -> None:
    """A CI job that starts the sandbox, waits, and counts at once sees the final number."""
    base, _, _ = running
    waited = subprocess.run([sys.executable, "-m", "sandbox.cli", "wait", base, "--timeout", "120"],
                            capture_output=True, text=True, timeout=180)
    assert waited.returncode == 0, waited.stdout + waited.stderr
    assert HTTP.get(f"{base}/health").json()["status"] == "ready"
    first = _documents(base)
    time.sleep(1.0)
    assert _documents(base) == first
    assert len(first) >= 8  # the shared HCO examples (new, corrected, retracted) and the PLSP on-demand entries
