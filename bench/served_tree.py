"""``nsp-sandbox up`` of a checkout, served from its own folder, for the benchmarks that compare two trees.

``served(tree, env)`` starts it (SQLite in a fresh data folder, no demo data) on a free local port, waits until
DDS answers, yields where it listens, and stops it afterwards. Started in the tree's own folder: the current
folder comes first on ``sys.path``, ahead of ``PYTHONPATH``. Each tree runs on its own install's interpreter
(``interpreter_of``), so two checkouts installed on different Pythons are compared as they were installed.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Served:
    url: str
    port: int
    pid: int
    data: Path  # the data folder: its sandbox.db, server.log


def interpreter_of(tree: Path) -> str:
    """The Python a checkout was installed with (``scripts/install.sh``: its ``.venv``), else this one's."""
    own = tree / ".venv" / "bin" / "python"
    return str(own) if own.exists() else sys.executable


def tree_arguments(parser: argparse.ArgumentParser, root: Path) -> None:
    """``--tree``, ``--against`` and ``--pairs``: the checkouts to serve, and how many runs of each."""
    parser.add_argument("--tree", type=Path, default=root, help="the checkout to serve (default: this one)")
    parser.add_argument("--against", type=Path, help="a second checkout, run alternately with --tree")
    parser.add_argument("--pairs", type=int, default=1, help="runs of each tree (alternating)")


def alternating(args: argparse.Namespace) -> Sequence[Path]:
    """The trees to run, in turn: A B B A A B … (``--pairs`` runs of each), so that neither always goes first."""
    trees = [args.tree.resolve()] + ([args.against.resolve()] if args.against else [])
    return [tree for pair in range(args.pairs) for tree in (trees if pair % 2 == 0 else trees[::-1])]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class ThreadCpu:
    """One thread of a process as ``/proc/PID/task/TID`` shows it: its name, CPU so far, context switches."""

    name: str
    user: float  # seconds
    system: float
    voluntary: int
    involuntary: int


def threads_of(pid: int) -> dict[int, ThreadCpu]:
    """Every thread of ``pid`` now, by its id (``/proc/PID/task/TID``: ``comm``, ``stat``, ``status``)."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, ThreadCpu] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        folder = Path(f"/proc/{pid}/task/{tid}")
        try:
            stat = (folder / "stat").read_text()
            status = dict(line.split(":\t", 1) for line in (folder / "status").read_text().splitlines()
                          if ":\t" in line)
            name = (folder / "comm").read_text().strip()
        except OSError:  # it ended meanwhile
            continue
        fields = stat.rsplit(")", 1)[1].split()
        found[int(tid)] = ThreadCpu(name, int(fields[11]) / tick, int(fields[12]) / tick,
                                    int(status["voluntary_ctxt_switches"]), int(status["nonvoluntary_ctxt_switches"]))
    return found


class ThreadWatch:
    """Every thread of ``pid``, read again every 50 ms (:func:`threads_of`) in a thread of this process, so that a
    thread that ends meanwhile keeps what it used until its last reading. DDS's DSUBm sender is such a thread: it
    stops when nothing is due and starts again at the next commit that queues an event."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.first = threads_of(pid)
        self.last = dict(self.first)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.05):
            self.last.update(threads_of(self.pid))

    def stop(self) -> tuple[dict[int, ThreadCpu], dict[int, ThreadCpu]]:
        """Every thread at the start, and every thread seen since at its last reading (one read now)."""
        self._stop.set()
        self._thread.join()
        self.last.update(threads_of(self.pid))
        return self.first, self.last


def table_head(first: str, columns: Sequence[object]) -> None:
    """A Markdown table's first two lines: ``first``, then one column for each of ``columns``."""
    print(f"| {first} | " + " | ".join(str(column) for column in columns) + " |")
    print("|---|" + "---|" * len(columns))


def table_row(label: str, cells: Sequence[str]) -> None:
    print(f"| {label} | " + " | ".join(cells) + " |")


def cpu_seconds(pid: int) -> float:
    """The server's user and system CPU so far (``/proc``): the process's, and its running child processes' (the
    validation process of ``nsp-sandbox up``, :mod:`nsp_sandbox.validation_process`)."""
    return own_cpu_seconds(pid) + sum(own_cpu_seconds(child) for child in children_of(pid))


def own_cpu_seconds(pid: int) -> float:
    """One process's user and system CPU so far, its ended children's included (0 once it has ended)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(field) for field in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def children_of(pid: int) -> list[int]:
    """The running child processes of ``pid`` (those of each of its threads)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def settle(pid: int, quiet: float = 2.0, busy: float = 0.05, timeout: float = 900) -> None:
    """Until the server has used less than ``busy`` of a core over ``quiet`` seconds: what it does after the answers
    and the notifications (the viewer's reading ahead, which waits for the provides to pause) has ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        start = cpu_seconds(pid)
        time.sleep(quiet)
        if cpu_seconds(pid) - start < busy * quiet:
            return
    raise SystemExit(f"the server was still busy after {timeout:.0f} s")


@contextmanager
def served(tree: Path, env: dict[str, str], prefix: str = "nsp-bench-",
           launcher: Sequence[str] = ("-c", "from sandbox.cli import main; main()"),
           under: Sequence[str] = ()) -> Iterator[Served]:
    """``up`` of ``tree`` with ``env`` added to this process's environment (``NSP_SANDBOX_DATABASE_URL`` left
    out: SQLite in the data folder). ``launcher``: what the Python interpreter runs, given ``up`` and its options
    (by default the command line's entry point); ``under``: a command the interpreter runs under (valgrind), in
    the same process."""
    data = Path(tempfile.mkdtemp(prefix=prefix))
    port = free_port()
    environment = {**os.environ, "PYTHONPATH": str(tree), **env}
    environment.pop("NSP_SANDBOX_DATABASE_URL", None)
    with (data / "server.log").open("w") as log:
        server = subprocess.Popen([*under, interpreter_of(tree), *launcher, "up", "--no-demo",
                                   "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data)],
                                  cwd=tree, env=environment, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 120
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/dds/fhir/metadata", timeout=5):
                        break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit(f"{tree}: the sandbox did not start (log: {data / 'server.log'})") from None
                    time.sleep(0.5)
            yield Served(url, port, server.pid, data)
        finally:
            server.terminate()
            server.wait(timeout=60)


def provides(args: argparse.Namespace, url: str, count: int, pid: int | None) -> dict[str, Any]:
    """``count`` ITI-65 provides from ``args.clients`` clients with ``args.load`` (``../shared/peers/load.py``, no
    warm-up, no searches): its JSON result line (with the server's CPU per document when ``pid`` is given)."""
    command = [sys.executable, str(args.load), "--profile", "nsp", "--url", url, "-n", str(count),
               "-c", str(args.clients), "-m", "0", "--rounds", "1", "--warmup", "0", "--packages", str(args.packages)]
    if pid is not None:
        command += ["--server-pid", str(pid)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"load.py failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return dict(json.loads(lines[-1]))
