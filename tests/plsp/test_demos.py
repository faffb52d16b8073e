"""The PLSP demos (``nsp-sandbox demo conditionlist`` / ``demo notes``) and the demo data of ``up``."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from plsp_support import CL_TYPE, NOTE_TYPE, Reader
from typer.testing import CliRunner

from nsp_sandbox.context import SandboxContext
from sandbox.demo_plsp import DEMO_CPR, conditionlist_scenario, load_plsp_demo, notes_scenario


def test_the_conditionlist_scenario(client: TestClient, clock: SandboxContext) -> None:
    lines: list[str] = []
    final = conditionlist_scenario(client, "http://sandbox.test", report=lines.append)
    text = "\n".join(lines)
    assert text.count("DDS (ITI-67, as the citizen): 0 current entries") == 2  # unapproved, then emptied
    assert text.count("DDS (ITI-67, as the citizen): 1 current entry") == 2
    assert "DF339/P76 'Depression'" in text  # shared once the private mark is removed
    assert "warning: plsp-card-approved @ approval" in text
    assert "ITI-68 of the withdrawn DocumentReference" in text and "HTTP 200" not in text
    assert final["dds"]["state"] == "deprecated"


def test_the_notes_scenario(client: TestClient, clock: SandboxContext) -> None:
    lines: list[str] = []
    final = notes_scenario(client, "http://sandbox.test", report=lines.append)
    text = "\n".join(lines)
    assert "removed: <script>" in text and "alert" not in text
    assert "updated 2026-05-06T07:32:00+02:00" in text
    assert final["state"] == "cancelled"
    assert len(Reader(client, f"citizen-{DEMO_CPR}").search(type_code=NOTE_TYPE)) == 1


def test_the_demo_data_is_loaded_once(client: TestClient, clock: SandboxContext) -> None:
    lines: list[str] = []
    assert load_plsp_demo(client, "http://sandbox.test", report=lines.append) == 3
    assert load_plsp_demo(client, "http://sandbox.test", report=lines.append) == 0
    citizen = Reader(client, f"citizen-{DEMO_CPR}")
    assert len(citizen.search(type_code=CL_TYPE)) == 1 and len(citizen.search(type_code=NOTE_TYPE)) == 2


def test_the_demo_commands_run(fhir_packages_dir: Path, tmp_path: Path) -> None:
    from sandbox.cli import app

    env = {"NSP_SANDBOX_FHIR_PACKAGES": str(fhir_packages_dir), "FHIR_PACKAGE_CACHE": str(tmp_path / "cache")}
    for name, expected in (("conditionlist", "senest opdateret"), ("notes", "Note 1 cancelled")):
        result = CliRunner().invoke(app, ["demo", name, "--data-dir", str(tmp_path / name)], env=env)
        assert result.exit_code == 0, result.output
        assert expected in result.output
