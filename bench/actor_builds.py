"""What building the whole sandbox costs on a database that already holds its tables, as every test's and nearly
every start's database does: each actor made, its tables checked (and upgraded where an earlier version made
them), then stopped.

Each round copies the emptied template (SQLite) or takes an emptied schema from the pool (PostgreSQL;
tests/prebuilt_databases.py), builds every actor (``create_sandbox_app`` without ``lazy_actors``) and stops it.
``--tree`` runs another checkout's code (its ``tests/prebuilt_databases.py`` too), so two trees can be timed
one after the other on the same machine:

    NSP_SANDBOX_TEST_FHIR_PACKAGES=../shared/fhir-packages .venv/bin/python bench/actor_builds.py --rounds 20 \\
        [--database postgresql] [--tree ../before]

Prints the median wall time and the mean CPU time of this process per build (PostgreSQL's own work shows in
the wall time only).
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
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--postgres-url", default=os.environ.get("NSP_SANDBOX_TEST_POSTGRES_URL",
                                                                 "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--tree", type=Path, default=REPO, help="the checkout whose code is timed")
    args = parser.parse_args()
    tree = args.tree.resolve()
    sys.path[:0] = [str(tree), str(tree / "tests")]

    import psycopg
    from prebuilt_databases import SchemaPool, build_sandbox, empty_sqlite, url_for

    from nsp_sandbox.config import Settings
    from nsp_sandbox.conformance.packages import PackageRegistry

    packages_dir = Path(os.environ.get("NSP_SANDBOX_TEST_FHIR_PACKAGES", REPO.parent / "shared" / "fhir-packages"))
    work = Path(tempfile.mkdtemp(prefix="actor-builds-"))
    base = Settings(fhir_packages=str(packages_dir), fhir_package_cache=work / "cache", data_dir=work / "data",
                    view_dsubm=False)
    packages = PackageRegistry.load(base.package_sources(), base.fhir_package_cache)

    if args.database == "sqlite":
        template = work / "template.db"
        build_sandbox(f"sqlite:///{template}", base, packages)
        empty_sqlite(template)
    else:
        pool = SchemaPool(args.postgres_url)
        pool.start(lambda url: build_sandbox(url, base, packages))

    walls: list[float] = []
    cpus: list[float] = []
    for round_ in range(args.rounds + 1):
        if args.database == "sqlite":
            path = work / f"round{round_}.db"
            shutil.copyfile(template, path)
            url = f"sqlite:///{path}"
        else:
            schema = f"t_{uuid.uuid4().hex[:12]}"
            with psycopg.connect(args.postgres_url, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
            pool.adopt(schema)
            url = url_for(args.postgres_url, schema)
        wall, cpu = time.perf_counter(), time.process_time()
        build_sandbox(url, base, packages)  # every actor built, as the templates are
        if round_:  # the first round warms imports and caches
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        if args.database == "postgresql":
            pool.recycle(schema)
        print(f"\rround {round_}/{args.rounds}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    print(f"{tree.name} {args.database}: whole sandbox built, median wall {1000 * statistics.median(walls):.0f} ms, "
          f"mean CPU {1000 * statistics.mean(cpus):.0f} ms ({args.rounds} rounds)")


if __name__ == "__main__":
    main()
