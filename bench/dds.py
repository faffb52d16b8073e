"""DDS benchmark: ITI-65 provides per second and ITI-67 latency with 100,000 registered entries.

For each database (SQLite file, PostgreSQL) the benchmark

1. seeds ``--entries`` DocumentEntries straight through the registry's store layer (bulk inserts,
   with progress), built from the official HCO DocumentReference example with varied patients
   and codes;
2. starts the sandbox with uvicorn on loopback (one worker process) over that database;
3. measures ITI-65 Provide Document Bundle, one request at a time from one client, with the
   official HCO message as the document — once with the configured validation (profile layer and
   Danish metadata rules at ``reject``) and once with the profile layer off;
4. measures ITI-67 Find Document References latency (p50/p95) for random seeded patients.

Requests carry tokens from the sandbox's STS: the provides Aarhus Kommune's EOJ system token, the
queries a GP's, who first gets a treatment relation (BRS) with each patient asked for. Each query
therefore includes DDS's access checks with NSP (consent, BRS) and a Min Log write.

    .venv/bin/python bench/dds.py                          # both databases, 100,000 entries
    .venv/bin/python bench/dds.py --database sqlite --entries 10000

PostgreSQL comes from ``--postgres-url``, ``NSP_SANDBOX_BENCH_POSTGRES_URL``,
``NSP_SANDBOX_TEST_POSTGRES_URL`` or the local server at 127.0.0.1:5432; a throwaway database is
created there and dropped afterwards.
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx

from nsp_sandbox.cpr import CPR_SYSTEM

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nsp_sandbox.conformance.packages import PackageRegistry  # noqa: E402
from nsp_sandbox.database import Database  # noqa: E402
from services.dds.domain import Document  # noqa: E402
from services.dds.mhd.document_reference import to_entry  # noqa: E402
from services.dds.registry import Registry  # noqa: E402

PACKAGES = Path(os.environ.get("NSP_SANDBOX_TEST_FHIR_PACKAGES", ROOT.parent / "shared" / "fhir-packages"))
LIST_TYPES = "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes"
FACILITIES = ["550621000005101", "394761003", "554821000005109", "22232009"]
SETTINGS_CODES = ["658161000005107", "408443003", "658171000005102", "394577000"]


def _cpr(n: int) -> str:
    """A well-formed synthetic CPR number (valid birth date, 7th digit 0-3), distinct per ``n``."""
    day = 1 + n % 28
    month = 1 + (n // 28) % 12
    year = (n // 336) % 100
    serial = (n // 33600) % 4000
    return f"{day:02d}{month:02d}{year:02d}{serial:04d}"


def _examples() -> tuple[dict[str, Any], bytes]:
    registry = PackageRegistry.load([PACKAGES], None)
    model = registry.get("medcom.fhir.dk.xdsdocuments", "0.1.0-homecareobservation-draft-2")
    hco = registry.get("medcom.fhir.dk.homecareobservation", "1.2.1")
    assert model is not None and hco is not None, f"official packages not found in {PACKAGES}"
    dr = model.load("example/DocumentReference-16002002-ac41-45de-ad6b-eb02b098e859.json")
    return copy.deepcopy(dr), (hco.root / "example/Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json").read_bytes()


def _document_reference(model: dict[str, Any], cpr: str, n: int) -> dict[str, Any]:
    dr = copy.deepcopy(model)
    entry_uuid = uuid.uuid4()
    dr["id"] = str(entry_uuid)
    dr["masterIdentifier"]["value"] = f"urn:uuid:{uuid.uuid4()}"
    dr["identifier"][0]["value"] = f"urn:uuid:{entry_uuid}"
    next(c for c in dr["contained"] if c["resourceType"] == "Patient")["identifier"][0]["value"] = cpr
    dr["context"]["sourcePatientInfo"]["identifier"]["value"] = cpr
    dr["content"][0]["attachment"]["contentType"] = "application/fhir+json"
    dr["context"]["facilityType"]["coding"][0]["code"] = FACILITIES[n % len(FACILITIES)]
    dr["context"]["practiceSetting"]["coding"][0]["code"] = SETTINGS_CODES[n % len(SETTINGS_CODES)]
    created = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=37 * n)
    dr["content"][0]["attachment"]["creation"] = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    dr["context"]["period"] = {"start": created.strftime("%Y-%m-%dT%H:%M:%SZ")}
    return dr


def seed(url: str, entries: int, patients: int, model: dict[str, Any], document: bytes) -> None:
    database = Database.from_url(url)
    registry = Registry(database)
    registry.create_tables()
    doc = Document.of(document)
    batch = 5000
    started = time.perf_counter()
    now = datetime.now(UTC)
    for offset in range(0, entries, batch):
        built = []
        for n in range(offset, min(offset + batch, entries)):
            cpr = _cpr(n % patients)
            entry, issues = to_entry(_document_reference(model, cpr, n), "DocumentReference", doc,
                                     "application/fhir+json", now)
            assert entry is not None, issues
            built.append(entry)
        set_id = str(uuid.uuid4())
        registry.bulk_register({
            "id": set_id, "unique_id": f"urn:uuid:{uuid.uuid4()}", "entry_uuid": f"urn:uuid:{set_id}",
            "patient_system": CPR_SYSTEM, "patient_value": built[0].patient.value, "status": "current",
            "submission_time": None, "source_id": None, "designation_system": None, "designation_code": None,
            "resource": '{"resourceType":"List"}',
        }, built, now)
        done = min(offset + batch, entries)
        rate = done / (time.perf_counter() - started)
        print(f"\r  seeding {done:>7}/{entries} entries ({rate:,.0f}/s)", end="", flush=True)
    print(f"\r  seeded {entries} entries for {patients} patients in {time.perf_counter() - started:.1f} s"
          + " " * 20)
    if database.engine.dialect.name == "postgresql":
        with database.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
    database.engine.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(url: str, data_dir: Path, extra_env: dict[str, str]) -> Iterator[str]:
    """The sandbox under uvicorn (one worker) on loopback over ``url``."""
    with server_process(url, data_dir, extra_env) as (base, _pid):
        yield base


@contextmanager
def server_process(url: str, data_dir: Path, extra_env: dict[str, str],
                   seconds: float = 30, root: Path = ROOT) -> Iterator[tuple[str, int]]:
    """:func:`server`, answering (base URL, the server's pid); ``seconds`` to wait for it to answer;
    ``root``: the source tree the server runs (another checkout, to compare two versions)."""
    port = _free_port()
    env = {**os.environ, "NSP_SANDBOX_DATABASE_URL": url, "NSP_SANDBOX_FHIR_PACKAGES": str(PACKAGES),
           "NSP_SANDBOX_DATA_DIR": str(data_dir), **extra_env}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "sandbox.app:create_sandbox_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--log-level", "warning",
         "--no-access-log"],
        cwd=root, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(int(seconds * 10)):
            try:
                if httpx.get(f"{base}/dds/fhir/metadata", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("the sandbox did not start")
        yield base, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


EXAMPLE_CPR = "2509479989"  # the patient of the HCO example message


def _bundle(model: dict[str, Any], document: bytes, cpr: str, n: int) -> dict[str, Any]:
    dr = _document_reference(model, cpr, n)
    document = document.replace(f'"{EXAMPLE_CPR}"'.encode(), f'"{cpr}"'.encode())  # about the entry's patient
    binary_url, dr_url = f"urn:uuid:{uuid.uuid4()}", f"urn:uuid:{uuid.uuid4()}"
    dr["content"][0]["attachment"]["url"] = binary_url
    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": f"urn:uuid:{uuid.uuid4()}", "request": {"method": "POST", "url": "List"}, "resource": {
            "resourceType": "List", "status": "current", "mode": "working",
            "code": {"coding": [{"system": LIST_TYPES, "code": "submissionset"}]},
            "subject": {"identifier": {"system": CPR_SYSTEM, "value": cpr}},
            "date": "2026-04-28T10:20:00+02:00", "entry": [{"item": {"reference": dr_url}}]}},
        {"fullUrl": dr_url, "request": {"method": "POST", "url": "DocumentReference"}, "resource": dr},
        {"fullUrl": binary_url, "request": {"method": "POST", "url": "Binary"}, "resource": {
            "resourceType": "Binary", "contentType": "application/fhir+json",
            "data": base64.b64encode(document).decode()}},
    ]}


SOURCE_SYSTEM = "system-eoj-aarhus"  # provides, with a system token
READER = "gp-skodstrup"  # queries, with a treatment relation to each patient asked for
READER_SYSTEM = "system-lps-skodstrup"  # the reader's GP system: registers the reader's treatment relations


def bearer(client: httpx.Client, persona: str, audience: list[str] | None = None) -> dict[str, str]:
    """A token from the sandbox's STS (``POST /nsp/sts/token``)."""
    response = client.post("/nsp/sts/token", json={"persona": persona, "audience": audience or ["dds", "nsp"]})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def relate(client: httpx.Client, cprs: list[str]) -> None:
    """Treatment relations (BRS) between the reader and ``cprs``, registered by the reader's GP system."""
    headers = bearer(client, READER_SYSTEM, ["nsp"])
    for cpr in sorted(set(cprs)):
        response = client.post("/nsp/brs/relations", headers=headers, json={
            "professional": READER, "cpr": cpr, "valid_from": "2000-01-01"})
        response.raise_for_status()


def measure_provides(base: str, model: dict[str, Any], document: bytes, count: int) -> float:
    bodies = [json.dumps(_bundle(model, document, _cpr(10_000_000 + n), n)).encode() for n in range(count + 5)]
    with httpx.Client(base_url=base, headers={"Content-Type": "application/fhir+json"}, timeout=60) as client:
        client.headers.update(bearer(client, SOURCE_SYSTEM))
        for body in bodies[:5]:  # warm-up (first validation compiles the profiles)
            response = client.post("/dds/fhir", content=body)
            assert response.status_code == 200, response.text[:2000]
        started = time.perf_counter()
        for body in bodies[5:]:
            response = client.post("/dds/fhir", content=body)
            assert response.status_code == 200, response.text[:2000]
        return count / (time.perf_counter() - started)


def measure_queries(base: str, patients: int, count: int) -> dict[str, tuple[float, float, int]]:
    rng = random.Random(7)
    shapes = {
        "patient+status": lambda cpr: {"patient.identifier": f"{CPR_SYSTEM}|{cpr}", "status": "current"},
        "patient+status+type+period+facility": lambda cpr: {
            "patient.identifier": f"{CPR_SYSTEM}|{cpr}", "status": "current,superseded",
            "type": "urn:oid:1.2.208.184.100.1|HCOM", "period": "ge2024-01-01",
            "facility": f"http://snomed.info/sct|{FACILITIES[0]},http://snomed.info/sct|{FACILITIES[1]}"},
    }
    out: dict[str, tuple[float, float, int]] = {}
    with httpx.Client(base_url=base, timeout=30) as client:
        for name, params in shapes.items():
            latencies: list[float] = []
            found = 0
            cprs = [_cpr(rng.randrange(patients)) for _ in range(count + 20)]
            relate(client, cprs)
            client.headers.update(bearer(client, READER))
            for i, cpr in enumerate(cprs):
                query = params(cpr)
                started = time.perf_counter()
                response = client.get("/dds/fhir/DocumentReference", params=query)
                elapsed = time.perf_counter() - started
                assert response.status_code == 200, response.text[:500]
                if i >= 20:  # first 20 warm up
                    latencies.append(elapsed * 1000)
                    found += len(response.json()["entry"])
            latencies.sort()
            out[name] = (statistics.median(latencies), latencies[int(len(latencies) * 0.95) - 1], found // count)
    return out


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    import psycopg

    name = f"nsp_bench_{uuid.uuid4().hex[:8]}"
    admin = admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin.rpartition('/')[0]}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(label: str, url: str, args: argparse.Namespace, model: dict[str, Any], document: bytes,
        data_dir: Path) -> dict[str, Any]:
    print(f"== {label}")
    seed(url, args.entries, args.patients, model, document)
    result: dict[str, Any] = {"database": label, "entries": args.entries}
    with server(url, data_dir, {}) as base:
        result["queries"] = measure_queries(base, args.patients, args.queries)
        result["provides_validated"] = measure_provides(base, model, document, args.provides)
    with server(url, data_dir, {"NSP_SANDBOX_VALIDATION_PROFILE": "off"}) as base:
        result["provides_registry"] = measure_provides(base, model, document, args.provides)
    for name, (p50, p95, per_page) in result["queries"].items():
        print(f"  ITI-67 {name:<40} p50 {p50:6.2f} ms   p95 {p95:6.2f} ms   ({per_page} entries/response)")
    print(f"  ITI-65 provides/s, profile validation + DK rules (reject): {result['provides_validated']:7.1f}")
    print(f"  ITI-65 provides/s, DK rules only (profile layer off):      {result['provides_registry']:7.1f}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--patients", type=int, default=20_000, help="entries are spread over this many CPRs")
    parser.add_argument("--provides", type=int, default=300)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--postgres-url", default=os.environ.get("NSP_SANDBOX_BENCH_POSTGRES_URL")
                        or os.environ.get("NSP_SANDBOX_TEST_POSTGRES_URL")
                        or "postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    model, document = _examples()
    work = Path(tempfile.mkdtemp(prefix="nsp-bench-"))
    try:
        if args.database in ("sqlite", "both"):
            run("SQLite", f"sqlite:///{work / 'bench.db'}", args, model, document, work)
        if args.database in ("postgresql", "both"):
            with postgres_database(args.postgres_url) as url:
                run("PostgreSQL", url, args, model, document, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
