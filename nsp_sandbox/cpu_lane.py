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

A job in two steps (:meth:`CpuLane.run_staged`: an ITI-65 provide's checks, then its registration) has its first
step run ahead of the jobs already waiting, its second in the queue's order as before. A job of one such step
(:meth:`CpuLane.run_ahead`: an ITI-41 provide's conversion, which the validation process then takes) is answered
as soon as it has run. Provides that arrive together
are then validated one after another, then registered one after another. The validator reads a great deal of
memory (its profiles, value sets and compiled constraints): run between a provide's registration and the next
request's parsing and answering, it took 1.5–1.8 times the CPU it takes when validations follow each other. Served,
with the steps so grouped, bursts of provides from eight clients went 6–20 % faster (``docs/benchmarks.md``). A
first step jumps at most :data:`AHEAD_AT_MOST` jobs that wait, in a row: a second step, or any other job, waits
for no more than that.

The lane's thread starts at its first job and stops at :meth:`CpuLane.close` (the sandbox app's
shutdown, through ``SandboxContext.stoppers``); a job after that starts it again.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import heapq
import itertools
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, ParamSpec, TypeVar

from nsp_sandbox.thread_names import NamedThread

P = ParamSpec("P")
T = TypeVar("T")
R = TypeVar("R")

AHEAD_AT_MOST = 8  # first steps of staged jobs run in a row ahead of a job that waits


class _Job:
    """One job of the lane: ``call`` (with the caller's context) ending ``future``; ``then``, a second step."""

    __slots__ = ("ahead", "call", "future", "order", "then")

    def __init__(self, call: Callable[[], Any], future: Future[Any], order: int, *,
                 then: Callable[[Any], Any] | None = None, ahead: bool = False) -> None:
        self.call = call
        self.future = future
        self.then = then
        self.ahead = ahead or then is not None  # a first step: run ahead of the jobs that wait
        self.order = order  # its place in arrival order

    def __lt__(self, other: _Job) -> bool:
        return self.order < other.order


class _Runner:
    """The lane's queues and thread(s) from a first job until :meth:`CpuLane.close`: they run everything queued to
    them, second steps included, then end; a job after the close goes to a runner of its own."""

    def __init__(self, threads: int, name: str) -> None:
        self._ready = threading.Condition()
        self._ahead: deque[_Job] = deque()  # first steps (of staged jobs, and jobs run ahead), in arrival order
        self._waiting: list[_Job] = []  # every other job and second step, a heap in arrival order
        self._jumped = 0  # first steps run in a row while a job of ``_waiting`` waited
        self._closing = False
        self._workers = [NamedThread(target=self._work, name=f"{name}_{number}", daemon=True)
                         for number in range(threads)]
        for worker in self._workers:
            worker.start()

    def put(self, job: _Job) -> None:
        """Queue ``job``: a first step ahead, anything else in arrival order."""
        with self._ready:
            if job.ahead:
                self._ahead.append(job)
            else:
                heapq.heappush(self._waiting, job)
            self._ready.notify()

    def _next(self) -> _Job | None:
        """The job to run next, waiting for one; None once closed with nothing queued."""
        with self._ready:
            while True:
                if self._ahead and (not self._waiting or self._jumped < AHEAD_AT_MOST):
                    if self._waiting:
                        self._jumped += 1
                    return self._ahead.popleft()
                if self._waiting:
                    self._jumped = 0
                    return heapq.heappop(self._waiting)
                if self._closing:
                    return None
                self._ready.wait()

    def _work(self) -> None:
        while (job := self._next()) is not None:
            # A job not yet started (a second step's has) does not start when its caller went away meanwhile.
            if not job.future.running() and not job.future.set_running_or_notify_cancel():
                continue
            try:
                result = job.call()
            except BaseException as exc:  # the caller's to see, as from an executor
                job.future.set_exception(exc)
                continue
            if job.then is not None:  # the second step, queued in the job's own place in arrival order
                self.put(_Job(functools.partial(job.then, result), job.future, job.order))
                continue
            job.future.set_result(result)

    def close(self) -> None:
        """Run what is queued, then end the threads (and wait for them, but from one of them)."""
        with self._ready:
            self._closing = True
            self._ready.notify_all()
        for worker in self._workers:
            if worker is not threading.current_thread():
                worker.join()


class CpuLane:
    """``await lane.run(fn, *args)``: ``fn(*args)`` on the lane's thread(s), in arrival order."""

    def __init__(self, threads: int = 1, name: str = "cpu-lane") -> None:
        if threads < 1:
            raise ValueError("a lane needs at least one thread")
        self.threads = threads
        self.name = name
        self._lock = threading.Lock()
        self._runner: _Runner | None = None
        self._orders = itertools.count()
        self._busy = 0  # jobs of run() and run_staged() queued or running
        self._submitted = 0  # such jobs ever
        self._idle_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` in the lane, with the caller's context variables."""
        call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
        return await self._submit(call)

    async def run_staged(self, first: Callable[P, R], then: Callable[[R], T], /, *args: P.args,
                         **kwargs: P.kwargs) -> T:
        """``then(first(*args, **kwargs))`` in the lane, with the caller's context variables: ``first`` ahead of the
        jobs that wait (at most :data:`AHEAD_AT_MOST` in a row), ``then`` in arrival order with them. An exception of
        ``first`` reaches the caller, and ``then`` does not run."""
        context = contextvars.copy_context()
        call = functools.partial(context.run, first, *args, **kwargs)
        return await self._submit(call, then=functools.partial(context.run, then))

    async def run_ahead(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` in the lane, with the caller's context variables, ahead of the jobs that wait, as a
        staged job's first step (at most :data:`AHEAD_AT_MOST` in a row): a short step after which the request's work
        goes on elsewhere."""
        call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
        return await self._submit(call, ahead=True)

    async def _submit(self, call: Callable[[], Any], *, then: Callable[[Any], Any] | None = None,
                      ahead: bool = False) -> Any:
        future: Future[Any] = Future()
        with self._lock:
            self._busy += 1
            self._submitted += 1
            self._queue(_Job(call, future, next(self._orders), then=then, ahead=ahead))
        future.add_done_callback(self._one_done)  # ended, or cancelled while queued
        return await asyncio.wrap_future(future)

    def _queue(self, job: _Job) -> None:
        """Give ``job`` to the running runner, or to a new one (the lock held)."""
        if self._runner is None:
            self._runner = _Runner(self.threads, self.name)
        self._runner.put(job)

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
        future: Future[T] = Future()
        with self._lock:
            self._queue(_Job(call, future, next(self._orders)))
        return await asyncio.wrap_future(future)

    def _one_done(self, _future: Future[Any]) -> None:
        """A job of :meth:`run` or :meth:`run_staged` has ended (or was cancelled while queued): when it was the
        last, wake the waiters of :meth:`run_when_idle`."""
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
            runner, self._runner = self._runner, None
        if runner is not None:
            runner.close()


def _wake(idle: asyncio.Future[None]) -> None:
    if not idle.done():
        idle.set_result(None)
