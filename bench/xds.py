"""DDS's two doors side by side: ITI-41 (XDS.b, DGWS) beside ITI-65 (MHD) provides per second, and
ITI-18 beside ITI-67 find latency, on one sandbox over one registry.

For the chosen database the benchmark seeds ``--entries`` DocumentEntries (``bench/dds.py``'s store
layer seeding), starts the sandbox under uvicorn (one worker) on loopback, and then, one request at
a time from one client:

1. finds a random seeded patient's documents ``--queries`` times over ITI-67 (token) and ITI-18
   FindDocuments (a GP's employee card with HSUID), both through DDS's access checks and Min Log;
2. provides the official HCO message ``--provides`` times over ITI-65 and ``--provides`` times over
   ITI-41 (the same metadata, mapped MHD → XDS; the EOJ's system persona, a DGWS system card).

The two doors take turns request by request (one ITI-67 then one ITI-18 for the same patient; one
ITI-65 then one ITI-41), so that other work on the machine weighs on both alike and the ratio of one
run holds. The seed (``bench/dds.py``'s ``seed``: the rows a provide writes, inserted in batches
through the registry's storage layer, with a progress line) takes about a minute on SQLite and five
on PostgreSQL for 100,000 entries.

    .venv/bin/python bench/xds.py --entries 100000                 # SQLite
    .venv/bin/python bench/xds.py --database postgresql --entries 100000
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2 as httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nsp_sandbox.xds import from_mhd  # noqa: E402
from nsp_sandbox.xds import vocabulary as v  # noqa: E402
from nsp_sandbox.xds.client import (  # noqa: E402
    XdsClient,
    find_request,
    provide_call,
    query_call,
    query_response,
    read_answer,
    registry_response,
)
from nsp_sandbox.xds.ebrim import Document  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_dds", ROOT / "bench" / "dds.py")
assert _spec and _spec.loader
dds = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(dds)


def _provide_calls(model: dict, document: bytes, count: int) -> list[tuple[bytes, Any, list[Document]]]:
    """Per provide: the ITI-65 Bundle and the same metadata as ITI-41 (submission, documents), each a
    new patient, the metadata of ``bench/dds.py``'s bundles."""
    calls = []
    for n in range(count + 5):
        bundle = dds._bundle(model, document, dds._cpr(10_000_000 + n), n)
        twin = dds._bundle(model, document, dds._cpr(20_000_000 + n), n)
        resource = twin["entry"][1]["resource"]
        content = base64.b64decode(twin["entry"][2]["resource"]["data"])
        entry = from_mhd.document_entry(resource)
        info = from_mhd.SubmissionSetInfo(source_id="1.2.208.176.1.1.0.1", cpr=from_mhd.patient_cpr(resource),
                                          submitted=datetime.now(UTC))
        calls.append((json.dumps(bundle).encode(), from_mhd.submission([entry], info), [Document(entry.id, content)]))
    return calls


def provides(base: str, model: dict, document: bytes, count: int) -> tuple[float, float]:
    """ITI-65 and ITI-41 provides per second, alternating one of each, so that a change of load on
    the machine weighs on both doors alike (5 warm-up pairs first). Both requests are built before
    the clock starts and their answers read after it stops: what is timed is the exchange."""
    calls = _provide_calls(model, document, count)
    took = {"ITI-65": 0.0, "ITI-41": 0.0}
    with httpx.Client(base_url=base, headers={"Content-Type": "application/fhir+json"}, timeout=60) as http, \
            XdsClient(f"{base}/dds", nsp_url=f"{base}/nsp", persona=dds.SOURCE_SYSTEM) as xds:
        http.headers.update(dds.bearer(http, dds.SOURCE_SYSTEM))
        for n, (bundle, submission, documents) in enumerate(calls):
            call = provide_call(xds.endpoints.drs_proxy, submission, documents)
            headers, data = xds.prepared(call)
            started = time.perf_counter()
            response = http.post("/dds/fhir", content=bundle)
            middle = time.perf_counter()
            raw = xds.client.post(call.url, content=data, headers=headers)
            ended = time.perf_counter()
            assert response.status_code == 200, response.text[:2000]
            answer = registry_response(read_answer(raw.status_code, raw.headers.get("content-type", ""),
                                                   raw.content))
            assert answer.status_word in ("Success", "PartialSuccess"), answer.errors
            if n >= 5:
                took["ITI-65"] += middle - started
                took["ITI-41"] += ended - middle
            print(f"\r  provides {n + 1:>5}/{len(calls)}", end="", flush=True)
    print()
    return count / took["ITI-65"], count / took["ITI-41"]


def finds(base: str, patients: int, count: int) -> dict[str, tuple[float, float]]:
    """p50 / p95 in ms of ITI-67 and ITI-18 for the same random seeded patients, one of each in turn;
    each request built before the clock starts and its answer read (and checked) after it stops."""
    chosen = [dds._cpr(random.randrange(patients)) for _ in range(count)]
    mhd: list[float] = []
    xds: list[float] = []
    with httpx.Client(base_url=base, timeout=60) as http, \
            XdsClient(f"{base}/dds", nsp_url=f"{base}/nsp", persona=dds.READER) as client:
        dds.relate(http, chosen)
        headers = dds.bearer(http, dds.READER)
        for n, cpr in enumerate(chosen):
            call = query_call(client.endpoints.registry, find_request(cpr), client.hsuid(cpr))
            soap_headers, data = client.prepared(call)
            started = time.perf_counter()
            found = http.get("/dds/fhir/DocumentReference", headers=headers, params={
                "patient.identifier": f"urn:oid:1.2.208.176.1.2|{cpr}", "status": "current"})
            middle = time.perf_counter()
            raw = client.client.post(call.url, content=data, headers=soap_headers)
            ended = time.perf_counter()
            found.raise_for_status()
            entries = len(found.json().get("entry", []))
            answer = query_response(read_answer(raw.status_code, raw.headers.get("content-type", ""), raw.content))
            assert answer.status == v.RESPONSE_SUCCESS and len(answer.objects) == entries, (cpr, answer.errors)
            mhd.append((middle - started) * 1000)
            xds.append((ended - middle) * 1000)
            print(f"\r  finds {n + 1:>5}/{count}", end="", flush=True)
    print()

    def spread(values: list[float]) -> tuple[float, float]:
        return statistics.median(values), statistics.quantiles(values, n=20)[18]

    return {"ITI-67": spread(mhd), "ITI-18": spread(xds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--provides", type=int, default=200)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    model, document = dds._examples()
    work = Path(tempfile.mkdtemp(prefix="nsp-bench-xds-"))
    if args.database == "sqlite":
        run(f"sqlite:///{work / 'bench.db'}", args, model, document, work)
    else:
        with dds.postgres_database(args.postgres_url) as url:
            run(url, args, model, document, work)


def run(url: str, args: argparse.Namespace, model: dict, document: bytes, work: Path) -> None:
    print(f"== {args.database}, {args.entries} entries", flush=True)
    dds.seed(url, args.entries, args.patients, model, document)
    with dds.server(url, work, {}) as base:
        found = finds(base, args.patients, args.queries)
        iti65, iti41 = provides(base, model, document, args.provides)
    for name, (p50, p95) in found.items():
        print(f"  {name} FindDocuments / search   p50 {p50:6.2f} ms   p95 {p95:6.2f} ms")
    (mhd50, mhd95), (xds50, xds95) = found["ITI-67"], found["ITI-18"]
    print(f"  ITI-18 / ITI-67: p50 {xds50 / mhd50:.2f}×   p95 {xds95 / mhd95:.2f}×")
    print(f"  ITI-65 provides/s {iti65:7.1f}    ITI-41 provides/s {iti41:7.1f}    "
          f"XDS costs {iti65 / iti41:.2f}× MHD per document")


if __name__ == "__main__":
    main()
