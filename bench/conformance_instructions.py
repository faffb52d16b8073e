"""Instructions per whole validation of ``bench/conformance.py``'s documents, by callgrind.

Wall clock on a shared machine moves with the load; the instruction count does not. For each
document this runs two processes under ``valgrind --tool=callgrind`` with ``PYTHONHASHSEED=0``: each
loads the packages and validates every document twice (profiles compiled, value sets expanded),
then validates the one document ``--extra`` more times in the second process only. The difference
of the two totals divided by ``--extra`` is the cost of one validation::

    .venv/bin/python bench/conformance_instructions.py                  # all three documents
    .venv/bin/python bench/conformance_instructions.py --document HCO   # labels starting with HCO
    .venv/bin/python bench/conformance_instructions.py --tree ../before # another checkout

With ``--counters`` one process is run instead, uninstrumented until the documents are warm: a
small helper built with ``gcc`` from valgrind's ``callgrind.h`` starts the count, zeroed, right
before ``--repeat`` validations of each document and dumps it right after (faster on a loaded
machine; the two ways agree within half a per cent)::

    .venv/bin/python bench/conformance_instructions.py --counters

Needs ``valgrind`` on the PATH (and ``gcc`` with valgrind's headers for ``--counters``). Prints a
Markdown table (millions of instructions).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
_TOTAL = re.compile(rb"^(?:summary|totals):\s*(\d+)", re.MULTILINE)


def _warm_validator(tree: Path, packages: Path) -> tuple[Any, dict[str, Any]]:
    """A validator of ``tree`` on ``packages`` and the benchmark's documents by label, each validated twice."""
    sys.path.insert(0, str(tree))
    sys.path.insert(0, str(ROOT / "bench"))
    from conformance import DOCUMENTS

    from nsp_sandbox.conformance.packages import PackageRegistry
    from nsp_sandbox.conformance.validator import Validator

    registry = PackageRegistry.load([packages], None)
    validator = Validator(registry)
    documents = {}
    for doc_label, name, version, filename in DOCUMENTS:
        package = registry.get(name, version)
        if package is None:
            sys.exit(f"{name}#{version} is not loaded from {packages}")
        documents[doc_label] = dict(package.examples())[filename]
    for resource in documents.values():
        validator.validate(resource)
        validator.validate(resource)
    return validator, documents


def _inner(tree: Path, packages: Path, label: str, extra: int) -> None:
    """The measured process: load, validate every document twice, then ``label``'s ``extra`` times."""
    validator, documents = _warm_validator(tree, packages)
    resource = documents[label]
    for _ in range(extra):
        validator.validate(resource)


_HELPER = """#include <valgrind/callgrind.h>
void count_start(void) { CALLGRIND_START_INSTRUMENTATION; CALLGRIND_ZERO_STATS; }
void count_stop(const char *label) { CALLGRIND_DUMP_STATS_AT(label); CALLGRIND_STOP_INSTRUMENTATION; }
"""


def _counted(tree: Path, packages: Path, helper: Path, repeat: int) -> None:
    """The measured process of ``--counters``: every document warmed up, then counted alone."""
    import ctypes

    count = ctypes.CDLL(str(helper))
    validator, documents = _warm_validator(tree, packages)
    for doc_label, resource in documents.items():
        count.count_start()
        for _ in range(repeat):
            validator.validate(resource)
        count.count_stop(doc_label.encode())


def _counters(tree: Path, packages: Path, repeat: int) -> list[tuple[str, float]]:
    with tempfile.TemporaryDirectory() as folder:
        helper = Path(folder) / "count.so"
        (Path(folder) / "count.c").write_text(_HELPER)
        subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", str(helper), str(Path(folder) / "count.c")],
                       check=True)
        env = dict(os.environ, PYTHONHASHSEED="0", PYTHONPATH=str(tree))
        subprocess.run(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={folder}/out.%p",
             sys.executable, __file__, "--counted", str(helper), "--tree", str(tree), "--packages", str(packages),
             "--repeat", str(repeat)],
            check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rows = []
        for dump in sorted(Path(folder).glob("out.*.*"), key=lambda p: int(p.name.rsplit(".", 1)[1])):
            text = dump.read_bytes()
            label = re.search(rb"^desc: Trigger: Client Request: (.*)$", text, re.MULTILINE)
            total = _TOTAL.search(text)
            if label and total:
                rows.append((label.group(1).decode(), int(total.group(1)) / repeat))
        return rows


def _instructions(tree: Path, packages: Path, label: str, extra: int) -> int:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "callgrind.out"
        env = dict(os.environ, PYTHONHASHSEED="0", PYTHONPATH=str(tree))
        subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, __file__, "--inner",
             "--tree", str(tree), "--packages", str(packages), "--label", label, "--extra", str(extra)],
            check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        found = _TOTAL.search(out.read_bytes())
        if found is None:
            sys.exit(f"no total in {out}")
        return int(found.group(1))


def main() -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    from conformance import DOCUMENTS, PACKAGES

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout to measure (default: this one)")
    parser.add_argument("--packages", type=Path, default=PACKAGES, help="folder of FHIR package .tgz files")
    parser.add_argument("--document", default="", help="only the documents whose label starts with this")
    parser.add_argument("--extra", type=int, default=20, help="further validations in the second process")
    parser.add_argument("--counters", action="store_true", help="one process, counted around the validations")
    parser.add_argument("--repeat", type=int, default=10, help="validations counted per document (--counters)")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--counted", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--label", help=argparse.SUPPRESS)
    args = parser.parse_args()
    tree = args.tree.resolve()
    if args.inner:
        _inner(tree, args.packages, args.label, args.extra)
        return
    if args.counted:
        _counted(tree, args.packages, args.counted, args.repeat)
        return
    print(f"measuring {tree}", file=sys.stderr)
    rows = []
    if args.counters:
        rows = [(label, per) for label, per in _counters(tree, args.packages, args.repeat)
                if label.startswith(args.document)]
    for label, *_ in DOCUMENTS if not args.counters else ():
        if not label.startswith(args.document):
            continue
        base = _instructions(tree, args.packages, label, 0)
        more = _instructions(tree, args.packages, label, args.extra)
        per = (more - base) / args.extra
        print(f"  {label}: {base} / {more} instructions: {per / 1e6:.2f} M per validation", file=sys.stderr)
        rows.append((label, per))
    print("| document | instructions per whole validation |")
    print("|---|---|")
    for label, per in rows:
        print(f"| {label} | {per / 1e6:.2f} M |")


if __name__ == "__main__":
    main()
