"""A single-process sandbox keeps its threads on one CPU core (``NSP_SANDBOX_ONE_CORE``, on by default): every
thread it has, and every thread it starts later, on the core it started on, which "ready" names, as batch threads
(``SCHED_BATCH``: one that wakes does not preempt the one running); with the setting off, the operating system
places them, with its default policy. A thread whose work needs no Python lock steps aside onto the cores left."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from servers import up_ready

pytestmark = pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
                                reason="needs Linux and at least two CPU cores allowed to this process")

ROOT = Path(__file__).resolve().parents[2]

# Run in a process of its own: the affinity is the whole process's.
SCRIPT = """
import json, os, threading
from nsp_sandbox.one_core import keep_to_one_core
allowed = sorted(os.sched_getaffinity(0))
stop = threading.Event()
before = threading.Thread(target=stop.wait, daemon=True)
before.start()
core = keep_to_one_core()
after = threading.Thread(target=lambda: print(json.dumps([sorted(os.sched_getaffinity(0)),
                                                           os.sched_getscheduler(0) == os.SCHED_BATCH])), daemon=True)
after.start()
after.join()
threads = {t: sorted(os.sched_getaffinity(int(t))) for t in os.listdir("/proc/self/task")}
batch = {t: os.sched_getscheduler(int(t)) == os.SCHED_BATCH for t in os.listdir("/proc/self/task")}
print(json.dumps({"allowed": allowed, "core": core, "threads": threads, "batch": batch, "count": len(threads)}))
stop.set()
"""


def test_every_thread_and_every_later_one_keeps_to_the_core_it_was_on() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=ROOT, check=True)
    (started_after, after_batch), report = (json.loads(line) for line in done.stdout.splitlines())
    core = report["core"]
    assert core in report["allowed"] and len(report["allowed"]) > 1
    assert report["count"] >= 2  # the main thread and the one started before
    assert all(cores == [core] for cores in report["threads"].values()), report
    assert all(report["batch"].values()), report
    assert started_after == [core] and after_batch


ASIDE = """
import json, os, threading
from nsp_sandbox import one_core
allowed = sorted(os.sched_getaffinity(0))
if {keep}:
    one_core.keep_to_one_core()
found = []

def later():
    found.append([sorted(os.sched_getaffinity(0)), os.sched_getscheduler(0)])

def aside():
    moved = one_core.step_aside()
    found.append([moved, sorted(os.sched_getaffinity(0)), os.sched_getscheduler(0)])
    started = threading.Thread(target=later)
    started.start()
    started.join()

thread = threading.Thread(target=aside)
thread.start()
thread.join()
print(json.dumps({{"allowed": allowed, "main": sorted(os.sched_getaffinity(0)), "found": found}}))
"""


@pytest.mark.parametrize("keep", [True, False])
def test_a_thread_that_steps_aside_runs_on_the_cores_left_with_the_default_policy(keep: bool) -> None:
    done = subprocess.run([sys.executable, "-c", ASIDE.format(keep=keep)], capture_output=True, text=True, cwd=ROOT,
                          check=True)
    report = json.loads(done.stdout)
    (moved, cores, policy), (later_cores, later_policy) = report["found"]
    if keep:
        core = report["main"]
        assert len(core) == 1
        assert moved and cores == later_cores == [c for c in report["allowed"] if c not in core]
        assert policy == later_policy == os.SCHED_OTHER
    else:  # a process that keeps to no one core: nothing to step aside from
        assert not moved and cores == later_cores == report["main"] == report["allowed"]
        assert policy == later_policy == os.sched_getscheduler(0)


def test_a_policy_chosen_for_a_thread_is_kept() -> None:
    script = """
import json, os
os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
from nsp_sandbox.one_core import take_turns
print(json.dumps([take_turns(0), os.sched_getscheduler(0) == os.SCHED_IDLE]))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True)
    assert json.loads(done.stdout) == [False, True]


def _placements(pid: int) -> list[tuple[set[int], int]]:
    """Each thread's allowed cores, as the kernel lists them (``0-1,3``), and its scheduling policy."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            status = (task / "status").read_text()
            policy = os.sched_getscheduler(int(task.name))
        except OSError:  # a thread that has ended since it was listed (the build thread, just after "ready")
            continue
        listed = re.search(r"^Cpus_allowed_list:\s*(\S+)", status, re.MULTILINE)
        assert listed is not None
        cores: set[int] = set()
        for part in listed.group(1).split(","):
            low, _, high = part.partition("-")
            cores.update(range(int(low), int(high or low) + 1))
        found.append((cores, policy))
    return found


@pytest.mark.parametrize("one_core", [True, False])
def test_up_keeps_to_one_core_unless_told_not_to(one_core: bool, fhir_packages_dir: Path, tmp_path: Path) -> None:
    proc, ready = up_ready(fhir_packages_dir, tmp_path, NSP_SANDBOX_ONE_CORE=str(one_core).lower())
    try:
        placements = _placements(proc.pid)
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    named = re.search(r"on CPU core (\d+)", ready)
    assert len(placements) > 2  # the event loop and the threads the sandbox starts
    if one_core:
        assert named is not None, ready
        core = {int(named.group(1))}
        # Every thread on the core, as a batch thread, but the SQLite log's checkpoints, if running now: beside it.
        placed = {(frozenset(cores), policy) for cores, policy in placements}
        assert (frozenset(core), os.SCHED_BATCH) in placed, placed
        assert placed <= {(frozenset(core), os.SCHED_BATCH),
                          (frozenset(os.sched_getaffinity(0) - core), os.SCHED_OTHER)}, placed
    else:
        assert named is None, ready
        assert all(cores == os.sched_getaffinity(0) for cores, _ in placements), placements
        assert {policy for _, policy in placements} == {os.sched_getscheduler(0)}, placements
