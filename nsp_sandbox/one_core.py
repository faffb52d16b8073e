"""A sandbox process on one CPU core (``NSP_SANDBOX_ONE_CORE``, on by default for ``nsp-sandbox up`` and ``serve``).

Python runs one thread of a process at a time (the interpreter lock), and a served sandbox has several: the
event loop, the CPU lane, DDS's notifier, the request log's writer. Left to the operating system, they run on
whichever core is free, and each time the lock passes to a thread on another core, that thread works from that
core's caches, cold for what the previous thread just touched (the document being validated, the compiled
profiles). Kept on one core, they take turns on warm caches: a served provide cost about a tenth less CPU
(``docs/benchmarks.md``), and the process never uses more than the one core its Python could use anyway.

``nsp-sandbox up --workers N`` leaves its workers to the operating system: N processes, each on a core it chose
itself, could land on the same one and stay there.
"""

from __future__ import annotations

import os
from pathlib import Path


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
    for thread in _threads():  # a thread started later inherits the affinity of the thread that starts it
        try:
            os.sched_setaffinity(thread, {core})
        except OSError:  # it has ended since it was listed
            continue
    return core


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
