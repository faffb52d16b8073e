"""``nsp-sandbox up`` as the plugin starts it: a start that fails says why with the sandbox's log, and a
start interrupted while waiting never leaves the process running."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.pytest_plugin import process as process_module
from sandbox.pytest_plugin.process import SandboxProcess, SandboxStartError, StartOptions


def test_a_sandbox_that_cannot_start_is_reported_with_its_exit_status_and_log(tmp_path: Path) -> None:
    started = SandboxProcess(StartOptions(tmp_path / "data", "token", database_url="nosuchdb://nowhere", timeout=120))
    with pytest.raises(SandboxStartError) as failed:
        started.start()
    message = str(failed.value)
    assert "nsp-sandbox up exited with status 1 before it was ready" in message
    assert f"--- its log ({tmp_path / 'data' / 'nsp-sandbox.log'}) ---" in message
    assert "error: the sandbox could not start" in message and "nosuchdb" in message
    assert not started.running


def test_a_start_interrupted_while_waiting_stops_the_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(process_module, "wait_ready", interrupted)
    started = SandboxProcess(StartOptions(tmp_path / "data", "token"))
    with pytest.raises(KeyboardInterrupt):
        started.start()
    assert started.pid is not None and not started.running
