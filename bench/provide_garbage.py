"""What a provide leaves for the garbage collector: the objects that only a collection frees (reference cycles),
per provide and by type, and the young collections the provides set off.

DDS's ITI-65 steps run in this process, one thread, without HTTP (``ProvideDocumentBundle.check`` and ``register``
over ``../shared/peers/load.py``'s bundles, SQLite in a temporary folder, the viewer not subscribed). After
``--warm-up`` provides and ``freeze_long_lived()`` (what a served process does before it is ready), ``--provides``
more are counted twice: first with the collector as a served sandbox runs it (its young collections, and what they
found unreachable), then with the collector off and ``gc.DEBUG_SAVEALL`` (the cyclic garbage itself, by type).
``--tree`` measures another checkout (built in place).

    .venv/bin/python bench/provide_garbage.py
    .venv/bin/python bench/provide_garbage.py --tree ../before
"""

from __future__ import annotations

import argparse
import collections
import gc
import os
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout to measure (default: this one)")
    parser.add_argument("--provides", type=int, default=100, help="provides counted (each way)")
    parser.add_argument("--warm-up", type=int, default=50)
    parser.add_argument("--packages", type=Path, default=Path(os.environ.get("NSP_SANDBOX_FHIR_PACKAGES",
                                                                            SHARED / "fhir-packages")))
    args = parser.parse_args()
    tree = args.tree.resolve()
    sys.path.insert(0, str(tree))
    sys.path.insert(0, str(ROOT / "bench"))
    os.environ["NSP_SANDBOX_FHIR_PACKAGES"] = str(args.packages)
    from engine_instructions import peer_load

    from nsp_sandbox.config import Settings
    from nsp_sandbox.conformance import compiled
    from nsp_sandbox.conformance.strict_json import loads
    from nsp_sandbox.context import SandboxContext
    from sandbox.start_steps import freeze_long_lived
    from services.dds.mhd.deps import Deps
    from services.dds.mhd.iti65 import ProvideDocumentBundle

    load = peer_load()
    context = SandboxContext.from_settings(Settings(data_dir=Path(tempfile.mkdtemp(prefix="nsp-garbage-"))))
    deps = Deps.build(context)
    provider = ProvideDocumentBundle(deps.registry, deps.validation)
    documents = load.Documents(str(args.packages))
    cprs = load.make_cprs(1000, random.Random(1))
    count = args.provides
    bodies = [documents.bundle(cprs[n % len(cprs)])[0] for n in range(args.warm_up + 2 * count)]

    def provide(body: bytes) -> None:
        provider.register(provider.check(loads(body), context.clock.now(), lambda i: f"http://bench/{i}", None))

    print(f"[garbage] {tree}: engine {compiled.state}; {args.warm_up} warm-up provides", file=sys.stderr, flush=True)
    for body in bodies[:args.warm_up]:
        provide(body)
    freeze_long_lived()

    found: list[int] = []

    def young(phase: str, info: dict[str, Any]) -> None:
        if phase == "stop" and info["generation"] == 0:
            found.append(info["collected"])

    gc.callbacks.append(young)
    for body in bodies[args.warm_up:args.warm_up + count]:
        provide(body)
    gc.callbacks.remove(young)

    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    for body in bodies[args.warm_up + count:]:
        provide(body)
    gc.collect()
    kinds = collections.Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage)
    gc.set_debug(0)
    gc.garbage.clear()
    gc.enable()

    print(f"| {tree} | {count} provides |")
    print("|---|---|")
    print(f"| young collections | {len(found)} ({len(found) / count:.2f} per provide) |")
    print(f"| found unreachable by them, each | {sum(found) / len(found) if found else 0:.0f} |")
    print(f"| cyclic garbage per provide | {sum(kinds.values()) / count:.1f} objects |")
    for kind, number in kinds.most_common(12):
        print(f"| {kind} | {number / count:.1f} |")


if __name__ == "__main__":
    main()
