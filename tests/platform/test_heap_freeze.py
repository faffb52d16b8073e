"""A served sandbox freezes its long-lived heap (``gc.freeze``: the packages, the actors) once built and before
it says it is ready, so that no request after "ready" waits for it, and then collects at its own thresholds; a
sandbox built for tests does neither."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from nsp_sandbox.served_gc import SERVED_GC_THRESHOLDS

SCRIPT = """
import gc, json, sys
from sandbox.app import create_sandbox_app
tested = create_sandbox_app(only={"nsp"}, warm_packages=False)
assert tested.state.readiness.wait(120)
thresholds_for_tests = gc.get_threshold()
served = create_sandbox_app(only={"nsp"})  # warm_packages: a server
assert served.state.readiness.wait(120)
frozen_at_ready = gc.get_freeze_count()
create_sandbox_app(only={"nsp"}, warm_packages=False)
print(json.dumps({"served": frozen_at_ready, "after_a_test_build": gc.get_freeze_count() - frozen_at_ready,
                  "thresholds_for_tests": thresholds_for_tests, "thresholds_served": gc.get_threshold()}))
"""


def test_a_server_freezes_its_heap_and_sets_its_collector_before_ready_and_a_test_build_does_not(
        fhir_packages_dir: Path, tmp_path: Path) -> None:
    env = {**os.environ, "NSP_SANDBOX_FHIR_PACKAGES": str(fhir_packages_dir), "NSP_SANDBOX_DATA_DIR": str(tmp_path)}
    env.pop("NSP_SANDBOX_DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["served"] > 50_000  # the packages and the actors
    assert found["after_a_test_build"] < 1_000  # (frozen objects freed meanwhile make it negative)
    assert tuple(found["thresholds_for_tests"]) == (700, 10, 10)  # Python's own
    assert tuple(found["thresholds_served"]) == SERVED_GC_THRESHOLDS
