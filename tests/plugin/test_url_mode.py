"""A vendor's test file run by ``pytester`` against a sandbox already running (``--nsp-sandbox-url``, the
CI-service case): nothing is started, the operator's token comes from ``NSP_SANDBOX_ADMIN_TOKEN``, and
each per-test fixture begins with ``reset()`` on real time with every fault off and ends with the
clock back and the faults off."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import ADMIN_TOKEN, PATIENT, SOURCE, matches, plugin_args
from servers import HTTP

from nsp_sandbox.context import SandboxContext

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dds"))

from served import serve

VENDOR_TESTS = '''
import json, pathlib, pytest
from datetime import UTC, datetime

BUNDLE = json.loads((pathlib.Path(__file__).parent / "bundle.json").read_text())
PATIENT, SOURCE, READER = "{patient}", "{source}", "gp-skodstrup"
URL = "{url}"


def matches(response):
    assert response.status_code == 200, response.text
    return [e["resource"] for e in response.json().get("entry", []) if e["search"]["mode"] == "match"]


def test_a_provides_travels_and_sees_a_fault_act(nsp_sandbox_per_test, nsp_sandbox):
    assert nsp_sandbox_per_test is nsp_sandbox and nsp_sandbox.url == URL and nsp_sandbox.process is None
    assert nsp_sandbox.mhd(SOURCE).provide(BUNDLE).status_code == 200
    nsp_sandbox.clock.travel("2026-03-01T08:00:00+01:00", frozen=True)
    nsp_sandbox.faults.on("dds", "unavailable", calls=1)
    assert nsp_sandbox.mhd(READER).find(PATIENT, status="current").status_code == 503
    assert len(matches(nsp_sandbox.mhd(READER).find(PATIENT, status="current"))) == 1


def test_b_begins_emptied_on_real_time_with_no_fault(nsp_sandbox_per_test):
    sandbox = nsp_sandbox_per_test
    assert sandbox.clock.state()["frozen"] is False
    assert abs((sandbox.clock.now() - datetime.now(UTC)).total_seconds()) < 120
    assert [s for s in sandbox.faults.list() if s["state"]["on"]] == []
    assert matches(sandbox.mhd(READER).find(PATIENT, status="current")) == []
    assert sandbox.mhd(SOURCE).provide(BUNDLE).status_code == 200  # the same uniqueIds: DDS was emptied
    sandbox.clock.travel("2026-03-01T08:00:00+01:00", frozen=True)
    sandbox.faults.on("plsp", "on-demand-fail")
'''


def test_a_vendors_suite_uses_the_running_sandbox_and_resets_it_between_tests(
        vendor_pytester: pytest.Pytester, operated: SandboxContext, provide_bundle: Callable[[], dict[str, Any]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NSP_SANDBOX_ADMIN_TOKEN", ADMIN_TOKEN)
    monkeypatch.delenv("NSP_SANDBOX_URL", raising=False)
    (vendor_pytester.path / "bundle.json").write_text(json.dumps(provide_bundle()))
    with serve(operated) as url:
        vendor_pytester.makepyfile(test_vendor=VENDOR_TESTS.format(patient=PATIENT, source=SOURCE, url=url))
        result = vendor_pytester.runpytest_subprocess(*plugin_args(), "-p", "no:cacheprovider",
                                                      "--nsp-sandbox-url", url)
        result.assert_outcomes(passed=2)
        operator = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        # The last test's teardown: the clock on real time, every fault switch off; its document stays.
        clock = HTTP.get(f"{url}/sandbox/clock", headers=operator).json()
        assert clock["frozen"] is False
        assert abs((datetime.fromisoformat(clock["now"]) - datetime.now(UTC)).total_seconds()) < 120
        assert [s for s in HTTP.get(f"{url}/sandbox/faults", headers=operator).json() if s["state"]["on"]] == []
        token = HTTP.post(f"{url}/nsp/sts/token", json={"persona": "gp-skodstrup"}).json()["access_token"]
        found = HTTP.get(f"{url}/dds/fhir/DocumentReference", headers={"Authorization": f"Bearer {token}"},
                          params={"patient.identifier": f"urn:oid:1.2.208.176.1.2|{PATIENT}", "status": "current"})
        assert len(matches(found)) == 1
        # Without the operator's token the plugin cannot reset: the fixture's error says why.
        monkeypatch.setenv("NSP_SANDBOX_URL", url)
        monkeypatch.delenv("NSP_SANDBOX_ADMIN_TOKEN")
        refused = vendor_pytester.runpytest_subprocess(*plugin_args(), "-p", "no:cacheprovider", "-k", "test_b")
        refused.assert_outcomes(errors=1)
        refused.stdout.fnmatch_lines(["*SandboxError: reset the sandbox: HTTP 401*NSP_SANDBOX_ADMIN_TOKEN*"])
