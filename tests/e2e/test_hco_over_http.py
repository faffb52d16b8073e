"""The EOJ and the GP emulator as two separate sandboxes, each with its own database, talking real
HTTP over sockets — as when one of them is a vendor's system."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
import uvicorn
from actor_tokens import ActorTokens
from hco_flow import CPR, SKODSTRUP, order
from servers import TLS, free_port

from nsp_sandbox.clock import Clock
from nsp_sandbox.config import Settings
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.database import Database
from sandbox.app import create_sandbox_app


def _serve(context: SandboxContext, only: set[str], port: int) -> uvicorn.Server:
    app = create_sandbox_app(context, warm_packages=False, only=only)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    return server


@pytest.fixture
def two_sandboxes(settings_base: Settings, packages, tmp_path: Path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    municipality, gp = free_port(), free_port()
    urls = {"eoj_url": f"http://127.0.0.1:{municipality}/eoj", "lps_url": f"http://127.0.0.1:{gp}/lps"}
    servers = []
    for name, only, port in (("municipality", {"eoj", "dds", "nsp"}, municipality), ("gp", {"lps"}, gp)):
        url = f"sqlite:///{tmp_path / f'{name}.db'}"
        settings = settings_base.model_copy(update={"database_url": url, **urls})
        context = SandboxContext(settings, Clock(), Database.from_url(url))
        context._packages = packages
        servers.append(_serve(context, only, port))
    yield f"http://127.0.0.1:{municipality}"
    for server in servers:
        server.should_exit = True


def test_eoj_and_gp_system_over_real_http(two_sandboxes: str) -> None:
    with httpx.Client(verify=TLS, base_url=two_sandboxes, timeout=60, auth=ActorTokens()) as http:
        endpoints = {e["sor"]: e for e in http.get("/eoj/endpoints").json()}
        assert endpoints[SKODSTRUP]["url"].endswith("/lps/ehmi") and "127.0.0.1" in endpoints[SKODSTRUP]["url"]
        sent = http.post("/eoj/hco", json=order())
        assert sent.status_code == 201, sent.text
        status = sent.json()
        assert status["send_result"] == "HTTP 202"
        assert status["ack"] == "ok"  # came back over HTTP to /eoj/ehmi
        assert status["dds"]["entry"] is not None
        retracted = http.post(f"/eoj/hco/{status['id']}/retract", json={}).json()
        assert retracted["ack"] == "ok"
        assert "deprecated" in retracted["dds"]["why_not"]
        assert http.get("/lps/inbox", params={"cpr": CPR}).status_code == 404  # the GP system lives elsewhere


def test_sbdh_envelopes_over_real_http(two_sandboxes: str) -> None:
    with httpx.Client(verify=TLS, base_url=two_sandboxes, timeout=60, auth=ActorTokens()) as http:
        endpoint = next(e for e in http.get("/eoj/endpoints").json() if e["sor"] == SKODSTRUP)
        assert http.put("/eoj/endpoints", json={**endpoint, "envelope": "sbdh"}).status_code == 200
        sent = http.post("/eoj/hco", json=order())
        assert sent.status_code == 201, sent.text
        status = sent.json()
        assert status["send_result"].startswith("HTTP 202 (SBDH envelope ")
        assert status["ack"] == "ok"  # the acknowledgement came back in an envelope of its own
