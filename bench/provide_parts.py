"""Where a served provide's CPU goes, part by part: each part's thread CPU per document, measured inside
``nsp-sandbox up`` while ``../shared/peers/load.py`` provides (the viewer subscribed, access control off, as
``compare.sh`` runs it).

The server is started through this file (``--child``), which wraps the functions named in ``PARTS`` before the
sandbox is built: each call adds its thread's CPU time (``time.thread_time``) to its part, and the garbage
collector's collections are timed per thread (``gc.callbacks``). After ``--warm-up`` provides the totals are read
(``SIGUSR1`` makes the server write them), then again after ``--provides`` more; the table gives the difference
per document. Parts nest (registering holds its check, its writes and the notification's queueing), so they do
not add up to the whole. A function a tree does not have is left out of that tree's row. The wrappers cost a
little CPU themselves (about 1 µs per call), the same for both trees. Below the parts, the server's context
switches per document, all its threads together (``/proc``): voluntary (a thread waited: for the interpreter lock,
a socket, the database) and involuntary (the kernel stopped it, at the end of its time slice or for a thread that
woke).

    .venv/bin/python bench/provide_parts.py
    .venv/bin/python bench/provide_parts.py --against ../before --pairs 2
    .venv/bin/python bench/provide_parts.py --until-notified

``--until-notified`` reads the totals once DDS has sent every notification the provides caused (and the viewer has
read what it was notified of): what a sustained load pays per document, where load.py's figure counts its rounds
only (``served_threads.py --until-notified`` gives the same thread by thread). An async part counts its thread's CPU
from its start to its end, so what else that thread's event loop ran meanwhile too: DDS's sender runs a loop of its
own, on which the notification, the viewer's taking it and its retrievals (in process) are all there is.
"""

from __future__ import annotations

import argparse
import collections
import gc
import importlib
import inspect
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from served_notified import drain
from served_tree import (
    alternating,
    children_of,
    cpu_seconds,
    own_cpu_seconds,
    provides,
    served,
    table_head,
    table_row,
    threads_of,
    tree_arguments,
)

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"

#: (label, module, function or Class.method) in the order of a provide.
PARTS = [
    ("the Bundle's JSON (event loop)", "nsp_sandbox.fhir_http", "_parse_json"),
    ("the lane's provide, in all (one step: older trees)", "services.dds.mhd.iti65", "ProvideDocumentBundle.provide"),
    ("the lane's provide: its checks", "services.dds.mhd.iti65", "ProvideDocumentBundle.check"),
    ("the lane's provide: its registration and answer", "services.dds.mhd.iti65", "ProvideDocumentBundle.register"),
    ("  the document's JSON", "services.dds.validation", "_parse_fhir_json"),
    ("  the HCO message's validation (and the viewer's look-ups of it)", "nsp_sandbox.hco_versions", "judge_stored"),
    ("  the DocumentReference's and the SubmissionSet's validation", "services.dds.validation",
     "ContentValidation.structure_issues"),
    ("  the Danish metadata rules: DocumentReference", "services.dds.metadata_rules", "check_document_reference"),
    ("  the Danish metadata rules: the document's patient", "services.dds.metadata_rules", "check_document_patient"),
    ("  the Danish metadata rules: SubmissionSet", "services.dds.metadata_rules", "check_submission_set"),
    ("  the entry's mapping", "services.dds.mhd.document_reference", "map_entry"),
    ("  registering, in all", "services.dds.registry", "Registry.register"),
    ("    the duplicate checks", "services.dds.registry", "Registry._check"),
    ("    the inserts", "services.dds.registry", "Registry._write"),
    ("    the notifications queued", "services.dds.registry", "Registry._tell"),
    ("the viewer's read of a notified document (one at a time: older trees)", "services.sundhed_view.documents",
     "Documents._read_and_remember"),
    ("the viewer's reads of a notification's documents", "services.sundhed_view.documents",
     "Documents._read_and_remember_many"),
    ("DDS's retrieval (ITI-68)", "services.dds.registry", "Registry.get_document"),
    ("  the viewer's extracts, made now (a document parsed, judged and read)", "services.sundhed_view.documents",
     "Documents._extract"),
    ("    the viewer's parse of a document", "nsp_sandbox.conformance.validator", "Validator.parse"),
    ("  the viewer's extracts, kept (in memory and in its tables)", "services.sundhed_view.extract_cache",
     "ExtractCache.put_many"),
    ("    the extracts written as JSON", "services.sundhed_view.extract_codec", "ExtractCodec.dumps"),
    ("DDS's notifier: a notification posted and answered (the viewer's reading ahead of it included)",
     "services.dds.notifier", "Notifier._post"),
    ("  the viewer: a notification taken and its documents retrieved", "services.sundhed_view.prefetch",
     "Prefetch.notified"),
    ("    the viewer's retrievals (ITI-68, both sides, in process)", "services.sundhed_view.dds", "Dds.retrieve"),
    ("      DDS's guarded read of the entry and its document", "services.dds.mhd.entry_read", "readable_document"),
    ("DDS's notifier: events claimed", "services.dds.notifier", "Notifier._claim"),
    ("DDS's notifier: the notification Bundle", "services.dds.notifier", "notification_bundle"),
    ("DDS's notifier: events finished", "services.dds.notifier", "Notifier._finish"),
]


def child(out: Path) -> None:
    """In the server: wrap ``PARTS``, time the collector, write the totals to ``out`` on SIGUSR1, run the CLI."""
    totals: collections.Counter[str] = collections.Counter()
    calls: collections.Counter[str] = collections.Counter()

    def wrap(label: str, module_name: str, qualified: str) -> None:
        try:
            owner: Any = importlib.import_module(module_name)
            *path, name = qualified.split(".")
            for step in path:
                owner = getattr(owner, step)
            original = getattr(owner, name)
        except (ImportError, AttributeError):
            return  # not in this tree

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                totals[label] += time.thread_time() - started
                calls[label] += 1

        async def timed_async(*args: Any, **kwargs: Any) -> Any:
            # The thread's CPU from start to end: what else its event loop ran meanwhile too (DDS's sender runs
            # its own loop, with nothing else on it).
            started = time.thread_time()
            try:
                return await original(*args, **kwargs)
            finally:
                totals[label] += time.thread_time() - started
                calls[label] += 1

        setattr(owner, name, timed_async if inspect.iscoroutinefunction(original) else timed)
        if not path:  # a module function: also where it was imported by name
            for module in list(sys.modules.values()):
                if getattr(module, name, None) is original:
                    setattr(module, name, getattr(owner, name))

    for label, module_name, qualified in PARTS:
        wrap(label, module_name, qualified)
    started: dict[int, float] = {}

    def collector(phase: str, info: dict[str, Any]) -> None:
        ident = threading.get_ident()
        if phase == "start":
            started[ident] = time.thread_time()
            return
        label = f"the garbage collector, generation {info['generation']} ({threading.current_thread().name})"
        totals[label] += time.thread_time() - started.pop(ident, time.thread_time())
        calls[label] += 1

    gc.callbacks.append(collector)

    def dump(*_: Any) -> None:
        out.write_text(json.dumps({"seconds": dict(totals), "calls": dict(calls)}))

    signal.signal(signal.SIGUSR1, dump)
    from sandbox.cli import main as cli

    sys.argv = ["nsp-sandbox", *sys.argv[sys.argv.index("--child") + 2:]]
    cli()


def totals_of(pid: int, out: Path) -> dict[str, float]:
    out.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + 30
    while not out.exists() or not out.read_text():
        if time.monotonic() > deadline:
            raise SystemExit("the server wrote no totals")
        time.sleep(0.1)
    time.sleep(0.1)
    return dict(json.loads(out.read_text())["seconds"])


def _switches(pid: int) -> collections.Counter[str]:
    """The context switches of every thread of ``pid`` so far, voluntary and involuntary."""
    threads = threads_of(pid).values()
    return collections.Counter({SWITCHES[0]: sum(t.voluntary for t in threads),
                                SWITCHES[1]: sum(t.involuntary for t in threads)})


VALIDATION_PROCESS = "the validation process (a process of its own, on another core)"
SWITCHES = ("context switches per document, voluntary (all threads)",
            "context switches per document, involuntary (all threads)")


def run(tree: Path, args: argparse.Namespace) -> tuple[dict[str, float], float, float]:
    """Each part's CPU per document (ms), the whole process's (load.py's figure), and the server's resident memory
    at the end (MiB); the context switches per document among the parts."""
    env = {"NSP_SANDBOX_FHIR_PACKAGES": str(args.packages), "NSP_SANDBOX_DDS_ACCESS_CONTROL": "false"}
    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"nsp-provide-parts-{os.getpid()}.json"
    launcher = [str(Path(__file__).resolve()), "--child", str(out)]
    with served(tree, env, prefix="nsp-parts-", launcher=launcher) as server:
        print(f"[parts] {tree}: {args.warm_up} warm-up provides", file=sys.stderr, flush=True)
        provides(args, server.url, args.warm_up, None)
        if args.until_notified:  # the warm-up's notifications sent and read before anything is counted
            drain(server.data / "sandbox.db", 600, server.pid)
        before = totals_of(server.pid, out)
        switched = _switches(server.pid)
        print(f"[parts] {tree}: {args.provides} provides from {args.clients} clients", file=sys.stderr, flush=True)
        cpu, beside = cpu_seconds(server.pid), _children_cpu(server.pid)
        provides(args, server.url, args.provides, server.pid)
        if args.until_notified:
            drain(server.data / "sandbox.db", 600, server.pid)
        # The process and its validation process (load.py's own figure counts the process alone).
        whole = (cpu_seconds(server.pid) - cpu) / args.provides * 1000
        beside = (_children_cpu(server.pid) - beside) / args.provides * 1000
        after = totals_of(server.pid, out)
        after[VALIDATION_PROCESS] = before.get(VALIDATION_PROCESS, 0.0) + beside * args.provides / 1000
        switched = _switches(server.pid) - switched
        rss = _rss_mib(server.pid)
    out.unlink(missing_ok=True)
    parts = {label: (after[label] - before.get(label, 0.0)) / args.provides * 1000 for label in after}
    parts.update({label: switched[label] / args.provides for label in SWITCHES})
    return parts, whole, rss


def _children_cpu(pid: int) -> float:
    return sum(own_cpu_seconds(child) for child in children_of(pid))


def _rss_mib(pid: int) -> float:
    """The resident memory of the process and its running child processes (the validation process), MiB."""
    total = 0.0
    for process in [pid, *children_of(pid)]:
        for line in Path(f"/proc/{process}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) / 1024
    return total


def main() -> None:
    if "--child" in sys.argv:
        child(Path(sys.argv[sys.argv.index("--child") + 1]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    tree_arguments(parser, ROOT)
    parser.add_argument("--provides", type=int, default=1500)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--warm-up", type=int, default=300)
    parser.add_argument("--load", type=Path, default=SHARED / "peers" / "load.py")
    parser.add_argument("--until-notified", action="store_true",
                        help="count until every notification is sent and read")
    parser.add_argument("--packages", type=Path, default=Path(os.environ.get("NSP_SANDBOX_FHIR_PACKAGES",
                                                                             SHARED / "fhir-packages")))
    args = parser.parse_args()
    runs: dict[Path, list[tuple[dict[str, float], float, float]]] = collections.defaultdict(list)
    for tree in alternating(args):
        runs[tree].append(run(tree, args))
    trees = list(runs)
    labels = [label for label, _, _ in PARTS]
    labels += sorted({label for results in runs.values() for parts, _, _ in results for label in parts}
                     - set(labels) - set(SWITCHES))
    labels += list(SWITCHES)
    counted = "until every notification was sent and read" if args.until_notified else "over the provides"
    print(f"\nms of CPU per document, the mean of {args.pairs} run(s) each; {args.provides} provides from "
          f"{args.clients} clients after {args.warm_up}; SQLite; the viewer subscribed; counted {counted}\n")
    table_head("part", trees)
    for label in labels:
        cells = []
        for tree in trees:
            values = [parts[label] for parts, _, _ in runs[tree] if label in parts]
            cells.append(f"{sum(values) / len(values):.3f}" if values else "—")
        if any(cell not in ("—", "0.000") for cell in cells):
            table_row(label, cells)
    table_row("**the whole server**, its validation process too" + (" (until notified)" if args.until_notified
                                                                     else " (over load.py's provides)"), [
        f"**{sum(w for _, w, _ in runs[tree]) / len(runs[tree]):.2f}** ("
        + ", ".join(f"{w:.2f}" for _, w, _ in runs[tree]) + ")" for tree in trees])
    table_row("the server's resident memory at the end, its validation process too, MiB", [
        ", ".join(f"{r:.0f}" for _, _, r in runs[tree]) for tree in trees])


if __name__ == "__main__":
    main()
