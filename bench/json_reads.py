"""JSON from outside read by ``nsp_sandbox.conformance.strict_json``, one thread: the load's ITI-65 Bundle and the HCO
message inside it (``../shared/peers/load.py``'s documents), each read as a served provide reads it. For each, the
reader as served (``jiter``, then the bounds walked), Python's reader with the hooks and bounds alone
(``python_loads``, the reader before ``jiter``, still the one every refusal comes from), and the parts: ``jiter``'s
read alone and the bounds' walk alone. Best of ``--repeat`` runs of ``--number`` reads, in µs per read.

    .venv/bin/python bench/json_reads.py
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import timeit
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from engine_instructions import peer_load  # noqa: E402


def best(read: Any, raw: Any, number: int, repeat: int) -> float:
    return min(timeit.repeat(lambda: read(raw), number=number, repeat=repeat)) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--number", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--packages", type=Path, default=Path(os.environ.get("NSP_SANDBOX_FHIR_PACKAGES",
                                                                             ROOT.parent / "shared" / "fhir-packages")))
    args = parser.parse_args()
    import jiter

    from nsp_sandbox.conformance import compiled, strict_json

    load = peer_load()
    documents = load.Documents(str(args.packages))
    cpr = load.make_cprs(1, random.Random(1))[0]
    bodies = {"ITI-65 Bundle": documents.bundle(cpr)[0], "HCO message": documents.document(cpr)[0]}

    def fast_only(raw: bytes) -> Any:
        return jiter.from_json(raw, allow_inf_nan=False, catch_duplicate_keys=True)

    print(f"engine (the bounds' walk): {compiled.state}; µs per read, best of {args.repeat} × {args.number}")
    print("| body | bytes | as served | Python's reader (python_loads) | jiter alone | the bounds' walk alone |")
    print("|---|---|---|---|---|---|")
    for name, raw in bodies.items():
        raw = raw if isinstance(raw, bytes) else raw.encode()
        value = strict_json.loads(raw)
        assert value == strict_json.python_loads(raw)
        figures = [best(read, raw, args.number, args.repeat)
                   for read in (strict_json.loads, strict_json.python_loads, fast_only)]
        walk = best(strict_json.within_bounds, value, args.number, args.repeat)
        print(f"| {name} | {len(raw):,} | " + " | ".join(f"{figure:.1f}" for figure in [*figures, walk]) + " |",
              flush=True)


if __name__ == "__main__":
    main()
