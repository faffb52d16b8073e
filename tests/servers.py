"""For tests that start a real sandbox server: a free local port to run it on, one HTTP client to call it, and the
wait until it answers.

``HTTP`` stands in for ``httpx.get(...)`` & co.: each of those makes a client, and making a client loads the
machine's CA certificates (tens of milliseconds of CPU), which a health poll every fraction of a second repeats
for nothing — the sandboxes here are served over plain HTTP. Like those calls, ``HTTP`` opens a connection per
request (``Connection: close``): nothing is kept open to a server a test stops or kills. ``TLS`` is the one
context for the tests' own clients (``httpx.Client(verify=TLS, ...)``)."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx

TLS = ssl.create_default_context()
HTTP = httpx.Client(timeout=5, verify=TLS, headers={"Connection": "close"})


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(base: str, seconds: float, process: subprocess.Popen[Any] | None = None) -> str | None:
    """Poll ``base``/health every 0.1 s until it answers 200: None then, else why not (``process``, the server's,
    ended; or ``seconds`` passed)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return f"the server process ended with exit code {process.returncode}"
        try:
            if HTTP.get(f"{base}/health", timeout=2).status_code == 200:
                return None
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return f"{base}/health did not answer 200 within {seconds:.0f} s"


def ready_line(process: subprocess.Popen[str], seconds: float = 60.0) -> str:
    """The line ``nsp-sandbox up`` prints once it is ready (``… ready in …``), read from ``process``'s standard output
    (a text pipe): its health check may answer before the line is written. "" when it did not come within
    ``seconds``, or the process ended first. The lines before it are read and dropped."""
    found: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if " ready in " in line:
                found.append(line)
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(seconds)
    return found[0] if found else ""


def up_ready(fhir_packages_dir: Path, data_dir: Path, **settings: str) -> tuple[subprocess.Popen[str], str]:
    """``nsp-sandbox up`` started with ``settings`` added to the environment (SQLite in ``data_dir``), once it is
    healthy and has said it is ready: the process (the caller stops it) and its "ready" line. Raises when it did
    not get there, the process stopped."""
    env = {**os.environ, "NSP_SANDBOX_FHIR_PACKAGES": str(fhir_packages_dir),
           "FHIR_PACKAGE_CACHE": str(data_dir / "cache"), **settings}
    env.pop("NSP_SANDBOX_DATABASE_URL", None)
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "sandbox.cli", "up", "--no-demo", "--port", str(port),
                                "--data-dir", str(data_dir)], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    why = wait_healthy(f"http://127.0.0.1:{port}", 120, process)
    ready = ready_line(process) if why is None else ""
    if not ready:
        process.kill()
        output = process.communicate(timeout=30)[0]
        raise AssertionError(f"the sandbox did not become ready: {why or 'no ready line'}\n{output[-2000:]}")
    return process, ready


def validation_process_ready(process: Any, timeout: float = 60.0) -> Any:
    """``process`` (a ``nsp_sandbox.validation_process.ValidationProcess``) once its child has loaded the
    sandbox's packages."""
    deadline = time.monotonic() + timeout
    while not process.ready:
        assert time.monotonic() < deadline, "the validation process did not load its packages"
        time.sleep(0.02)
    return process
