"""A run whose sandbox process dies is not lost: another process on the same database shows it failed,
naming the process that stopped, with the cases it never finished still listed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from fastapi.testclient import TestClient
from runs_support import SUITE, TARGET, self_test_suite
from servers import HTTP, free_port, wait_healthy

from nsp_sandbox.context import SandboxContext
from sandbox.runs.store import HOST

__all__ = ["self_test_suite"]
TESTS = Path(__file__).resolve().parent.parent

SERVE = textwrap.dedent("""
    import sys
    sys.path[:0] = [{repo!r}, {tests!r}, {control!r}]
    import uvicorn
    from runs_support import SUITE
    from nsp_sandbox.clock import Clock
    from nsp_sandbox.config import Settings
    from nsp_sandbox.context import SandboxContext
    from nsp_sandbox.database import Database
    from sandbox.app import create_sandbox_app
    from sandbox.runs import suites

    suites.all_suites = lambda: [SUITE]
    settings = Settings(database_url={url!r}, fhir_packages={packages!r}, data_dir={folder!r})
    context = SandboxContext(settings, Clock(), Database.from_url({url!r}))
    uvicorn.run(create_sandbox_app(context, warm_packages=False), host="127.0.0.1", port={port}, log_level="warning")
""")


def test_a_run_whose_process_was_killed_reads_back_failed(client: TestClient, context: SandboxContext,
                                                          tmp_path: Path) -> None:
    port = free_port()
    script = SERVE.format(repo=str(TESTS.parent), tests=str(TESTS), control=str(TESTS / "control"), port=port,
                          url=context.settings.database_url, packages=context.settings.fhir_packages,
                          folder=str(tmp_path))
    other = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    origin = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        why = wait_healthy(origin, 60, other)
        assert other.poll() is None, other.stderr.read().decode() if other.stderr else "it stopped"
        assert why is None, f"the other sandbox process did not answer: {why}"
        started = HTTP.post(f"{origin}/sandbox/runs", json={"suite": SUITE.name, "target": TARGET,
                                                              "cases": ["personas-listed", "clock-frozen"]})
        assert started.status_code == 201, started.text
        run_id = started.json()["id"]
        while not HTTP.get(f"{origin}/sandbox/runs/{run_id}").json()["next_instruction"]:
            assert time.monotonic() < deadline, "the run did not come to its instruction"
            time.sleep(0.05)
        seen_here = client.get(f"/sandbox/runs/{run_id}").json()  # this process reads it as it goes
        assert seen_here["status"] == "running" and [c["name"] for c in seen_here["cases"]] == ["personas-listed"]
    finally:
        other.kill()
        other.wait(timeout=10)

    run = client.get(f"/sandbox/runs/{run_id}").json()
    assert run["status"] == "failed" and run["finished"]
    assert run["message"] == (f"The run stopped unfinished: the sandbox process that ran it (pid {other.pid} on "
                              f"{HOST}) has stopped.")
    assert [c["status"] for c in run["cases"]] == ["passed"] and run["cases"][0]["evidence"]
    assert [p["name"] for p in run["pending"]] == ["clock-frozen"] and run["next_instruction"] is None
