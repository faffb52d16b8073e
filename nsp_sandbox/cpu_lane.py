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

Work that may wait for the requests (the viewer reading ahead the documents DDS notifies it of) asks for the lane
with :meth:`CpuLane.run_when_idle`: it starts once the requests' jobs have paused (none queued or running for a
moment), or after a bounded wait in turn with them, so that a burst of provides is not slowed by the reading ahead
of what it provides; that is caught up with when the burst pauses, and the wait never outlasts the notification's
own time limit.

The lane's thread starts at its first job and stops at :meth:`CpuLane.close` (the sandbox app's
shutdown, through ``SandboxContext.stoppers``); a job after that starts it again.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
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
        self._busy = 0  # jobs of run() queued or running
        self._submitted = 0  # jobs of run() ever
        self._idle_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix=self.name)
            return self._executor

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` in the lane, with the caller's context variables."""
        call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
        with self._lock:
            self._busy += 1
            self._submitted += 1
        try:
            job = self._pool().submit(call)
        except BaseException:
            self._one_done(None)
            raise
        job.add_done_callback(self._one_done)
        return await asyncio.wrap_future(job)

    async def run_when_idle(self, fn: Callable[P, T], /, *args: P.args, within: float = 2.0, quiet: float = 0.01,
                            **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` in the lane once no job of :meth:`run` has been queued or running for ``quiet``
        seconds, or after ``within`` seconds of waiting for that, whichever comes first; then in arrival order with
        the others."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while (left := deadline - loop.time()) > 0:
            idle: asyncio.Future[None] | None = None
            with self._lock:
                if self._busy:
                    idle = loop.create_future()
                    self._idle_waiters.append((loop, idle))
                submitted = self._submitted
            if idle is None:  # idle now: still so after ``quiet``, with nothing submitted in between?
                await asyncio.sleep(min(quiet, left))
                with self._lock:
                    if not self._busy and self._submitted == submitted:
                        break
                continue
            try:
                await asyncio.wait_for(idle, left)
            except TimeoutError:
                break
            finally:
                with self._lock:
                    if (loop, idle) in self._idle_waiters:
                        self._idle_waiters.remove((loop, idle))
        call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
        return await loop.run_in_executor(self._pool(), call)

    def _one_done(self, _job: Future[object] | None) -> None:
        """A job of :meth:`run` has ended (or was cancelled while queued): when it was the last, wake the waiters
        of :meth:`run_when_idle`."""
        with self._lock:
            self._busy -= 1
            waiters = self._idle_waiters if self._busy == 0 else []
            if waiters:
                self._idle_waiters = []
        for loop, idle in waiters:
            try:
                loop.call_soon_threadsafe(_wake, idle)
            except RuntimeError:  # that loop has closed: its caller is gone
                continue

    def close(self) -> None:
        """Finish the jobs already queued, then stop the thread(s)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)


def _wake(idle: asyncio.Future[None]) -> None:
    if not idle.done():
        idle.set_result(None)
