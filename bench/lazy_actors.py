"""What one test's sandbox costs with every actor built at start, against each actor built at its first request
(``create_sandbox_app(lazy_actors=True)``, the ``client`` fixture's way).

Each round builds the sandbox on a fresh copy of an emptied template database (as ``tests/conftest.py`` does),
asks NSP's STS for a GP's token and makes one ITI-67 find at DDS (so DDS and NSP are reached, as in most DDS
tests), and stops it. The two ways run alternately, round after round in one process, so a machine whose load
changes during the run weighs on both alike.

    NSP_SANDBOX_TEST_FHIR_PACKAGES=../shared/fhir-packages .venv/bin/python bench/lazy_actors.py --rounds 10

Prints, per way, the median wall time and the mean CPU time of this process (the test client's portal thread
included).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from prebuilt_databases import build_sandbox, empty_sqlite  # noqa: E402

from nsp_sandbox.clock import Clock  # noqa: E402
from nsp_sandbox.config import Settings  # noqa: E402
from nsp_sandbox.conformance.packages import PackageRegistry  # noqa: E402
from nsp_sandbox.context import SandboxContext  # noqa: E402
from nsp_sandbox.database import Database  # noqa: E402
from sandbox.app import create_sandbox_app  # noqa: E402

GP = "gp-skodstrup"
PATIENT = "urn:oid:1.2.208.176.1.2|2509479989"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lazy-actors-"))
    packages_dir = os.environ.get("NSP_SANDBOX_TEST_FHIR_PACKAGES", str(REPO.parent / "shared" / "fhir-packages"))
    settings = Settings(fhir_packages=packages_dir, fhir_package_cache=work / "cache", data_dir=work / "data",
                        view_dsubm=False)
    packages = PackageRegistry.load(settings.package_sources(), settings.fhir_package_cache)
    template = work / "template.db"
    build_sandbox(f"sqlite:///{template}", settings, packages)
    empty_sqlite(template)

    def one_test(i: int, lazy: bool) -> tuple[float, float]:
        path = work / f"t{i}-{lazy}.db"
        shutil.copyfile(template, path)
        url = f"sqlite:///{path}"
        database = Database.from_url(url)
        context = SandboxContext(settings.model_copy(update={"database_url": url}), Clock(), database)
        context._packages = packages
        wall, cpu = time.perf_counter(), time.process_time()
        app = create_sandbox_app(context, warm_packages=False, lazy_actors=lazy)
        with TestClient(app, base_url="http://sandbox.test", client=("127.0.0.1", 50000)) as client:
            token = client.post("/nsp/sts/token", json={"persona": GP, "audience": "dds"}).json()["access_token"]
            answer = client.get("/dds/fhir/DocumentReference", params={"patient.identifier": PATIENT,
                                                                       "status": "current"},
                                headers={"Authorization": f"Bearer {token}"})
            if answer.status_code not in (200, 403):
                raise SystemExit(f"the find answered {answer.status_code}: {answer.text[:300]}")
        spent = time.perf_counter() - wall, time.process_time() - cpu
        database.engine.dispose()
        path.unlink()
        return spent

    ways = {"every actor at start": False, "each at its first request": True}
    spent: dict[str, list[tuple[float, float]]] = {label: [] for label in ways}
    try:
        for lazy in ways.values():
            one_test(-1, lazy)  # warm-up: imports, first compilations
        for i in range(args.rounds):
            for label, lazy in ways.items():
                spent[label].append(one_test(i, lazy))
                print(f"\rround {i + 1}/{args.rounds}", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'way':<28} {'median wall':>12} {'mean CPU':>10}  ({args.rounds} rounds)")
    for label, figures in spent.items():
        print(f"{label:<28} {statistics.median(w for w, _ in figures) * 1000:>9.0f} ms "
              f"{statistics.mean(c for _, c in figures) * 1000:>7.0f} ms")


if __name__ == "__main__":
    main()
