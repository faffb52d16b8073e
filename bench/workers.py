"""``nsp-sandbox up --workers N``: ITI-65 provides per second and ITI-67 latency for N = 1 and N = 2.

For each database (SQLite file in WAL mode, PostgreSQL) the benchmark seeds ``--entries``
DocumentEntries once (``bench/dds.py``'s seeding), then, back to back on that database, for each N:

1. starts ``nsp-sandbox up --workers N --no-demo`` as a real command and waits for ``/health`` 200;
2. measures ITI-65 Provide Document Bundle from ``--clients`` client threads at once (the official HCO
   message as the document, validation as configured: profile layer and Danish rules at ``reject``);
3. measures ITI-67 Find Document References (patient + status) from as many threads: p50, p95 and
   queries per second, for random seeded patients, with a GP's token (BRS relation, Min Log write).

Every request goes on a connection of its own, so the kernel spreads them over the workers; the
answers' ``X-Sandbox-Worker`` headers are counted to show it. The machine's load average is printed
before each run: the figures are wall-clock and only mean something beside their conditions. The default 120
provides take about a second, and two such runs can differ by a third: to compare two trees, give each a longer
run (``--provides 600 --queries 1000``), alternately.

    .venv/bin/python bench/workers.py                               # both databases, N = 1 and 2
    .venv/bin/python bench/workers.py --database sqlite --entries 5000 --provides 60 --queries 200
    .venv/bin/python bench/workers.py --database sqlite --workers 2 --provides 600 --queries 1000   # a comparison
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2 as httpx

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent))

from dds import (  # noqa: E402 (the DDS benchmark's seeding, bundles and personas)
    PACKAGES,
    READER,
    SOURCE_SYSTEM,
    _bundle,
    _cpr,
    _examples,
    _free_port,
    bearer,
    postgres_database,
    relate,
    seed,
)

from nsp_sandbox.cpr import CPR_SYSTEM  # noqa: E402


class Sandbox:
    """``nsp-sandbox up --workers N --no-demo`` over ``url``."""

    def __init__(self, url: str, data_dir: Path, workers: int) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "NSP_SANDBOX_DATABASE_URL": url, "NSP_SANDBOX_FHIR_PACKAGES": str(PACKAGES)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sandbox.cli", "up", "--no-demo", "--workers", str(workers), "--port",
             str(self.port), "--data-dir", str(data_dir)], cwd=ROOT.parent, env=env, stdout=subprocess.DEVNULL)
        self._client = httpx.Client(timeout=120, limits=httpx.Limits(max_keepalive_connections=0))
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("the sandbox did not become ready")

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request on a connection of its own. One client for all of them: ``httpx.request`` builds a
        client, and with it a TLS context, per call (about 19 ms of the benchmark's own CPU, on the
        machine the servers run on)."""
        headers = {"Connection": "close", **kwargs.pop("headers", {})}
        return self._client.request(method, f"{self.base}{path}", headers=headers, **kwargs)

    def stop(self) -> None:
        self._client.close()
        self.process.terminate()
        self.process.wait(timeout=60)


def provides(sandbox: Sandbox, model: dict[str, Any], document: bytes, count: int, clients: int,
             offset: int) -> tuple[float, Counter[str]]:
    bodies = [json.dumps(_bundle(model, document, _cpr(10_000_000 + offset + n), offset + n)).encode()
              for n in range(count + 2 * clients)]
    with httpx.Client(base_url=sandbox.base, timeout=60) as client:
        headers = {**bearer(client, SOURCE_SYSTEM), "Content-Type": "application/fhir+json"}

    def one(body: bytes) -> str:
        response = sandbox.call("POST", "/dds/fhir", content=body, headers=headers)
        assert response.status_code == 200, response.text[:2000]
        return response.headers.get("x-sandbox-worker", "?")

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, bodies[:2 * clients]))  # warm-up: every worker compiles the profiles
        started = time.perf_counter()
        workers = Counter(pool.map(one, bodies[2 * clients:]))
        return count / (time.perf_counter() - started), workers


def queries(sandbox: Sandbox, patients: int, count: int, clients: int) -> tuple[float, float, float, Counter[str]]:
    rng = random.Random(7)
    cprs = [_cpr(rng.randrange(patients)) for _ in range(count + 4 * clients)]
    with httpx.Client(base_url=sandbox.base, timeout=60) as client:
        relate(client, cprs)
        headers = bearer(client, READER)

    def one(cpr: str) -> tuple[float, str]:
        started = time.perf_counter()
        response = sandbox.call("GET", "/dds/fhir/DocumentReference", headers=headers,
                                params={"patient.identifier": f"{CPR_SYSTEM}|{cpr}", "status": "current"})
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.text[:500]
        return elapsed * 1000, response.headers.get("x-sandbox-worker", "?")

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, cprs[:4 * clients]))  # warm-up
        started = time.perf_counter()
        timed = list(pool.map(one, cprs[4 * clients:]))
        per_second = count / (time.perf_counter() - started)
    latencies = sorted(t for t, _ in timed)
    return (statistics.median(latencies), latencies[int(len(latencies) * 0.95) - 1], per_second,
            Counter(w for _, w in timed))


def run(label: str, url: str, args: argparse.Namespace, model: dict[str, Any], document: bytes, work: Path) -> None:
    print(f"== {label}")
    seed(url, args.entries, args.patients, model, document)
    for n, workers in enumerate(args.workers):
        load = os.getloadavg()
        print(f"  -- {workers} worker(s); load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
              f"on {os.cpu_count()} CPUs")
        sandbox = Sandbox(url, work / f"data-{label}-{workers}", workers)
        try:
            rate, spread = provides(sandbox, model, document, args.provides, args.clients, 100_000 * (n + 1))
            print(f"  ITI-65 provides/s ({args.clients} clients): {rate:7.1f}   per worker: {dict(spread)}")
            p50, p95, qps, spread = queries(sandbox, args.patients, args.queries, args.clients)
            print(f"  ITI-67 patient+status ({args.clients} clients): p50 {p50:7.2f} ms   p95 {p95:7.2f} ms   "
                  f"{qps:6.1f}/s   per worker: {dict(spread)}")
        finally:
            sandbox.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--patients", type=int, default=5_000, help="entries are spread over this many CPRs")
    parser.add_argument("--provides", type=int, default=120)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--clients", type=int, default=4, help="client threads sending at once")
    parser.add_argument("--workers", type=lambda v: [int(x) for x in v.split(",")], default=[1, 2])
    parser.add_argument("--postgres-url", default=os.environ.get("NSP_SANDBOX_BENCH_POSTGRES_URL")
                        or os.environ.get("NSP_SANDBOX_TEST_POSTGRES_URL")
                        or "postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    model, document = _examples()
    work = Path(tempfile.mkdtemp(prefix="nsp-bench-workers-"))
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
