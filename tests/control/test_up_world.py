"""``nsp-sandbox up --world FILE``: the file is posted to the running sandbox's ``POST /sandbox/world``
(``sandbox.world_command``) before it says it is ready; a refused file is reported where it is wrong."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
import yaml
from servers import HTTP, free_port
from world_support import ANNA, world_file

from nsp_sandbox.context import SandboxContext
from sandbox.app import create_sandbox_app
from sandbox.world_command import load_world_file


@pytest.fixture
def origin(context: SandboxContext) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_sandbox_app(context, warm_packages=False), host="127.0.0.1",
                                           port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True


def test_a_yaml_and_a_json_world_file_are_loaded(origin: str, tmp_path: Path) -> None:

    lines: list[str] = []
    as_yaml = tmp_path / "vendor.yaml"
    as_yaml.write_text(yaml.safe_dump(world_file(), allow_unicode=True), encoding="utf-8")
    assert load_world_file(as_yaml, origin, None, lines.append) is None
    assert lines[-1].startswith(f"World file {as_yaml} loaded: 2 organisations, 3 citizens")
    assert f"citizen-{ANNA}" in {p["id"] for p in HTTP.get(f"{origin}/nsp/personas").json()}
    as_json = tmp_path / "more.json"
    as_json.write_text(json.dumps({"citizens": [{"cpr": "1111111118", "name": "Jens Jsontest"}]}))
    assert load_world_file(as_json, origin, None, lines.append) is None
    assert "citizen-1111111118" in {p["id"] for p in HTTP.get(f"{origin}/nsp/personas").json()}


def test_a_refused_world_file_is_reported_where_it_is_wrong(origin: str, tmp_path: Path) -> None:
    lines: list[str] = []
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("citizens:\n- {cpr: '1111111118', name: A, nmae: B}\n", encoding="utf-8")
    assert load_world_file(wrong, origin, None, lines.append) == f"the world file {wrong}"
    assert lines[0] == f"World file {wrong}: refused (HTTP 422):"
    assert lines[1].startswith("  citizens[0].nmae: Unknown field 'nmae'")


def test_up_loads_the_world_file_before_it_is_ready(tmp_path: Path, fhir_packages_dir: Path) -> None:
    """The command itself: ``/health`` says ready only once the vendor's personas are there."""
    import os
    import subprocess
    import sys

    import httpx2 as httpx

    as_yaml = tmp_path / "vendor.yaml"
    as_yaml.write_text(yaml.safe_dump(world_file(), allow_unicode=True), encoding="utf-8")
    port = free_port()
    env = {**os.environ, "NSP_SANDBOX_FHIR_PACKAGES": str(fhir_packages_dir)}
    env.pop("NSP_SANDBOX_DATABASE_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "sandbox.cli", "up", "--port", str(port), "--no-demo",
                             "--data-dir", str(tmp_path / "data"), "--world", str(as_yaml)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base, health = f"http://127.0.0.1:{port}", None
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                health = HTTP.get(f"{base}/health", timeout=1)
                if health.status_code == 200 or health.json().get("status") == "degraded":
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        assert health is not None and health.status_code == 200, health.text if health else "no answer"
        assert f"citizen-{ANNA}" in {p["id"] for p in HTTP.get(f"{base}/nsp/personas").json()}
    finally:
        proc.terminate()
        output = proc.communicate(timeout=20)[0]
    assert f"World file {as_yaml} loaded" in output
