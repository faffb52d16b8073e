"""The lane a process's CPU-bound request work runs in: one thread (``cpu_lane_threads``), first come, first served.

Validating and registering a provided document is Python work from end to end, and Python runs one
thread at a time. Starlette's thread pool (forty threads) runs eight concurrent provides as eight
threads taking turns on the interpreter lock every few milliseconds: each provide finishes late, and
all of them cost more CPU (the turns themselves, and caches refilled at each one). A lane runs its
jobs one after the other, in the order they came, on its own thread, while the event loop goes on
reading the next requests and answering searches. The p95 of a provide becomes the queue ahead of it,
not the sum of everyone's turns.

A job that has started is never abandoned: when the request is cancelled (the client went away), the
work still finishes (a registration is all or nothing), only its answer is dropped. A job still
waiting in the queue when its request's cancellation reaches the queue (one turn of the event loop
after the cancel) is not started.

The lane's thread starts at its first job and stops at :meth:`CpuLane.close` (the sandbox app's
shutdown, through ``SandboxContext.stoppers``); a job after that starts it again.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class CpuLane:
    """``await lane.run(fn, *args)``: ``fn(*args)`` on the lane's thread(s), in arrival order."""

    def __init__(self, threads: int = 1, name: str = "cpu-lane") -> None:
        if threads < 1:
            raise ValueError("a lane needs at least one thread")
        self.threads = threads
        self.name = name
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix=self.name)
            return self._executor

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` in the lane, with the caller's context variables."""
        call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._pool(), call)

    def close(self) -> None:
        """Finish the jobs already queued, then stop the thread(s)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
