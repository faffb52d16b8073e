"""``nsp-sandbox check``: a suite run on an embedded sandbox and on a running one (``--sandbox``), with a line
per instruction and per finished case, the JUnit and HTML files written, and the exit code the verdict's."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from runs_support import NOT_INTERACTIVE, TARGET, origin, self_test_suite
from servers import HTTP, free_port
from typer.testing import CliRunner

from sandbox.cli import app

__all__ = ["origin", "self_test_suite"]


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch, database_url: str, fhir_packages_dir: Path, tmp_path: Path) -> Path:
    """What the embedded sandbox is built from: the test's database and the official packages."""
    monkeypatch.setenv("NSP_SANDBOX_DATABASE_URL", database_url)
    monkeypatch.setenv("NSP_SANDBOX_FHIR_PACKAGES", str(fhir_packages_dir))
    monkeypatch.setenv("NSP_SANDBOX_FHIR_PACKAGE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("NSP_SANDBOX_URL", raising=False)
    monkeypatch.delenv("NSP_SANDBOX_ADMIN_TOKEN", raising=False)
    return tmp_path


def _check(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    done = CliRunner().invoke(app, ["check", *args], env=env)
    return done.exit_code, done.output


def test_in_process_a_failed_run_exits_1_and_writes_both_reports(embedded: Path) -> None:
    junit, html = embedded / "out" / "junit.xml", embedded / "report.html"
    junit.parent.mkdir()
    cases = [arg for name in NOT_INTERACTIVE for arg in ("--case", name)]
    code, output = _check("self-test", "--target", TARGET, *cases, "--option", "flavour=mint", "--junit", str(junit),
                          "--html", str(html), "--data-dir", str(embedded / "data"))
    assert code == 1, output
    lines = output.splitlines()
    assert "  PASS  personas-listed  NSP lists its personas" in lines
    failed = lines.index("  FAIL  search-without-token  DDS answers a search without a token with 200")
    assert lines[failed + 1] == "        ITI-67 without a token answered HTTP 401, not 200"
    assert "  PASS  flavour-given  A flavour option was given" in lines
    assert "FAILED: 2 passed, 1 failed, 0 skipped" in lines and "Failed: search-without-token" in lines
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == ("3", "1")
    property_values = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert property_values["option.flavour"] == "mint" and property_values["target"] == TARGET
    page = html.read_text(encoding="utf-8")
    assert all(f'id="case-{name}"' in page for name in NOT_INTERACTIVE) and "Verdict" in page


def test_in_process_a_passed_run_exits_0(embedded: Path) -> None:
    code, output = _check("self-test", "--target", TARGET, "--case", "personas-listed")
    assert code == 0, output
    assert output.splitlines()[-1] == "PASSED: 1 passed, 0 failed, 0 skipped"


def test_on_a_running_sandbox_instructions_are_printed_as_they_come(origin: str, tmp_path: Path) -> None:
    checked = threading.Event()

    def participant() -> None:
        """Wait for the run to ask, then do what it asks (or stop, once the check has ended without asking)."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not checked.is_set():
            runs = HTTP.get(f"{origin}/sandbox/runs").json()
            if runs and HTTP.get(f"{origin}/sandbox/runs/{runs[0]['id']}").json()["next_instruction"]:
                HTTP.put(f"{origin}/sandbox/clock", json={"frozen": True})
                return
            time.sleep(0.05)

    acting = threading.Thread(target=participant, daemon=True)
    acting.start()
    junit = tmp_path / "junit.xml"
    code, output = _check("self-test", "--target", TARGET, "--case", "clock-frozen", "--case", "personas-listed",
                          "--sandbox", origin, "--junit", str(junit))
    checked.set()
    acting.join(timeout=5)
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0].startswith(f"Running suite self-test against {TARGET}: {origin}/sandbox/runs/")
    asked = lines.index('  >> clock-frozen: Freeze the sandbox clock: PUT /sandbox/clock {"frozen": true}')
    assert lines.index("  PASS  personas-listed  NSP lists its personas") < asked
    assert asked < lines.index("  PASS  clock-frozen  The participant freezes the clock")
    assert ET.parse(junit).getroot().find("testsuite").get("tests") == "2"  # type: ignore[union-attr]
    HTTP.delete(f"{origin}/sandbox/clock")


def test_what_cannot_be_run_exits_2(origin: str) -> None:
    code, output = _check("no-such-suite", "--target", TARGET, "--sandbox", origin)
    assert code == 2 and "suite: Unknown suite 'no-such-suite'; known: self-test" in output
    code, output = _check("self-test", "--target", TARGET, "--option", "flavour", "--sandbox", origin)
    assert code == 2 and "--option takes NAME=VALUE, not 'flavour'" in output
    code, output = _check("self-test", "--sandbox", origin)
    assert code == 2 and "give the suite and --target" in output
    code, output = _check("self-test", "--target", TARGET, "--sandbox", f"http://127.0.0.1:{free_port()}")
    assert code == 2 and "could not be reached: ConnectError" in output
    code, output = _check("--list", "--sandbox", origin)
    assert code == 0 and output.split() == ["self-test", "dds", "The", "sandbox", "checks", "itself"]
    code, output = _check("--list", env={"NSP_SANDBOX_URL": f"http://127.0.0.1:{free_port()}"})
    assert code == 2 and "could not be reached" in output  # NSP_SANDBOX_URL is --sandbox
