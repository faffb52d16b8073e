"""A sandbox process on one CPU core (``NSP_SANDBOX_ONE_CORE``, on by default for ``nsp-sandbox up`` and ``serve``).

Python runs one thread of a process at a time (the interpreter lock), and a served sandbox has several: the
event loop, the CPU lane, DDS's notifier, the request log's writer. Left to the operating system, they run on
whichever core is free, and each time the lock passes to a thread on another core, that thread works from that
core's caches, cold for what the previous thread just touched (the document being validated, the compiled
profiles). Kept on one core, they take turns on warm caches: a served provide cost about a tenth less CPU
(``docs/benchmarks.md``), and the process never uses more than the one core its Python could use anyway.

On that core they are also batch threads (Linux ``SCHED_BATCH``, allowed to any process): a thread that wakes does
not preempt the one running. Without it, every time the event loop woke for a chunk of a request body or a
finished provide, the kernel stopped the CPU lane at once to run the loop, which then only waited for the lock the
lane held: two context switches, and the lane's caches spoiled, for nothing. A batch thread runs when the running
one waits (for the lock, a socket, the database) or its time slice ends, which is when Python would have handed
the lock over anyway. The nice value is unchanged; other programs on the machine are, if anything, preempted by
the sandbox less often than before.

A thread whose work is done outside the lock can step aside (:func:`step_aside`) onto the cores the process left:
the SQLite log's checkpoints (:mod:`nsp_sandbox.wal_checkpoints`) copy pages and wait for the disk in SQLite's C
code and the kernel, which need no Python lock and took 0.13–0.18 ms of the one core per provide.

The cores left are also where ``up`` runs its validation process (:mod:`nsp_sandbox.validation_process`): the
validations of DDS's provides, made there while the one core goes on with the rest.

``nsp-sandbox up --workers N`` leaves its workers to the operating system: N processes, each on a core it chose
itself, could land on the same one and stay there.
"""

from __future__ import annotations

import os
from pathlib import Path

_left: frozenset[int] = frozenset()  # the cores the process was allowed besides its one (keep_to_one_core)


def keep_to_one_core() -> int | None:
    """Keep every thread of this process, and every thread they start, on the core the calling thread runs on.

    Returns that core's number; None where it cannot be done or is already so (not Linux, a single core allowed).
    """
    if not hasattr(os, "sched_setaffinity"):
        return None
    allowed = os.sched_getaffinity(0)
    if len(allowed) < 2:
        return None
    core = current_core()
    if core is None or core not in allowed:
        core = min(allowed)
    global _left
    _left = frozenset(allowed - {core})
    for thread in _threads():  # a thread started later inherits the affinity and the policy of its starter
        try:
            os.sched_setaffinity(thread, {core})
        except OSError:  # it has ended since it was listed
            continue
        take_turns(thread)
    return core


def cores_left() -> frozenset[int]:
    """The cores the process was allowed besides its one (:func:`keep_to_one_core`); none before that."""
    return _left


def step_aside() -> bool:
    """Move the calling thread off the process's one core, onto the cores it was allowed besides that one, as a
    thread with the default policy: for a thread that works outside Python's lock (in C code that releases it, in
    the kernel). Whether it moved (not when the process keeps to no one core)."""
    if not _left:
        return False
    try:  # the policy first: once the thread is seen off the core, it has its policy too
        if os.sched_getscheduler(0) == getattr(os, "SCHED_BATCH", None):
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
        os.sched_setaffinity(0, _left)
    except OSError:
        return False
    return True


def take_turns(thread: int) -> bool:
    """Make ``thread`` (0: the calling one) a batch thread, unless its policy is other than the default (a real-time
    or idle policy someone chose is kept). Whether it is one now."""
    batch = getattr(os, "SCHED_BATCH", None)
    if batch is None:
        return False
    try:
        policy = os.sched_getscheduler(thread)
        if policy == os.SCHED_OTHER:
            os.sched_setscheduler(thread, batch, os.sched_param(0))
            policy = batch
    except OSError:  # ended since it was listed, or a system that refuses it
        return False
    return policy == batch


def current_core() -> int | None:
    """The core the calling thread runs on now (``processor``, field 39 of ``/proc/thread-self/stat``)."""
    try:
        stat = Path("/proc/thread-self/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # from field 3 on: the command name may hold spaces
    return int(fields[36]) if len(fields) > 36 and fields[36].isdigit() else None


def _threads() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc/self/task")]
    except OSError:
        return [0]  # the calling thread
