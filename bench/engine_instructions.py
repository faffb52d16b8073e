"""Instructions per validation, counted by valgrind's callgrind: a measure of the conformance engine that
the machine's load does not move (the same count run after run), for a before/after of a change to it.

Each validation is of a document not seen before, as a served provide's is: the official HCO message with a
fresh Bundle.id, MessageHeader.id and CPR (``../shared/peers/load.py``'s documents), so the narratives are
parsed each time, and the DocumentReference and SubmissionSet List of the same load. ``hco-varied``: HCO messages
that differ as a sender's do, in every id, value and time (:func:`varied`). After ``--warm-up``
validations (profiles compiled, value sets expanded) and ``freeze_long_lived()`` (what a served process does
before it is ready), callgrind counts ``--count`` more; the figure is their instructions divided by their number
(within 1 % from one run to the next at the same ``--count``; compare trees at one count). valgrind runs
the process some fifty times slower: a kind takes about a minute.

    .venv/bin/python bench/engine_instructions.py
    .venv/bin/python bench/engine_instructions.py --tree ../before      # another checkout (built in place)
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
KINDS = ("hco", "docref", "list", "hco-varied")


def peer_load() -> Any:
    """``../shared/peers/load.py`` as a module: its ``Documents`` make the load's fresh documents."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("peers_load", SHARED / "peers" / "load.py")
    assert spec and spec.loader
    load = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(load)
    return load


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def varied(text: str, rng: random.Random) -> dict[str, Any]:
    """The HCO message ``text`` as a sender's next message would differ from it (see the module docstring)."""
    fresh: dict[str, str] = {}
    text = UUID.sub(lambda m: fresh.setdefault(m.group(0), str(uuid.UUID(int=rng.getrandbits(128), version=4))), text)
    message: dict[str, Any] = json.loads(text)
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))
    when = start + datetime.timedelta(seconds=rng.randrange(300 * 86400))

    def stamp(offset: int) -> str:
        return (when + datetime.timedelta(seconds=offset)).isoformat()

    for entry in message["entry"]:
        resource = entry["resource"]
        said: list[tuple[str, str]] = []  # (as the narrative said it, as it says it now)
        for key in ("effectiveDateTime", "issued", "occurredDateTime", "recorded"):
            if isinstance(resource.get(key), str):
                new = stamp(rng.randrange(3600) if key == "effectiveDateTime" else 3600 + rng.randrange(600))
                said.append((_as_narrated(resource[key]), _as_narrated(new)))
                resource[key] = new
        quantity = resource.get("valueQuantity")
        if isinstance(quantity, dict) and isinstance(quantity.get("value"), int | float):
            old = quantity["value"]
            quantity["value"] = round(old * rng.uniform(0.7, 1.3), 1) if isinstance(old, float) else \
                rng.randrange(max(4, old * 2))
            said.append((f"<b>value</b>: {old} ", f"<b>value</b>: {quantity['value']} "))
        div = resource.get("text", {}).get("div")
        if isinstance(div, str):
            for before, now in said:
                div = div.replace(before, now)
            resource["text"]["div"] = div
    return message


def _as_narrated(instant: str) -> str:
    """``2023-09-13T09:24:08+02:00`` as the IG's generated narratives write it: ``2023-09-13 09:24:08+0200``."""
    return instant.replace("T", " ")[:-3] + instant[-2:]


def fresh_document(documents: Any, cprs: list[str], kind: str, n: int) -> Any:
    """The ``n``th fresh document of ``kind``: the HCO message (``hco-varied``: as :func:`varied` makes it), or its
    ITI-65 Bundle's DocumentReference or SubmissionSet List (``documents``: the ``Documents`` of :func:`peer_load`)."""
    if kind == "hco":
        return json.loads(documents.document(cprs[n])[0])
    if kind == "hco-varied":
        text = documents.document(cprs[n])[0]
        return varied(text.decode() if isinstance(text, bytes) else text, random.Random(n))
    bundle = json.loads(documents.bundle(cprs[n])[0])
    return bundle["entry"][1 if kind == "docref" else 0]["resource"]


def child(tree: Path, kind: str, count: int, warm_up: int, packages: Path) -> None:
    """Run under callgrind: validate ``warm_up`` documents, then ``count`` more with instrumentation on."""
    sys.path.insert(0, str(tree))
    load = peer_load()
    from nsp_sandbox.conformance import compiled
    from nsp_sandbox.conformance.packages import PackageRegistry
    from nsp_sandbox.conformance.validator import Validator
    from sandbox.start_steps import freeze_long_lived

    print(f"engine: {compiled.state}", file=sys.stderr, flush=True)
    validator = Validator(PackageRegistry.load([packages], None))
    documents = load.Documents(str(packages))
    cprs = load.make_cprs(1000, random.Random(1))
    items = [fresh_document(documents, cprs, kind, n) for n in range(warm_up + count)]
    validate = validator.validate if kind.startswith("hco") else validator.validate_layers
    for item in items[:warm_up]:
        validate(item)
    freeze_long_lived()  # what a served process does before it is ready: a full collection skips the packages
    control = ["callgrind_control", "-i"]
    subprocess.run([*control, "on", str(os.getpid())], check=True, capture_output=True)
    for item in items[warm_up:]:
        validate(item)
    subprocess.run([*control, "off", str(os.getpid())], check=True, capture_output=True)


def measure(tree: Path, kind: str, args: argparse.Namespace) -> float:
    with tempfile.TemporaryDirectory(prefix="nsp-callgrind-") as folder:
        out = Path(folder) / "callgrind.out"
        command = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
                   sys.executable, __file__, "--child", kind, "--tree", str(tree), "--count", str(args.count),
                   "--warm-up", str(args.warm_up), "--packages", str(args.packages)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"callgrind run failed:\n{done.stderr[-2000:]}")
        state = re.search(r"engine: (.*)", done.stderr)
        totals = re.search(r"^totals: (\d+)", out.read_text(), re.MULTILINE)
        if totals is None:
            raise SystemExit(f"no totals in {out}")
        print(f"  {tree} {kind}: engine {state.group(1) if state else '?'}", file=sys.stderr, flush=True)
        return int(totals.group(1)) / args.count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout to measure (default: this one)")
    parser.add_argument("--count", type=int, default=20, help="validations counted")
    parser.add_argument("--warm-up", type=int, default=10, help="validations before counting")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--packages", type=Path, default=Path(os.environ.get("NSP_SANDBOX_FHIR_PACKAGES",
                                                                             SHARED / "fhir-packages")))
    parser.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.tree.resolve(), args.child, args.count, args.warm_up, args.packages)
        return
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise SystemExit("valgrind is needed (Debian: apt-get install valgrind)")
    print(f"| {args.tree.resolve()} | instructions per validation ({args.count}, after {args.warm_up}) |")
    print("|---|---|")
    for kind in args.kinds:
        print(f"| {kind} | {measure(args.tree.resolve(), kind, args) / 1e6:.2f} M |", flush=True)


if __name__ == "__main__":
    main()
