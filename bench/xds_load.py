"""ITI-41 provides per second under concurrent senders, on ``nsp-sandbox up`` (its validation process beside it).

``up`` of a checkout (SQLite in a temporary folder, access control off, the viewer subscribed, as
``../shared/peers/compare.sh`` runs it for ITI-65) takes ``--warm-up`` provides, then ``--provides`` more from
``--clients`` senders, each on its own keep-alive connection. Each provide is what a municipal EOJ sends DDS's DRS
proxy: the load's HomeCareObservation message (``../shared/peers/load.py``'s documents: the official example with
a fresh Bundle.id, MessageHeader.id and CPR) as an ``xdsb:Document`` sent MTOM/XOP, its DocumentEntry made as the
sandbox's EOJ makes it (``services.eoj_sender.sharing.document_metadata``), a DGWS system card of the EOJ's
persona from the sandbox's STS. The requests are built before the clock starts, by this checkout's XDS.b client.
Every answer must be ``Success`` or ``PartialSuccess``. The table gives documents per second and the server's CPU
per document (both processes, ``/proc``), over the provides and until the server is idle again (what it does after
the answers: DDS's notifications, the viewer's reading ahead of what it is notified of). ``--against`` runs a
second checkout alternately, ``--pairs`` times.

    .venv/bin/python bench/xds_load.py
    .venv/bin/python bench/xds_load.py --against ../before --pairs 2
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import statistics
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine_instructions import peer_load
from served_tree import alternating, cpu_seconds, served, settle, table_head, table_row, tree_arguments

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
PERSONA = "system-eoj-aarhus"
SUCCESS = (b"ResponseStatusType:Success", b"ResponseStatusType:PartialSuccess")


def say(message: str) -> None:
    print(f"[xds-load {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def requests(url: str, count: int, packages: Path, seed: int) -> list[tuple[dict[str, str], bytes]]:
    """``count`` ITI-41 requests to ``url``'s DRS proxy as they go on the wire: HTTP headers and body."""
    import json

    sys.path.insert(0, str(ROOT))
    from nsp_sandbox.mhd_source import document_reference
    from nsp_sandbox.xds import from_mhd
    from nsp_sandbox.xds.client import XdsClient, provide_call
    from nsp_sandbox.xds.ebrim import Document
    from services.eoj_sender.nsp_registers import Person
    from services.eoj_sender.sharing import SOURCE_ID, document_metadata

    load = peer_load()
    documents = load.Documents(str(packages))
    cprs = load.make_cprs(1000, random.Random(seed))
    client = XdsClient(f"{url}/dds", nsp_url=f"{url}/nsp", persona=PERSONA)
    built: list[tuple[dict[str, str], bytes]] = []
    for n in range(count):
        cpr = cprs[n % len(cprs)]
        content, _ = documents.document(cpr)
        message = json.loads(content)
        person = Person(cpr, ("Grethe",), "KGBTest", "female", load.cpr_birth_date(cpr), False)
        entry = from_mhd.document_entry(document_reference(document_metadata(message, person),
                                                           f"urn:uuid:{uuid.uuid4()}"))
        info = from_mhd.SubmissionSetInfo(SOURCE_ID, cpr, datetime.now(UTC))
        call = provide_call(client.endpoints.drs_proxy, from_mhd.submission([entry], info),
                            [Document(entry.id, content)])
        built.append(client.prepared(call))
    client.close()
    return built


def send_all(url: str, built: list[tuple[dict[str, str], bytes]], clients: int) -> tuple[float, list[str]]:
    """Post every request from ``clients`` senders; the seconds it took and what was not taken."""
    port = int(url.rsplit(":", 1)[1])
    path = "/dds/drs/proxy"
    jobs = list(enumerate(built))
    lock = threading.Lock()
    failures: list[str] = []

    def sender() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                if not jobs:
                    break
                n, (headers, body) = jobs.pop()
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read()
            if response.status != 200 or not any(word in answer for word in SUCCESS):
                with lock:
                    failures.append(f"#{n}: HTTP {response.status} {answer[:300]!r}")
        connection.close()

    threads = [threading.Thread(target=sender) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start, failures


def run(tree: Path, args: argparse.Namespace) -> dict[str, Any]:
    env = {"NSP_SANDBOX_FHIR_PACKAGES": str(args.packages), "NSP_SANDBOX_DDS_ACCESS_CONTROL": "false"}
    with served(tree, env, prefix="nsp-xds-load-") as server:
        say(f"{tree}: serving on {server.url}; building {args.warm_up} + {args.provides} ITI-41 requests")
        warm = requests(server.url, args.warm_up, args.packages, seed=1)
        timed = requests(server.url, args.provides, args.packages, seed=2)
        _, failed = send_all(server.url, warm, args.clients)
        if failed:
            raise SystemExit(f"{tree}: warm-up provides refused: {failed[:3]}")
        settle(server.pid)
        say(f"{tree}: {args.provides} provides from {args.clients} senders")
        cpu = cpu_seconds(server.pid)
        seconds, failed = send_all(server.url, timed, args.clients)
        during = cpu_seconds(server.pid) - cpu
        if failed:
            raise SystemExit(f"{tree}: {len(failed)} provides refused: {failed[:3]}")
        settle(server.pid)
        settled = cpu_seconds(server.pid) - cpu
    return {"per_second": args.provides / seconds, "cpu_ms": during / args.provides * 1000,
            "cpu_settled_ms": settled / args.provides * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    tree_arguments(parser, ROOT)
    parser.add_argument("--provides", type=int, default=600)
    parser.add_argument("--warm-up", type=int, default=100)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--packages", type=Path, default=Path(os.environ.get("NSP_SANDBOX_FHIR_PACKAGES",
                                                                             SHARED / "fhir-packages")))
    args = parser.parse_args()
    results: dict[Path, list[dict[str, Any]]] = {}
    for tree in alternating(args):
        result = run(tree, args)
        say(f"{tree}: {result['per_second']:.1f} documents/s, {result['cpu_ms']:.2f} ms of server CPU per document")
        results.setdefault(tree, []).append(result)
    print(f"\nITI-41 provides on `nsp-sandbox up`: {args.provides} from {args.clients} senders after {args.warm_up}; "
          "the median of the runs, the runs in brackets\n")
    table_head("", [tree.name for tree in results])
    for key, label in (("per_second", "documents/s"), ("cpu_ms", "server CPU per document, both processes (ms)"),
                       ("cpu_settled_ms", "the same, until the server is idle again (ms)")):
        table_row(label, [f"{statistics.median(r[key] for r in runs):.2f} "
                          f"({', '.join(f'{r[key]:.2f}' for r in runs)})" for runs in results.values()])


if __name__ == "__main__":
    main()
