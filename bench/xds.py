"""DDS's two doors side by side: ITI-41 (XDS.b, DGWS) beside ITI-65 (MHD) provides per second, and
ITI-18 beside ITI-67 find latency, on one sandbox over one registry.

For the chosen database the benchmark seeds ``--entries`` DocumentEntries (``bench/dds.py``'s store
layer seeding), starts the sandbox under uvicorn (one worker) on loopback, and then, one request at
a time from one client:

1. provides the official HCO message ``--provides`` times over ITI-65 and ``--provides`` times over
   ITI-41 (the same metadata, mapped MHD → XDS; the EOJ's system persona, a DGWS system card);
2. finds a random seeded patient's documents ``--queries`` times over ITI-67 (token) and ITI-18
   FindDocuments (a GP's employee card with HSUID), both through DDS's access checks and Min Log.

    .venv/bin/python bench/xds.py --entries 100000                 # SQLite
    .venv/bin/python bench/xds.py --database postgresql --entries 100000
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx2 as httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nsp_sandbox.xds import from_mhd  # noqa: E402
from nsp_sandbox.xds.client import XdsClient  # noqa: E402
from nsp_sandbox.xds.ebrim import Document  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_dds", ROOT / "bench" / "dds.py")
assert _spec and _spec.loader
dds = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(dds)


def iti41_provides(base: str, model: dict, document: bytes, count: int) -> float:
    """ITI-41 provides per second, each a new patient, the metadata of ``bench/dds.py``'s bundles."""
    calls = []
    for n in range(count + 5):
        bundle = dds._bundle(model, document, dds._cpr(20_000_000 + n), n)
        resource = bundle["entry"][1]["resource"]
        content = __import__("base64").b64decode(bundle["entry"][2]["resource"]["data"])
        entry = from_mhd.document_entry(resource)
        info = from_mhd.SubmissionSetInfo(source_id="1.2.208.176.1.1.0.1", cpr=from_mhd.patient_cpr(resource),
                                          submitted=datetime.now(UTC))
        calls.append((from_mhd.submission([entry], info), [Document(entry.id, content)]))
    with XdsClient(f"{base}/dds", nsp_url=f"{base}/nsp", persona=dds.SOURCE_SYSTEM) as client:
        for submission, documents in calls[:5]:
            client.provide(submission, documents)
        started = time.perf_counter()
        for submission, documents in calls[5:]:
            client.provide(submission, documents)
        return count / (time.perf_counter() - started)


def finds(base: str, patients: int, count: int) -> dict[str, tuple[float, float]]:
    """p50 / p95 in ms of ITI-67 and ITI-18 for the same random seeded patients."""
    chosen = [dds._cpr(random.randrange(patients)) for _ in range(count)]
    with httpx.Client(base_url=base, timeout=60) as http:
        dds.relate(http, chosen)
        headers = dds.bearer(http, dds.READER)
        mhd: list[float] = []
        for cpr in chosen:
            started = time.perf_counter()
            http.get("/dds/fhir/DocumentReference", headers=headers, params={
                "patient.identifier": f"urn:oid:1.2.208.176.1.2|{cpr}", "status": "current"}).raise_for_status()
            mhd.append((time.perf_counter() - started) * 1000)
    xds: list[float] = []
    with XdsClient(f"{base}/dds", nsp_url=f"{base}/nsp", persona=dds.READER) as client:
        for cpr in chosen:
            started = time.perf_counter()
            client.find_documents(cpr)
            xds.append((time.perf_counter() - started) * 1000)

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
        print("  finds …", flush=True)
        found = finds(base, args.patients, args.queries)
        print("  provides …", flush=True)
        iti65 = dds.measure_provides(base, model, document, args.provides)
        iti41 = iti41_provides(base, model, document, args.provides)
    for name, (p50, p95) in found.items():
        print(f"  {name} FindDocuments / search   p50 {p50:6.2f} ms   p95 {p95:6.2f} ms")
    print(f"  ITI-65 provides/s {iti65:7.1f}    ITI-41 provides/s {iti41:7.1f}    "
          f"XDS costs {iti65 / iti41:.2f}× MHD per document")


if __name__ == "__main__":
    main()
