"""The CPU of one read's unit of work, in process and one thread, on SQLite and on PostgreSQL: the reads every
retrieval and every guarded look-up make, each timed alone.

- ``Registry.get_document``: an ITI-68 retrieval's entry and document (one of the load's HCO messages, provided
  first through the sandbox's own ITI-65 face);
- ``Registry.get_entry``: an entry by id;
- ``Consent.blocks`` and ``TreatmentRelations.find``: what NSP reads at every look-up by a professional.

Each is run ``--warm-up`` times, then ``--count`` times; the figures are this process's CPU per call
(``time.process_time()``: PostgreSQL's side of the work is not in it, its backend is another process) and the time
a call took (its round trips to PostgreSQL included). On PostgreSQL
a throwaway database is made on the server of ``--postgres-url`` and dropped at the end. ``--tree`` runs another
checkout's code (for a before/after comparison, run both).

    .venv/bin/python bench/read_units.py
    .venv/bin/python bench/read_units.py --tree ../before
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dds import postgres_database
from served_tree import interpreter_of

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def child(database_url: str, packages: Path, count: int, warm_up: int) -> dict[str, tuple[float, float]]:
    """Run with the tree's code: build the sandbox on ``database_url``, provide one document, then time each read
    (µs of CPU and µs of time per call)."""
    from engine_instructions import peer_load
    from fastapi.testclient import TestClient

    from nsp_sandbox.config import Settings
    from nsp_sandbox.context import SandboxContext
    from sandbox.app import create_sandbox_app
    from services.dds.registry import Registry
    from services.nsp.brs import TreatmentRelations
    from services.nsp.consent import Consent
    from services.nsp.world import shipped_world

    data = Path(tempfile.mkdtemp(prefix="nsp-read-units-"))
    settings = Settings(fhir_packages=str(packages), data_dir=data, database_url=database_url, view_dsubm=False,
                        dds_access_control=False)
    context = SandboxContext.from_settings(settings)
    load = peer_load()
    documents = load.Documents(str(packages))
    cpr = load.make_cprs(1, random.Random(1))[0]
    bundle, *_ = documents.bundle(cpr)
    with TestClient(create_sandbox_app(context, warm_packages=False)) as client:
        answer = client.post("/dds/fhir", content=bundle, headers={"Content-Type": "application/fhir+json"})
        if answer.status_code != 200:
            raise SystemExit(f"the provide was answered {answer.status_code}: {answer.text[:500]}")
        entry_id = next(e["response"]["location"].split("/")[1] for e in answer.json()["entry"]
                        if e["response"]["location"].startswith("DocumentReference/"))
    registry = Registry(context.database)
    world = shipped_world()
    consent, relations = Consent(context.database, world), TreatmentRelations(context.database, world)
    now = context.clock.now()
    authorisation = next(iter(world.by_authorisation))
    blocks: Any = consent.blocks
    if "cprs" in inspect.signature(consent.blocks).parameters:  # a tree from before Consent.blocks took one CPR
        blocks = lambda c, n: consent.blocks([c], n)  # noqa: E731
    reads: dict[str, Callable[[], Any]] = {
        "Registry.get_document": lambda: registry.get_document(entry_id),
        "Registry.get_entry": lambda: registry.get_entry(entry_id),
        "Consent.blocks": lambda: blocks(cpr, now),
        "TreatmentRelations.find": lambda: relations.find(authorisation, cpr, now),
    }
    out: dict[str, tuple[float, float]] = {}
    for name, read in reads.items():
        if read() is None and name.startswith("Registry"):
            raise SystemExit(f"{name} found nothing")
        for _ in range(warm_up):
            read()
        started, clock = time.process_time(), time.perf_counter()
        for _ in range(count):
            read()
        out[name] = ((time.process_time() - started) / count * 1e6, (time.perf_counter() - clock) / count * 1e6)
    context.database.engine.dispose()
    shutil.rmtree(data, ignore_errors=True)
    return out


def run_tree(tree: Path, database_url: str, args: argparse.Namespace) -> dict[str, tuple[float, float]]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([interpreter_of(tree), __file__, "--child", database_url, "--packages", str(args.packages),
                           "--count", str(args.count), "--warm-up", str(args.warm_up)],
                          cwd=tree, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the run in {tree} failed:\n{done.stderr[-3000:]}")
    return {name: (cpu, wall) for name, (cpu, wall) in json.loads(done.stdout.strip().splitlines()[-1]).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout to measure (default: this one)")
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--warm-up", type=int, default=300)
    parser.add_argument("--packages", type=Path, default=Path(os.environ.get("NSP_SANDBOX_FHIR_PACKAGES",
                                                                             SHARED / "fhir-packages")))
    parser.add_argument("--postgres-url", default=os.environ.get("NSP_SANDBOX_BENCH_POSTGRES_URL")
                        or os.environ.get("NSP_SANDBOX_TEST_POSTGRES_URL")
                        or "postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.packages, args.count, args.warm_up)))
        return
    tree = args.tree.resolve()
    results: dict[str, dict[str, tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="nsp-read-units-") as folder:
        print(f"[read_units] {tree}: SQLite", file=sys.stderr, flush=True)
        results["SQLite"] = run_tree(tree, f"sqlite:///{Path(folder) / 'sandbox.db'}", args)
    with postgres_database(args.postgres_url) as url:
        print(f"[read_units] {tree}: PostgreSQL", file=sys.stderr, flush=True)
        results["PostgreSQL"] = run_tree(tree, url.replace("postgresql://", "postgresql+psycopg://", 1), args)
    print(f"\nµs per call: this process's CPU, and the time it took; {args.count} calls after {args.warm_up}, {tree}\n")
    print("| read | SQLite CPU | SQLite time | PostgreSQL CPU | PostgreSQL time |\n|---|---|---|---|---|")
    for read, (cpu, wall) in results["SQLite"].items():
        pg_cpu, pg_wall = results["PostgreSQL"][read]
        print(f"| `{read}` | {cpu:.0f} | {wall:.0f} | {pg_cpu:.0f} | {pg_wall:.0f} |")


if __name__ == "__main__":
    main()
