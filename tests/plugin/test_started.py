"""A vendor's test file run by ``pytester`` with the plugin starting ``nsp-sandbox up`` itself: one sandbox
for the session and one per test (own port, data directory and clock), a token, an MHD round trip, the
clock and a fault seen to act, the ini world file, and a failing test shown with the sandbox's log."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import PATIENT, SOURCE, plugin_args
from servers import HTTP
from sqlalchemy import text

from nsp_sandbox.database import Database

VENDOR_TESTS = '''
import base64, json, pathlib
from datetime import UTC, datetime

BUNDLE = json.loads((pathlib.Path(__file__).parent / "bundle.json").read_text())
PATIENT, SOURCE, READER, VENDOR = "{patient}", "{source}", "gp-skodstrup", "citizen-1212821234"
SEEN = {{}}


def matches(response):
    assert response.status_code == 200, response.text
    return [e["resource"] for e in response.json().get("entry", []) if e["search"]["mode"] == "match"]


def test_session_sandbox_tokens_and_an_mhd_round_trip(nsp_sandbox):
    assert nsp_sandbox.process is not None and nsp_sandbox.url.startswith("http://127.0.0.1:")
    assert nsp_sandbox.token(READER) == nsp_sandbox.token(READER)
    assert nsp_sandbox.token(VENDOR)  # the ini world file's citizen is a persona
    assert nsp_sandbox.mhd(SOURCE).provide(BUNDLE).status_code == 200
    (entry,) = matches(nsp_sandbox.mhd(READER).find(PATIENT, status="current"))
    document = nsp_sandbox.mhd(READER).retrieve(entry["content"][0]["attachment"]["url"])
    assert document.content == base64.b64decode(BUNDLE["entry"][-1]["resource"]["data"])
    SEEN["session"] = nsp_sandbox.url


def test_a_per_test_sandbox_has_its_own_clock_and_faults(nsp_sandbox_per_test, nsp_sandbox):
    sandbox = nsp_sandbox_per_test
    assert sandbox.url != nsp_sandbox.url and sandbox.process.options.data_dir != nsp_sandbox.process.options.data_dir
    sandbox.clock.travel("2026-01-14T12:00:00+01:00", frozen=True)
    assert sandbox.clock.now() == datetime(2026, 1, 14, 11, 0, tzinfo=UTC)
    assert nsp_sandbox.clock.state()["frozen"] is False
    refused = sandbox.mhd(SOURCE).provide(BUNDLE)  # an HCOM before the policy date, without consent
    assert refused.status_code == 422 and "dk-xds-hco-policy-date" in refused.text
    sandbox.faults.on("nsp", "sts-refuse", calls=1)
    assert sandbox.http.post("/nsp/sts/token", json={{"persona": READER}}).status_code == 503
    assert sandbox.http.post("/nsp/sts/token", json={{"persona": READER}}).status_code == 200
    SEEN["per_test"] = sandbox.url


def test_the_next_per_test_sandbox_starts_afresh(nsp_sandbox_per_test):
    sandbox = nsp_sandbox_per_test
    assert sandbox.url not in (SEEN["session"], SEEN["per_test"])
    assert sandbox.clock.state()["frozen"] is False
    assert matches(sandbox.mhd(READER).find(PATIENT, status="current")) == []
    assert sandbox.token(VENDOR)
    assert False, "the vendor's test failed on purpose"


def test_a_failing_session_test_shows_what_the_sandbox_logged(nsp_sandbox):
    assert False, "the vendor's session test failed on purpose"
'''


@pytest.fixture
def vendor(vendor_pytester: pytest.Pytester, provide_bundle: Callable[[], dict[str, Any]],
           fhir_packages_dir: Path, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("NSP_SANDBOX_FHIR_PACKAGES", str(fhir_packages_dir))
    for name in ("NSP_SANDBOX_URL", "NSP_SANDBOX_DATABASE_URL", "NSP_SANDBOX_ADMIN_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    (vendor_pytester.path / "bundle.json").write_text(json.dumps(provide_bundle()))
    (vendor_pytester.path / "world.yaml").write_text('citizens:\n  - {cpr: "1212821234", name: Anna Vendortest}\n')
    return vendor_pytester


@pytest.mark.slow
def test_a_vendors_suite_runs_against_sandboxes_the_plugin_starts(vendor: pytest.Pytester) -> None:
    vendor.makeini("[pytest]\nnsp_sandbox_world = world.yaml\n")
    vendor.makepyfile(test_vendor=VENDOR_TESTS.format(patient=PATIENT, source=SOURCE))
    result = vendor.runpytest_subprocess(*plugin_args(), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=2)
    output = result.stdout.str()
    assert "AssertionError: the vendor's test failed on purpose" in output
    assert "AssertionError: the vendor's session test failed on purpose" in output
    # Each failure shows its sandbox's log: all of a per-test sandbox's, from its start.
    per_test = output.split("test_the_next_per_test_sandbox_starts_afresh", 2)[-1]
    assert re.search(r"nsp-sandbox log \(http://127\.0\.0\.1:\d+\)", per_test)
    assert "nsp-sandbox 0.1.0 ready in" in per_test
    assert re.search(r"nsp-sandbox log \(http://127\.0\.0\.1:\d+\)", output.split("failing_session_test", 2)[-1])


@pytest.mark.slow
def test_a_started_sandbox_uses_the_database_url_given_and_is_left_running_when_kept(
        vendor: pytest.Pytester, database_url: str) -> None:
    # With a database of its own choosing the sandbox is reset at start, and the world file loaded after.
    vendor.makeini(f"[pytest]\nnsp_sandbox_database_url = {database_url}\nnsp_sandbox_world = world.yaml\n")
    session_test = VENDOR_TESTS.format(patient=PATIENT, source=SOURCE).split("\n\ndef test_a_per_test")[0]
    vendor.makepyfile(test_vendor=session_test)
    result = vendor.runpytest_subprocess(*plugin_args(), "-p", "no:cacheprovider", "--nsp-sandbox-keep")
    kept = re.search(r"nsp-sandbox left running at (\S+) \(pid (\d+), data (\S+),", result.stdout.str())
    assert kept, result.stdout.str()
    url, pid, data = kept.group(1), int(kept.group(2)), Path(kept.group(3))
    try:
        result.assert_outcomes(passed=1)
        assert HTTP.get(f"{url}/health", timeout=10).status_code == 200
        database = Database.from_url(database_url)
        with database.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM dds_document_entry")).scalar() == 1
        database.engine.dispose()
    finally:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)
        shutil.rmtree(data, ignore_errors=True)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a child of this process that ended but was not reaped is gone too
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True
