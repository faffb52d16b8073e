"""``nsp-sandbox xds …`` against the fake DDS: the exchange is printed readably and the outcome last."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from test_xds_client_fake import SYSTEM, USER, FakeDds, client_for, document_reference
from typer.testing import CliRunner

from sandbox import xds_command
from sandbox.cli import app


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeDds:
    server = FakeDds()

    def made(url: str, persona: str, quiet: bool) -> Any:
        return client_for(server, USER if persona.startswith("gp") else SYSTEM,
                          trace=None if quiet else xds_command.trace)

    monkeypatch.setattr(xds_command, "_client", made)
    return server


def test_provide_prints_the_mtom_exchange_and_the_outcome(fake: FakeDds, tmp_path: Path) -> None:
    resource = document_reference()
    resource["content"][0]["attachment"]["data"] = base64.b64encode(b'{"resourceType": "Bundle"}').decode()
    file = tmp_path / "dr.json"
    file.write_text(json.dumps(resource), encoding="utf-8")
    result = CliRunner().invoke(app, ["xds", "provide", str(file), "--persona", "system-eoj-aarhus"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "ITI-41 →" in out and "wsa:Action  urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b" in out
    assert "wsse:Security  ID card system level 3" in out and "medcom:Header  SecurityLevel=3" in out
    assert "attachment <" in out and ": 26 bytes" in out
    assert "<xop:Include" in out and "HSUID" not in out
    assert out.rstrip().splitlines()[-2] == "ITI-41: Success"
    assert fake.requests[0].url.path == "/dds/drs/proxy"


def test_find_prints_hsuid_and_the_result(fake: FakeDds) -> None:
    result = CliRunner().invoke(app, ["xds", "find", "--cpr", "0108589995", "--persona", "gp-skodstrup",
                                      "--consent-override"])
    assert result.exit_code == 0, result.output
    assert "HSUID  UserType=nsi:HealthcareProfessional" in result.output
    assert "ConsentOverride=true" in result.output
    assert result.output.rstrip().endswith("ITI-18: Success, 0 object(s)")


def test_retrieve_with_a_repository_id_writes_the_bytes(fake: FakeDds, tmp_path: Path) -> None:
    out = tmp_path / "doc.xml"
    result = CliRunner().invoke(app, ["xds", "retrieve", "--document-id", "1.2.3", "--repository-id", "1.2.208.1",
                                      "--persona", "gp-skodstrup", "--cpr", "0108589995", "--out", str(out),
                                      "--quiet"])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == b"<doc>\x00bytes</doc>"
    assert "ITI-43: Success" in result.output and "==== " not in result.output
