"""kill -9 under load loses no acknowledged document: SQLite (a file) and PostgreSQL.

The sandbox (NSP and DDS, ``nsp-sandbox serve``) runs as its own process. A few threads provide
documents over HTTP, each with content of its own; mid-load the process is killed with SIGKILL.
After a restart on the same database, every document DDS acknowledged (HTTP 200 to its ITI-65) is
found by ITI-67 and retrieved byte-exact by ITI-68. Requests cut off by the kill may or may not
have been stored; none may be half-stored (an entry found must retrieve its document).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from mhd_client import CPR, FHIR_JSON, Bundles, Examples, about
from servers import TLS, free_port, wait_healthy
from sts_client import READER, SOURCE_SYSTEM, add_relation, auth

from nsp_sandbox.cpr import CPR_SYSTEM

THREADS = 4
LOAD_SECONDS = 4.0
START_TIMEOUT = 60.0


class Sandbox:
    """``nsp-sandbox serve nsp dds`` as a child process on ``database_url``."""

    def __init__(self, database_url: str, data_dir: Path, fhir_packages_dir: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "NSP_SANDBOX_DATABASE_URL": database_url,
                    "NSP_SANDBOX_FHIR_PACKAGES": str(fhir_packages_dir), "FHIR_PACKAGE_CACHE": str(data_dir / "cache"),
                    # what is tested is storage: the profile validator only costs time here
                    "NSP_SANDBOX_VALIDATION_PROFILE": "off"}
        self.data_dir = data_dir
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sandbox.cli", "serve", "nsp", "dds", "--port", str(self.port),
             "--data-dir", str(self.data_dir)], env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        why = wait_healthy(self.base, START_TIMEOUT, self.process)
        if why is None:
            return
        if self.process.poll() is not None:
            pytest.fail(f"the sandbox exited: {self.process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        self.kill()
        pytest.fail(f"the sandbox was not ready in time: {why}")

    def kill(self) -> None:
        """SIGKILL: no shutdown of any kind."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


class Load:
    """Threads providing one document each per request until stopped; what DDS acknowledged."""

    def __init__(self, base: str, bundles: Bundles, headers: dict[str, str]) -> None:
        self.base, self.bundles, self.headers = base, bundles, headers
        self.acknowledged: dict[str, bytes] = {}  # entry id -> the document sent
        self.sent = 0
        self.refused: list[str] = []  # answers other than 200: the load itself must be valid
        self.stopped = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(THREADS)]

    def _document(self) -> bytes:
        document = json.loads(self.bundles.examples.hco)
        document["id"] = str(uuid.uuid4())  # content of its own: the store is content-addressed
        return about(json.dumps(document, ensure_ascii=False).encode(), CPR)

    def _run(self) -> None:
        with httpx.Client(verify=TLS, base_url=self.base, timeout=30) as client:
            while not self.stopped.is_set():
                content = self._document()
                bundle = self.bundles.bundle((self.bundles.document_reference(), content))
                try:
                    response = client.post("/dds/fhir", json=bundle,
                                           headers={**self.headers, "Content-Type": FHIR_JSON})
                except httpx.HTTPError:
                    return  # cut off by the kill: not acknowledged
                with self.lock:
                    self.sent += 1
                    if response.status_code != 200:
                        self.refused.append(f"{response.status_code} {response.text[:300]}")
                        return
                locations = [e["response"]["location"] for e in response.json()["entry"]]
                entry_id = next(loc for loc in locations if loc.startswith("DocumentReference/")).split("/")[1]
                with self.lock:
                    self.acknowledged[entry_id] = content

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join(timeout=30)


def _found(client: httpx.Client, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    """ITI-67: every current entry of ``CPR``, following the paging links."""
    found: dict[str, dict[str, Any]] = {}
    url: str | None = "/dds/fhir/DocumentReference"
    params: dict[str, str] | None = {"patient.identifier": f"{CPR_SYSTEM}|{CPR}", "status": "current",
                                     "_count": "100"}
    while url is not None:
        response = client.get(url, params=params, headers=headers)
        assert response.status_code == 200, response.text
        bundle = response.json()
        found.update({e["resource"]["id"]: e["resource"] for e in bundle.get("entry", [])
                      if e["search"]["mode"] == "match"})
        url = next((link["url"] for link in bundle.get("link", []) if link["relation"] == "next"), None)
        params = None
    return found


@pytest.mark.slow
def test_no_acknowledged_document_is_lost_to_kill_9(database_url: str, tmp_path: Path, fhir_packages_dir: Path,
                                                    examples: Examples) -> None:
    sandbox = Sandbox(database_url, tmp_path / "data", fhir_packages_dir)
    sandbox.start()
    try:
        with httpx.Client(verify=TLS, base_url=sandbox.base, timeout=30) as http:
            add_relation(http, READER, CPR)
            load = Load(sandbox.base, Bundles(examples), auth(http, SOURCE_SYSTEM))
        load.start()
        time.sleep(LOAD_SECONDS)
        sandbox.kill()  # mid-load: the threads are sending
        load.stop()
        assert not load.refused, load.refused
        assert len(load.acknowledged) >= THREADS, f"too little load before the kill: {load.sent} answered"

        sandbox.start()
        with httpx.Client(verify=TLS, base_url=sandbox.base, timeout=30) as http:
            headers = auth(http, READER)
            found = _found(http, headers)
            missing = sorted(set(load.acknowledged) - set(found))
            assert not missing, f"{len(missing)} of {len(load.acknowledged)} acknowledged documents lost: {missing[:5]}"
            print(f"kill -9 after {load.sent} answered provides ({len(load.acknowledged)} acknowledged); "
                  f"after the restart {len(found)} entries found, every acknowledged one among them")
            for entry_id, resource in found.items():  # the acknowledged ones, and any cut off but stored
                retrieved = http.get(resource["content"][0]["attachment"]["url"], headers=headers)
                assert retrieved.status_code == 200, (entry_id, retrieved.text)
                if entry_id in load.acknowledged:
                    assert retrieved.content == load.acknowledged[entry_id], entry_id
    finally:
        sandbox.stop()
