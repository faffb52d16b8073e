"""What one test's sandbox costs to set up and tear down, the old way against the way tests/conftest.py does it now.

Both ways run alternately, round after round in one process, so a machine whose load changes during the run
weighs on both alike:

* before: a new SQLite file / a new PostgreSQL schema, the whole sandbox built on it (making every table and the
  STS's RSA key, as every start did), and the schema dropped at the end;
* after: a copy of the emptied template file / a schema from the pool (tests/prebuilt_databases.py), with
  ``synchronous_commit=off``, the sandbox built on it (the RSA key is now made at its first use), and the schema
  emptied back into the pool.

    NSP_SANDBOX_TEST_FHIR_PACKAGES=../shared/fhir-packages \\
    .venv/bin/python bench/suite_setup_cost.py --rounds 20 [--postgres-url postgresql://postgres@127.0.0.1:5432/postgres]

Prints, per database and way, the median wall time and the mean CPU time of this process (PostgreSQL's own
work shows in the wall time only).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from prebuilt_databases import SchemaPool, build_sandbox, empty_sqlite  # noqa: E402

from nsp_sandbox.config import Settings  # noqa: E402
from nsp_sandbox.conformance.packages import PackageRegistry  # noqa: E402
from nsp_sandbox.database import Database  # noqa: E402
from services.nsp import dgws_keys  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--postgres-url", default=os.environ.get("NSP_SANDBOX_TEST_POSTGRES_URL", ""))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="setup-cost-"))
    packages_dir = os.environ.get("NSP_SANDBOX_TEST_FHIR_PACKAGES", str(REPO.parent / "shared" / "fhir-packages"))
    settings = Settings(fhir_packages=packages_dir, fhir_package_cache=work / "cache", data_dir=work / "data")
    packages = PackageRegistry.load(settings.package_sources(), settings.fhir_package_cache)

    def build(url: str, *, with_key: bool) -> None:
        build_sandbox(url, settings, packages)
        if with_key:  # what the STS's router did at every build until it made the key at first use
            database = Database.from_url(url)
            dgws_keys.load_or_create(database, datetime.now(UTC))
            database.engine.dispose()

    template = work / "template.db"
    build(f"sqlite:///{template}", with_key=False)
    empty_sqlite(template)

    def sqlite_before(i: int) -> None:
        build(f"sqlite:///{work / f'before{i}.db'}", with_key=True)

    def sqlite_after(i: int) -> None:
        path = work / f"after{i}.db"
        shutil.copyfile(template, path)
        build(f"sqlite:///{path}", with_key=False)

    ways: dict[str, Callable[[int], None]] = {"sqlite before": sqlite_before, "sqlite after": sqlite_after}
    admin = database = ""
    if args.postgres_url:
        admin = args.postgres_url
        name = f"nsp_setup_cost_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        database = f"{admin.rpartition('/')[0]}/{name}"
        pool = SchemaPool(database)
        pool.start(lambda url: build_sandbox(url, settings, packages))

        def new_schema() -> tuple[str, str]:
            schema = f"t_{uuid.uuid4().hex[:12]}"
            with psycopg.connect(database, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
            return schema, database.replace("postgresql://", "postgresql+psycopg://", 1)

        def postgres_before(_: int) -> None:
            schema, url = new_schema()
            build(f"{url}?options={quote(f'-csearch_path={schema}')}", with_key=True)
            with psycopg.connect(database, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')

        def postgres_after(_: int) -> None:
            schema, url = new_schema()
            pool.adopt(schema)
            build(f"{url}?options={quote(f'-csearch_path={schema} -csynchronous_commit=off')}", with_key=False)
            pool.recycle(schema)

        ways |= {"postgresql before": postgres_before, "postgresql after": postgres_after}
    walls: dict[str, list[float]] = {w: [] for w in ways}
    cpus: dict[str, list[float]] = {w: [] for w in ways}
    try:
        for way in ways.values():
            way(-1)  # warm-up: imports, first compilations
        for i in range(args.rounds):
            for label, way in ways.items():
                wall, cpu = time.perf_counter(), time.process_time()
                way(i)
                walls[label].append(time.perf_counter() - wall)
                cpus[label].append(time.process_time() - cpu)
    finally:
        if database:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{database.rpartition("/")[2]}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'way':<20} {'median wall':>12} {'mean CPU':>10}  ({args.rounds} rounds)")
    for label in ways:
        print(f"{label:<20} {statistics.median(walls[label]) * 1000:>9.0f} ms "
              f"{statistics.mean(cpus[label]) * 1000:>7.0f} ms")


if __name__ == "__main__":
    main()
