"""Server CPU time per ITI-65 provide, in process: steadier than provides/s on a shared machine.

Builds the sandbox in this process (SQLite in a temporary folder, access control on), takes a token
for the Aarhus EOJ system persona, posts the bundles of ``bench/dds.py`` (the official HCO message
as the document, a new patient each), and reports ``time.process_time()`` per provide over the timed
ones (after 10 warm-up provides). The process's CPU includes what runs beside the provides: the
viewer is subscribed (DSUBm, the default), so its notifications, retrievals and validations count as
far as they got when the last provide is answered (the window ends before they all drain). The figure
is neither the provide alone nor the whole cost of a notified document: ``bench/dsubm_cpu.py`` times
the notification's bookkeeping alone. ``--tree`` measures another checkout of the project (for a
before/after comparison, run both alternately).

    .venv/bin/python bench/provide_cpu.py --provides 200 [--profile off] [--tree ../old-checkout]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--provides", type=int, default=200)
    parser.add_argument("--profile", default="reject", help="NSP_SANDBOX_VALIDATION_PROFILE (off: Danish rules only)")
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout to measure")
    args = parser.parse_args()
    tree = args.tree.resolve()
    sys.path.insert(0, str(tree))
    os.environ.setdefault("NSP_SANDBOX_FHIR_PACKAGES", str(ROOT.parent / "shared" / "fhir-packages"))
    os.environ["NSP_SANDBOX_VALIDATION_PROFILE"] = args.profile
    spec = importlib.util.spec_from_file_location("bench_dds", tree / "bench" / "dds.py")
    assert spec and spec.loader
    dds = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dds)
    try:
        from sandbox.app import create_sandbox_app
    except ImportError:  # a checkout from before the composition root had its own package
        from nsp_sandbox.app import create_sandbox_app  # type: ignore[no-redef]
    from fastapi.testclient import TestClient

    from nsp_sandbox.config import Settings
    from nsp_sandbox.context import SandboxContext

    context = SandboxContext.from_settings(Settings(data_dir=Path(tempfile.mkdtemp(prefix="nsp-bench-"))))
    model, document = dds._examples()
    count = args.provides
    bodies = [json.dumps(dds._bundle(model, document, dds._cpr(10_000_000 + n), n)).encode()
              for n in range(count + 10)]
    with TestClient(create_sandbox_app(context, warm_packages=False), base_url="http://bench") as client:
        token = client.post("/nsp/sts/token", json={"persona": "system-eoj-aarhus",
                                                    "audience": ["dds", "nsp"]}).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
        for n, body in enumerate(bodies):
            if n == 10:
                cpu, wall = time.process_time(), time.perf_counter()
            response = client.post("/dds/fhir", content=body, headers=headers)
            assert response.status_code == 200, response.text[:500]
            if n % 50 == 0:
                print(f"  {n}/{len(bodies)} provides", file=sys.stderr)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"{tree.name}: profile={args.profile}: CPU {cpu / count * 1000:.2f} ms per provide, "
          f"wall {wall / count * 1000:.2f} ms per provide ({count} provides)")


if __name__ == "__main__":
    main()
