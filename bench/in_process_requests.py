"""What a request between two actors of one process costs, layer by layer: an ITI-68 retrieval as the viewer makes
it when DDS notifies it of a document (``services.sundhed_view.dds.Dds.retrieve``), through ``httpx``'s in-process
(ASGI) transport, the sandbox's root app and DDS's app, down to the registry's read.

The sandbox is built in this process (SQLite in a temporary folder, DDS's access control off, as ``compare.sh``
runs it); ``--documents`` of ``../shared/peers/load.py``'s ITI-65 Bundles are provided through the in-process client,
and their documents retrieved ``--rounds`` times in turn, each way below. The figures are this process's CPU per
request (``time.process_time``: every thread, the pool thread that reads the database too), the median of the
rounds. As in a served process, what lives on is frozen out of the garbage collector's sight first
(``freeze_long_lived``).

- the in-process client (``Peers.client_for_url``), as the viewer retrieves;
- the same request as one ASGI call into the sandbox's root app (what ``httpx`` adds is the difference);
- the same into DDS's app alone, as the root app's mount passes it on (what the root app adds);
- DDS's read of the entry and its document alone (``Registry.get_document``), on this thread;
- a trip to a pool thread and back (``run_in_threadpool`` of nothing), as DDS's read takes one;
- a path no actor serves, through the client and by ASGI (the floor: a 404 from the root app).

    .venv/bin/python bench/in_process_requests.py
    .venv/bin/python bench/in_process_requests.py --documents 400 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from served_tree import table_head, table_row

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


async def asgi_get(app: Any, path: str, root_path: str = "") -> int:
    """One ``GET path`` as a bare ASGI call into ``app`` (the body read and dropped); the status."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "root_path": root_path, "query_string": b"",
             "headers": [(b"host", b"sandbox.internal"), (b"accept", b"*/*")], "server": ("sandbox.internal", 80),
             "client": ("127.0.0.1", 1)}
    status = [0]

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status[0] = message["status"]

    await app(scope, receive, send)
    return status[0]


async def cpu_per_call(calls: list[Callable[[], Awaitable[Any]]]) -> float:
    """This process's CPU per call of ``calls`` (µs), each awaited in turn."""
    started = time.process_time()
    for call in calls:
        await call()
    return (time.process_time() - started) / len(calls) * 1e6


async def measure(args: argparse.Namespace) -> dict[str, list[float]]:
    sys.path[:0] = [str(ROOT), str(args.load.parent)]
    folder = tempfile.mkdtemp(prefix="nsp-in-process-")
    os.environ.update({"NSP_SANDBOX_DATABASE_URL": f"sqlite:///{folder}/sandbox.db",
                       "NSP_SANDBOX_DATA_DIR": folder, "NSP_SANDBOX_FHIR_PACKAGES": str(args.packages),
                       "NSP_SANDBOX_DDS_ACCESS_CONTROL": "false", "NSP_SANDBOX_VIEW_DSUBM": "false"})
    import load  # ../shared/peers/load.py: the load's ITI-65 Bundles
    from starlette.concurrency import run_in_threadpool

    from nsp_sandbox.peers import IN_PROCESS_ORIGIN
    from sandbox.app import create_sandbox_app
    from sandbox.lazy_actor import mounted_app
    from sandbox.start_steps import freeze_long_lived

    app = create_sandbox_app(warm_packages=False, only={"dds", "nsp"})
    context = app.state.context
    dds_mount = next(route for route in app.routes if getattr(route, "path", "") == "/dds")
    dds_app = mounted_app(dds_mount.app)
    registry = dds_app.state.registry
    client = context.peers.client("dds")
    base = context.peers.url("dds")

    documents = load.Documents(str(args.packages))
    cprs = load.make_cprs(100, random.Random(1))
    ids: list[str] = []
    for n in range(args.documents):
        body, _ = documents.bundle(cprs[n % len(cprs)])
        answer = await client.post(f"{base}/fhir", content=body, headers={"Content-Type": "application/fhir+json"})
        if answer.status_code != 200:
            raise SystemExit(f"provide {n} answered {answer.status_code}: {answer.text[:500]}")
        for entry in answer.json()["entry"]:
            location = entry["response"].get("location", "")
            if location.startswith("DocumentReference/"):
                ids.append(location.split("/")[1])
        print(f"\r[in-process] provided {n + 1}/{args.documents}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    urls = [f"{base}/documents/{entry_id}" for entry_id in ids]
    paths = [url[len(IN_PROCESS_ORIGIN):] for url in urls]
    headers = {"Accept": "*/*"}
    for url in urls:  # every answer checked once, and the paths warmed
        answer = await client.get(url, headers=headers)
        if answer.status_code != 200 or not answer.content:
            raise SystemExit(f"{url} answered {answer.status_code}")

    freeze_long_lived()  # as a served process does once it is built: the collector passes over what lives on

    def nothing() -> None:
        return None

    ways: dict[str, list[Callable[[], Awaitable[Any]]]] = {
        "ITI-68 through the in-process client (httpx)": [
            (lambda url=url: client.get(url, headers=headers)) for url in urls],
        "ITI-68 as an ASGI call into the sandbox's root app": [
            (lambda path=path: asgi_get(app, path)) for path in paths],
        "ITI-68 as an ASGI call into DDS's app": [
            (lambda path=path: asgi_get(dds_app, path, "/dds")) for path in paths],
        "DDS's read of the entry and its document (Registry.get_document)": [
            (lambda entry_id=entry_id: asyncio.sleep(0, registry.get_document(entry_id))) for entry_id in ids],
        "a trip to a pool thread and back (run_in_threadpool)": [
            (lambda: run_in_threadpool(nothing)) for _ in ids],
        "a path no actor serves, through the client (404)": [
            (lambda: client.get(f"{IN_PROCESS_ORIGIN}/nothing-here", headers=headers)) for _ in ids],
        "a path no actor serves, as an ASGI call (404)": [(lambda: asgi_get(app, "/nothing-here")) for _ in ids],
    }
    figures: dict[str, list[float]] = {label: [] for label in ways}
    for round_ in range(args.rounds):
        for label, calls in ways.items():
            figures[label].append(await cpu_per_call(calls))
        print(f"\r[in-process] round {round_ + 1}/{args.rounds}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    context.stop_background()
    context.database.engine.dispose()
    shutil.rmtree(folder, ignore_errors=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=300, help="documents provided, then retrieved each round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--load", type=Path, default=SHARED / "peers" / "load.py")
    parser.add_argument("--packages", type=Path, default=Path(os.environ.get("NSP_SANDBOX_FHIR_PACKAGES",
                                                                             SHARED / "fhir-packages")))
    args = parser.parse_args()
    figures = asyncio.run(measure(args))
    print(f"\nµs of this process's CPU per request, the median of {args.rounds} rounds of {args.documents}; SQLite, "
          "access control off\n")
    table_head("request", ["CPU per request", "rounds"])
    for label, values in figures.items():
        table_row(label, [f"{statistics.median(values):.0f}", ", ".join(f"{v:.0f}" for v in values)])


if __name__ == "__main__":
    main()
