"""One ``nsp-sandbox up`` started for a test run: a subprocess on a free port with its own data directory
(its SQLite database, its sandbox clock) and its own log file, waited for until ``GET /health`` says
ready, and stopped at the end.

The log file is the sandbox's whole output; :meth:`SandboxProcess.log_since` gives the part written
while one test ran, so a failing test can show what the sandbox said meanwhile.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx

LOG_NAME = "nsp-sandbox.log"
LOG_TAIL_CHARS = 6000  # of the log shown when the sandbox does not start


class SandboxStartError(RuntimeError):
    """The sandbox did not become ready: it exited, said it is degraded, or the time ran out."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class StartOptions:
    """How to start one sandbox: where it keeps its data, which database, the operator's token, and
    whether to share the demo data at start (off: an empty sandbox, as after ``POST /sandbox/reset``)."""

    data_dir: Path
    admin_token: str
    database_url: str | None = None
    demo: bool = False
    timeout: float = 120.0


def wait_ready(url: str, timeout: float, exited: Callable[[], str | None] = lambda: None) -> None:
    """Return once ``GET {url}/health`` answers 200; :class:`SandboxStartError` when it says ``degraded``,
    when ``exited()`` says why the sandbox is gone, or after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last = "not answering yet"
    with httpx.Client(timeout=5) as http:
        while time.monotonic() < deadline:
            gone = exited()
            if gone:
                raise SandboxStartError(gone)
            try:
                answer = http.get(f"{url}/health")
                body = answer.json() if answer.content else {}
            except (httpx.HTTPError, ValueError):
                time.sleep(0.1)
                continue
            if answer.status_code == 200:
                return
            last = str(body.get("status", answer.status_code)) if isinstance(body, dict) else str(answer.status_code)
            if last == "degraded":
                missing = ", ".join(body.get("missing", []))
                raise SandboxStartError(f"nsp-sandbox at {url} is degraded, missing {missing}")
            time.sleep(0.1)
    raise SandboxStartError(f"nsp-sandbox at {url} was not ready after {timeout:.0f} s (last: {last})")


class SandboxProcess:
    """``nsp-sandbox up`` in a subprocess, started by :meth:`start` and ended by :meth:`stop`."""

    def __init__(self, options: StartOptions) -> None:
        self.options = options
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = options.data_dir / LOG_NAME
        self._popen: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        """The command line: this interpreter's ``nsp-sandbox up`` (the same installation as the tests)."""
        command = [sys.executable, "-m", "sandbox.cli", "up", "--host", "127.0.0.1", "--port", str(self.port),
                   "--data-dir", str(self.options.data_dir)]
        return command if self.options.demo else [*command, "--no-demo"]

    def environment(self) -> dict[str, str]:
        env = {**os.environ, "NSP_SANDBOX_ADMIN_TOKEN": self.options.admin_token}
        if self.options.database_url:
            env["NSP_SANDBOX_DATABASE_URL"] = self.options.database_url
        else:  # its own SQLite database in its own data directory
            env.pop("NSP_SANDBOX_DATABASE_URL", None)
        return env

    def start(self) -> None:
        """Start it and wait until it is ready; :class:`SandboxStartError` with its log when it is not."""
        self.options.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._popen = subprocess.Popen(self.command(), env=self.environment(), stdout=log,
                                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            self._wait_ready()
        except BaseException:  # not ready, or interrupted: never leave it running behind
            self.stop()
            raise

    def _wait_ready(self) -> None:
        def exited() -> str | None:
            if self._popen is not None and self._popen.poll() is None:
                return None
            code = None if self._popen is None else self._popen.returncode
            return f"nsp-sandbox up exited with status {code} before it was ready ({self.url})"

        try:
            wait_ready(self.url, self.options.timeout, exited)
        except SandboxStartError as exc:
            raise SandboxStartError(f"{exc}{self._tail()}") from None

    @property
    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    @property
    def pid(self) -> int | None:
        return None if self._popen is None else self._popen.pid

    def stop(self) -> None:
        """End it (SIGTERM, then SIGKILL after 20 s)."""
        if self._popen is None or self._popen.poll() is not None:
            return
        self._popen.terminate()
        try:
            self._popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._popen.kill()
            self._popen.wait(timeout=10)

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_since(self, offset: int) -> str:
        """What the sandbox wrote to its log from byte ``offset`` on."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(offset)
                return log.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def _tail(self) -> str:
        text = self.log_since(0)
        if len(text) > LOG_TAIL_CHARS:
            text = "…" + text[-LOG_TAIL_CHARS:]
        return f"\n--- its log ({self.log_path}) ---\n{text}" if text else f"\n(its log {self.log_path} is empty)"
