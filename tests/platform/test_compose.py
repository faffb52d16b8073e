"""compose.yaml parses, and every command it runs exists in the CLI (no Docker daemon needed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from sandbox.actors import ACTORS
from sandbox.cli import app

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))


def test_compose_has_postgres_and_one_service_per_built_actor(compose: dict) -> None:
    services = compose["services"]
    assert services["postgres"]["image"].startswith("postgres:")
    built = {a.name for a in ACTORS if a.factory() is not None}
    served = {svc["command"][1] for name, svc in services.items() if name != "postgres"}
    assert served == built


def test_every_compose_command_exists_in_the_cli(compose: dict) -> None:
    runner = CliRunner()
    known = {a.name for a in ACTORS}
    for name, svc in compose["services"].items():
        if name == "postgres":
            continue
        command = svc["command"]
        result = runner.invoke(app, [command[0], "--help"])
        assert result.exit_code == 0, f"{name}: '{command[0]}' is not a CLI command: {result.output}"
        assert command[1] in known, f"{name}: unknown actor {command[1]}"
        assert svc["environment"]["NSP_SANDBOX_DATABASE_URL"].startswith("postgresql://")


def test_dockerfile_entrypoint_is_the_cli() -> None:
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert 'ENTRYPOINT ["nsp-sandbox"]' in text
    assert 'CMD ["up"' in text


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose is not installed")
def test_docker_compose_config_accepts_the_file() -> None:
    result = subprocess.run(["docker-compose", "-f", str(REPO / "compose.yaml"), "config", "-q"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
