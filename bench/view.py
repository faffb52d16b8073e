"""Sundhed.dk viewer benchmark: server time of each main page for a citizen with 200 documents.

The citizen (Bruno Elmer, 2509479989) gets ``--hco`` HomeCareObservation messages through the
real flow (EOJ → GP acknowledgement → DDS), one ConditionList and ``--notes`` Notes documents
(official examples through ITI-65, as ``tests/view/seeding.py`` provides them), 200 in all by
default. The sandbox runs in process over a SQLite file (or ``--database-url``); each page is
requested signed in as the citizen: once first ("first view") and then ``--repeat`` times warm
(documents already read: only the ITI-67 search and the rendering). Figures are wall-clock times
of the request as the in-process client sees it.

By default the viewer is subscribed at DDS (IHE DSUBm) and reads every document as it is shared;
the benchmark waits until it has read them all (and says how long that took after the last
provide), then clears the viewer's process memory so the first view reads what it needs from the
viewer's tables, as another worker or a restarted one would. With ``--no-dsubm`` the viewer does
not subscribe and the first view retrieves, validates and reads every document (cold).

    .venv/bin/python bench/view.py
    .venv/bin/python bench/view.py --no-dsubm
    .venv/bin/python bench/view.py --hco 20 --notes 9 --repeat 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "view"))
sys.path.insert(0, str(ROOT / "tests"))

import seeding  # noqa: E402
from actor_tokens import ActorTokens  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from nsp_sandbox.clock import Clock  # noqa: E402
from nsp_sandbox.config import Settings  # noqa: E402
from nsp_sandbox.context import SandboxContext  # noqa: E402
from nsp_sandbox.database import Database  # noqa: E402
from sandbox.app import create_sandbox_app  # noqa: E402
from sandbox.start_steps import freeze_long_lived  # noqa: E402

PACKAGES = Path(os.environ.get("NSP_SANDBOX_TEST_FHIR_PACKAGES", ROOT.parent / "shared" / "fhir-packages"))
CITIZEN = "2509479989"
PAGES = ("/view/hjem", f"/view/borger/{CITIZEN}", f"/view/borger/{CITIZEN}/provesvar",
         f"/view/borger/{CITIZEN}/diagnoser", f"/view/borger/{CITIZEN}/journalnotater", "/view/minlog",
         "/view/minspaerring")


def seed(client: TestClient, hco: int, notes: int) -> None:
    started = time.perf_counter()
    for n in range(hco):
        day, hour = 1 + n % 28, 7 + n % 12
        month = 1 + (n // 28) % 10
        when = f"2026-{month:02d}-{day:02d}T{hour:02d}:{n % 60:02d}:00+01:00"
        seeding.hco(client, CITIZEN, observations=[
            {"code": "NPU19748", "value": 5 + n % 40, "time": when},
            {"code": "NPU22089", "value": round(4.5 + (n % 30) / 10, 1), "time": when},
            {"code": "NPU08676", "value": round(36.5 + (n % 20) / 10, 1), "time": when},
            {"code": "NPU21578", "value": "Negative", "time": when}])
        if (n + 1) % 20 == 0:
            print(f"  {n + 1}/{hco} HCO messages ({time.perf_counter() - started:.0f} s)", flush=True)
    seeding.conditionlist(client, PACKAGES, CITIZEN)
    for n in range(notes):
        seeding.note(client, PACKAGES, CITIZEN, body=f"<p>Konsultation nr. {n + 1}: <b>kontrol</b></p>",
                     created=f"2026-{1 + n % 10:02d}-{1 + n % 28:02d}T09:{n % 60:02d}:00+01:00")
    print(f"seeded {hco + 1 + notes} documents in {time.perf_counter() - started:.0f} s", flush=True)


def viewer(client: TestClient) -> FastAPI:
    app = next(r.app for r in client.app.routes if getattr(r, "path", None) == "/view")
    assert isinstance(app, FastAPI)
    return app


def settle(client: TestClient, documents: int, timeout: float = 600.0) -> float:
    """Wait until the viewer has read every one of the citizen's ``documents`` (DSUBm prefetch); the
    seconds it took."""
    started = time.perf_counter()
    cache = viewer(client).state.views.documents.cache
    token = seeding.token(client, f"citizen-{CITIZEN}", "dds")
    found = client.get("/dds/fhir/DocumentReference", params={
        "patient.identifier": CITIZEN, "status": "current", "_count": "500"},
        headers={"Authorization": f"Bearer {token}"}).json()
    entries = [(e["resource"]["id"], e["resource"]["content"][0]["attachment"]["hash"])
               for e in found["entry"] if e["search"]["mode"] == "match"]
    assert len(entries) == documents, (len(entries), documents)
    while not all(cache.has_entry(*e) for e in entries):
        assert time.perf_counter() - started < timeout, "the prefetch did not finish"
        time.sleep(0.05)
    return time.perf_counter() - started


def measure(client: TestClient, repeat: int) -> list[tuple[str, float, float, float]]:
    out = []
    for path in PAGES:
        start = time.perf_counter()
        response = client.get(path)
        cold = (time.perf_counter() - start) * 1000
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        assert response.url.path == path, f"{path} answered {response.url.path} (not signed in?)"
        warm = []
        for _ in range(repeat):
            start = time.perf_counter()
            assert client.get(path).status_code == 200
            warm.append((time.perf_counter() - start) * 1000)
        warm.sort()
        out.append((path, cold, statistics.median(warm), warm[int(0.95 * (len(warm) - 1))]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hco", type=int, default=140)
    parser.add_argument("--notes", type=int, default=59)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--no-dsubm", action="store_true", help="the viewer does not subscribe at DDS (cold)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{folder}/bench.db"
        settings = Settings(fhir_packages=str(PACKAGES), fhir_package_cache=Path(folder) / "cache",
                            data_dir=Path(folder), database_url=url, view_dsubm=not args.no_dsubm)
        context = SandboxContext(settings, Clock(), Database.from_url(url))
        with TestClient(create_sandbox_app(context, warm_packages=False), base_url="http://sandbox.test",
                        client=("127.0.0.1", 50000)) as client:
            client.auth = ActorTokens()  # the EOJ's face takes tokens
            documents = args.hco + 1 + args.notes
            if not args.no_dsubm:
                prefetch = viewer(client).state.prefetch
                assert prefetch.settled.wait(60) and prefetch.subscription_id, "the viewer did not subscribe"
            freeze_long_lived()  # as nsp-sandbox up does once ready, before anyone provides
            seed(client, args.hco, args.notes)
            if not args.no_dsubm:
                print(f"prefetch settled {settle(client, documents):.1f} s after the last provide", flush=True)
                cache = viewer(client).state.views.documents.cache
                cache._memory.clear()  # as another worker or a restart: only the viewer's tables
                cache._entries.clear()
            client.auth = None
            seeding_csrf = client.get("/view/").text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            client.post("/view/login", data={"persona": f"citizen-{CITIZEN}", "csrf": seeding_csrf})
            results = measure(client, args.repeat)
    mode = "cold: no DSUBm" if args.no_dsubm else "DSUBm: first view after the prefetch settled"
    print(f"\n{args.hco + 1 + args.notes} documents ({mode}); warm = median and p95 of {args.repeat} requests")
    print(f"{'page':<44} {'first ms':>8} {'warm p50':>9} {'warm p95':>9}")
    for path, cold, p50, p95 in results:
        print(f"{path:<44} {cold:8.0f} {p50:9.1f} {p95:9.1f}")


if __name__ == "__main__":
    main()
