"""How long ``nsp-sandbox up``'s event loop keeps other requests waiting while the actors work.

One process serves every actor, and every request passes through its event loop. Work done on the loop
itself (a validation, a database write) holds every other request up meanwhile; work sent to a worker
thread or the CPU lane (``nsp_sandbox/cpu_lane.py``) does not. This benchmark starts ``nsp-sandbox up``
(SQLite in a temporary folder, access control on) and, for ``--seconds``:

* ``--senders`` clients send HomeCareObservation messages through the EOJ (``POST /eoj/hco``: the EOJ
  builds and validates the message, the GP system receives and validates it, EDS is told four times,
  DDS is given the document), each sending the next when the last is answered;
* ``--readers`` clients find the citizen's documents as the citizen's GP (ITI-67: BRS, consent and a
  Min Log entry at each);
* a probe asks NSP's SOR register for an organisation every ``--probe-ms`` milliseconds: an answer from
  memory, on the loop, so its latency is the time the loop kept it waiting.

It prints the probe's latency (p50, p95, p99, max), messages and finds per second, the finds' p95, and
the server's CPU over the run (in cores: near 1.0, the process is busy all the time). ``--against`` runs a
second checkout too, alternating, ``--pairs`` times.

    .venv/bin/python bench/loop_stalls.py
    .venv/bin/python bench/loop_stalls.py --against ../before --pairs 3
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from served_tree import alternating, cpu_seconds, served, tree_arguments

ROOT = Path(__file__).resolve().parent.parent
CITIZEN = "2509479989"  # Bruno Elmer
GP_SOR = "52581000016005"  # Skødstrup Lægepraksis: the GP system that receives the messages
READER = "gp-skodstrup"
SENDER = "system-eoj-aarhus"  # Aarhus Kommune's EOJ system
ORDER = {"cpr": CITIZEN, "family": "Elmer", "given": ["Bruno"], "receiver": GP_SOR, "initials": "SDaA",
         "clinical_comment": "Borger afkræftet, drikker sparsomt.",
         "observations": [{"code": "NPU22089", "value": 6.8, "comment": "Ikke fastende"},
                          {"code": "NPU19748", "value": 26}, {"code": "MCS88122", "value": 25, "comparator": ">"},
                          {"code": "NPU21578", "value": "Negative"}]}


@dataclass(frozen=True)
class Run:
    tree: str
    probe_ms: list[float]
    messages_per_s: float
    finds_per_s: float
    find_p95_ms: float
    cores: float  # the server's CPU over the run, in cores


def say(message: str) -> None:
    print(f"[loop-stalls {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


class Client:
    """One keep-alive connection; ``call`` answers (status, milliseconds, body)."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def call(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, float, bytes]:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        started = time.perf_counter()
        self.connection.request(method, path, body=data, headers=headers)
        response = self.connection.getresponse()
        payload = response.read()
        return response.status, (time.perf_counter() - started) * 1000, payload


def token(port: int, persona: str, audience: str) -> str:
    status, _, body = Client(port).call("POST", "/nsp/sts/token", {"persona": persona, "audience": audience})
    if status != 200:
        raise SystemExit(f"no token for {persona}: {status} {body[:300]!r}")
    return str(json.loads(body)["access_token"])


def measure(port: int, args: argparse.Namespace) -> tuple[list[float], int, list[float]]:
    """Probe latencies, messages sent and find latencies over ``args.seconds``."""
    reader_token, sender_token = token(port, READER, "dds"), token(port, SENDER, "eoj")
    stop = threading.Event()
    probes: list[float] = []
    finds: list[float] = []
    sent = [0]
    failures: list[str] = []

    def sender() -> None:
        client = Client(port)
        while not stop.is_set():
            status, _, body = client.call("POST", "/eoj/hco", ORDER, token=sender_token)
            if status != 201:
                failures.append(f"POST /eoj/hco: {status} {body[:200]!r}")
                return
            sent[0] += 1

    def reader() -> None:
        client = Client(port)
        path = f"/dds/fhir/DocumentReference?patient.identifier=urn:oid:1.2.208.176.1.2|{CITIZEN}&status=current"
        while not stop.is_set():
            status, ms, body = client.call("GET", path, token=reader_token)
            if status != 200:
                failures.append(f"ITI-67: {status} {body[:200]!r}")
                return
            finds.append(ms)

    def probe() -> None:
        client = Client(port)
        while not stop.is_set():
            status, ms, _ = client.call("GET", f"/nsp/organisations/{GP_SOR}")
            if status != 200:
                failures.append(f"probe: {status}")
                return
            probes.append(ms)
            time.sleep(args.probe_ms / 1000)

    threads = [threading.Thread(target=sender) for _ in range(args.senders)]
    threads += [threading.Thread(target=reader) for _ in range(args.readers)]
    threads += [threading.Thread(target=probe)] if args.probe_ms > 0 else []
    for thread in threads:
        thread.start()
    time.sleep(args.seconds)
    stop.set()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"failures: {failures[:3]}")
    return probes, sent[0], finds


def run(tree: Path, args: argparse.Namespace) -> Run:
    with served(tree, {"NSP_SANDBOX_FHIR_PACKAGES": str(args.packages)}, prefix="nsp-loop-") as server:
        say(f"{tree}: serving on port {server.port}; warming up for {args.warm_up:g} s")
        measure(server.port, argparse.Namespace(**{**vars(args), "seconds": args.warm_up}))
        say(f"{tree}: {args.seconds:g} s with {args.senders} senders, {args.readers} readers and the probe")
        cpu, started = cpu_seconds(server.pid), time.monotonic()
        probes, sent, finds = measure(server.port, args)
        cores = (cpu_seconds(server.pid) - cpu) / (time.monotonic() - started)
        return Run(str(tree), probes, sent / args.seconds, len(finds) / args.seconds, percentile(finds, 0.95), cores)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    tree_arguments(parser, ROOT)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warm-up", type=float, default=5.0)
    parser.add_argument("--senders", type=int, default=3)
    parser.add_argument("--readers", type=int, default=1)
    parser.add_argument("--probe-ms", type=float, default=5.0, help="pause between probes (0: no probe, for the "
                        "other figures without the probe's own load)")
    parser.add_argument("--packages", type=Path, default=Path(os.environ.get(
        "NSP_SANDBOX_FHIR_PACKAGES", ROOT.parent / "shared" / "fhir-packages")))
    args = parser.parse_args()
    runs: list[Run] = []
    for tree in alternating(args):
        runs.append(run(tree, args))
        r = runs[-1]
        say(f"{tree}: probe p50 {median(r.probe_ms):.2f} p95 {percentile(r.probe_ms, 0.95):.2f} ms; "
            f"{r.messages_per_s:.1f} messages/s, {r.finds_per_s:.1f} finds/s, {r.cores:.2f} cores")
    print(f"\n{args.senders} HCO senders, {args.readers} ITI-67 readers, a probe every {args.probe_ms:g} ms; "
          f"{args.seconds:g} s each run\n")
    print("| tree | probe p50 | p95 | p99 | max | HCO messages/s | ITI-67 finds/s | find p95 | server CPU |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in runs:
        probe = (f"{median(r.probe_ms):.2f} ms | {percentile(r.probe_ms, 0.95):.2f} ms | "
                 f"{percentile(r.probe_ms, 0.99):.2f} ms | {max(r.probe_ms):.1f} ms") if r.probe_ms else "– | – | – | –"
        find = f"{r.find_p95_ms:.1f} ms" if r.finds_per_s else "–"
        print(f"| {r.tree} | {probe} | {r.messages_per_s:.1f} | {r.finds_per_s:.1f} | {find} | {r.cores:.2f} cores |")


if __name__ == "__main__":
    main()
