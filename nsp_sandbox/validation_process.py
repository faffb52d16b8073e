"""A second process that validates beside the sandbox's own (``NSP_SANDBOX_VALIDATION_PROCESS``).

Python runs one thread of a process at a time, and ``nsp-sandbox up`` keeps its threads on one core
(:mod:`nsp_sandbox.one_core`). Validation is most of a provide's CPU, and it needs nothing of the process but the
loaded FHIR packages. So ``up`` starts this process on the cores the sandbox left (``python -m
nsp_sandbox.validation_process``): it loads the same packages into a conformance engine of its own, and runs the
jobs it is given there while the sandbox's process goes on with the rest (reading requests, the Danish rules,
registering, answering). A job is a function of a validator and some bytes (``module:function``), such as DDS's
:func:`services.dds.validation_ahead.provide_findings`; what it returns comes back as the answer of
:meth:`ValidationProcess.submit`'s future.

The process is a helper, never a dependency. Its answers are findings the sandbox's own engine would have made:
the same code over the same packages (:attr:`PackageRegistry.fingerprint`, compared before any answer is used).
Until it has loaded its packages, after it has died, or once the sandbox's packages changed, :meth:`submit`
answers None and the caller validates in its own process, as it does where no such process runs (tests, ``up
--workers N``, a machine with one core). A process that died is started again at the next job, at most every
:data:`RESTART_AFTER` seconds.

The wire, over the child's standard input and output: each frame is its length (4 bytes, big-endian) and its
bytes. A job is its name, a NUL and its payload; an answer is a pickle of ``(True, value)`` or ``(False, why)``;
the first frame the child sends is a pickle of the fingerprint of the packages it loaded. The child answers
jobs in the order they came; a thread of the sandbox's reads the answers as they come.

The sandbox writes a job from its event loop, which must never wait. Both pipes are made as large as the system
allows (1 MiB on Linux), and a job is given to the child only while the frames it has not answered yet, this one
included, fit in its pipe: the write then never waits. A job that does not fit (a backlog, or a body of more than
the pipe holds) is not given: :meth:`ValidationProcess.submit` answers None, and the caller does it itself. The
same bound shares the work out when the child falls behind.

The standard library's ``concurrent.futures.ProcessPoolExecutor`` was measured for this: it cost the sandbox's
process 66 µs of CPU per job of 50 KB (its queue feeder and management threads, a pickle of the call), this wire
21.5 (``bench/validation_process_wire.py``, ``docs/benchmarks.md``).
"""

from __future__ import annotations

import gc
import importlib
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from nsp_sandbox.served_gc import SERVED_GC_THRESHOLDS
from nsp_sandbox.thread_names import NamedThread

if TYPE_CHECKING:
    from nsp_sandbox.conformance.validator import Validator

log = logging.getLogger(__name__)

RESTART_AFTER = 10.0  # seconds between starts of a process that died
HEADER = 4
PIPE_BYTES = 1024 * 1024  # asked for each pipe: jobs of 50 KB queue in it twenty deep
SMALLEST_PIPE = 4096  # what POSIX promises where a pipe's size cannot be read


class ProcessGone(RuntimeError):
    """The validation process ended, or did not answer in time, before a job's answer came."""


class JobFailed(RuntimeError):
    """A job raised in the validation process; the text is its exception's."""


def write_frame(stream: IO[bytes], data: bytes) -> None:
    stream.write(len(data).to_bytes(HEADER, "big"))
    stream.write(data)
    stream.flush()


def widen(fd: int) -> int:
    """Make the pipe ``fd`` as large as the system lets a process make one (Linux: ``/proc/sys/fs/pipe-max-size``,
    1 MiB by default); its capacity in bytes."""
    import fcntl

    for size in (PIPE_BYTES, 256 * 1024):
        try:
            return int(fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), size))
        except OSError:
            continue
    try:
        return int(fcntl.fcntl(fd, getattr(fcntl, "F_GETPIPE_SZ", 1032)))
    except OSError:
        return SMALLEST_PIPE


def read_frame(stream: IO[bytes]) -> bytes | None:
    """The next frame, None at the end of the stream (a frame cut short ends it too)."""
    header = stream.read(HEADER)
    if len(header) < HEADER:
        return None
    size = int.from_bytes(header, "big")
    data = stream.read(size)
    return data if len(data) == size else None


class _Child:
    """One child process, its jobs waiting for answers (in the order sent) and the packages it loaded."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self.popen = popen
        self.pending: deque[tuple[Future[Any], int]] = deque()  # each job's future and its frame's size
        self.pending_bytes = 0  # at most what the pipe holds unread: a write never waits for the child
        self.loaded: tuple[str, ...] | None = None  # its fingerprint, once it has loaded its packages
        assert popen.stdin is not None
        self.jobs_fd = popen.stdin.fileno()
        self.capacity = widen(self.jobs_fd)


class ValidationProcess:
    """The sandbox's side of one validation process (see the module docstring)."""

    def __init__(self, sources: Sequence[Path], cache: Path | None, *, cores: frozenset[int] = frozenset(),
                 fingerprint: Callable[[], tuple[str, ...]]) -> None:
        """``sources`` and ``cache``: where the child loads its packages from (as ``PackageRegistry.load``);
        ``cores``: the CPU cores it keeps to (none: wherever the operating system runs it); ``fingerprint``: the
        sandbox's own packages' fingerprint, read before each job (an answer is used only where it is the same)."""
        self.sources = [str(s) for s in sources]
        self.cache = None if cache is None else str(cache)
        self.cores = cores
        self._fingerprint = fingerprint
        self._lock = threading.Lock()
        self._child: _Child | None = None
        self._started_at = 0.0
        self._closed = False
        self.starts = 0

    # ---- the sandbox's side ---------------------------------------------------------------------

    def start(self) -> None:
        """Start the child (it loads its packages in the background; :meth:`submit` answers None until then)."""
        with self._lock:
            if not self._closed and self._child is None:
                self._start()

    def _start(self) -> None:
        self._started_at = time.monotonic()
        command = [sys.executable, "-m", "nsp_sandbox.validation_process", "--cache", self.cache or "",
                   "--cores", ",".join(str(c) for c in sorted(self.cores)), *self.sources]
        child = _Child(subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True,
                                        bufsize=0))
        self._child = child
        self.starts += 1
        NamedThread(target=self._read, args=(child,), name="validation-answers", daemon=True).start()

    @property
    def pid(self) -> int | None:
        child = self._child
        return None if child is None else child.popen.pid

    @property
    def ready(self) -> bool:
        """Whether the child has loaded the very packages the sandbox has (and is running)."""
        child = self._child
        return child is not None and child.loaded is not None and child.loaded == self._fingerprint()

    def submit(self, job: str, *payload: bytes) -> Future[Any] | None:
        """Run ``job`` (``module:function``, called with the child's validator and ``payload``, its parts
        joined) in the child; its answer is the future's result (:class:`JobFailed` or :class:`ProcessGone` its
        exception). None when the child is not ready, or the job does not fit in its pipe beside those it has not
        answered yet: the caller does the work itself."""
        fingerprint = self._fingerprint()
        with self._lock:
            child = self._child
            if self._closed or child is None:
                return None
            if child.popen.poll() is not None:
                if time.monotonic() - self._started_at >= RESTART_AFTER:
                    self._start()
                return None
            if child.loaded is None or child.loaded != fingerprint:
                return None
            name = job.encode() + b"\0"
            length = len(name) + sum(len(part) for part in payload)
            size = HEADER + length
            if child.pending_bytes + size > child.capacity:  # the write could wait for the child: do it yourself
                return None
            future: Future[Any] = Future()
            try:  # the parts as they are, in one call: nothing copied on this side
                written = os.writev(child.jobs_fd, [length.to_bytes(HEADER, "big"), name, *payload])
            except OSError:  # its end of the pipe is closed: it died
                return None
            if written != size:  # cut short (a signal): the stream cannot be read any more
                child.popen.kill()
                return None
            child.pending.append((future, size))
            child.pending_bytes += size
            return future

    def restart(self) -> None:
        """Start the child afresh, loading the packages there are now (after new ones were installed); the old
        one's pending jobs fail."""
        with self._lock:
            if self._closed:
                return
            old = self._child
            self._start()
        if old is not None:
            old.popen.kill()

    def abandon(self, why: str) -> None:
        """Stop the child (it did not answer in time): its pending jobs fail, a new one starts at a job
        :data:`RESTART_AFTER` seconds after this one started."""
        with self._lock:
            child = self._child
        if child is not None and child.popen.poll() is None:
            log.warning("validation process %s stopped: %s", child.popen.pid, why)
            child.popen.kill()

    def close(self) -> None:
        """End the child: it finishes the jobs it has, then exits (killed if it has not after five seconds)."""
        with self._lock:
            self._closed = True
            child, self._child = self._child, None
        if child is None:
            return
        try:
            assert child.popen.stdin is not None
            child.popen.stdin.close()
            child.popen.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            child.popen.kill()
            child.popen.wait()

    def _read(self, child: _Child) -> None:
        """The answers of ``child``, in the order its jobs were sent; at its end every pending job fails."""
        stream = child.popen.stdout
        assert stream is not None
        try:
            first = read_frame(stream)
            if first is not None:
                child.loaded = tuple(pickle.loads(first))
                while (frame := read_frame(stream)) is not None:
                    with self._lock:
                        future, size = child.pending.popleft() if child.pending else (None, 0)
                        child.pending_bytes -= size
                    if future is None or not future.set_running_or_notify_cancel():  # its caller went away
                        continue
                    done, value = pickle.loads(frame)
                    if done:
                        future.set_result(value)
                    else:
                        future.set_exception(JobFailed(value))
        except Exception:  # an answer that cannot be read: nothing after it can be either
            log.exception("validation process %s: its answers cannot be read", child.popen.pid)
            child.popen.kill()
        stream.close()
        child.popen.wait()
        with self._lock:
            child.loaded = None
            failed, child.pending, child.pending_bytes = [future for future, _ in child.pending], deque(), 0
        for future in failed:
            if future.set_running_or_notify_cancel():
                future.set_exception(ProcessGone("the validation process ended"))


# ---- the child ----------------------------------------------------------------------------------

def _keep_to(cores: frozenset[int]) -> None:
    """Run on ``cores`` with the default policy (the sandbox's one core is a batch thread's, inherited)."""
    if not cores or not hasattr(os, "sched_setaffinity"):
        return
    try:
        if os.sched_getscheduler(0) == getattr(os, "SCHED_BATCH", None):
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
        os.sched_setaffinity(0, cores)
    except OSError:
        return


def serve(validator: Validator, source: IO[bytes], answers: IO[bytes]) -> None:
    """Answer the jobs read from ``source`` on ``answers``, in order, until ``source`` ends."""
    functions: dict[bytes, Callable[[Validator, bytes], Any]] = {}
    while (frame := read_frame(source)) is not None:
        name, _, payload = frame.partition(b"\0")
        try:
            function = functions.get(name)
            if function is None:
                module, _, attribute = name.decode().partition(":")
                function = functions[name] = getattr(importlib.import_module(module), attribute)
            answer = pickle.dumps((True, function(validator, payload)), pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # the sandbox does the job itself; the reason goes to the log
            log.exception("validation job %s failed", name.decode(errors="replace"))
            answer = pickle.dumps((False, f"{type(exc).__name__}: {exc}"), pickle.HIGHEST_PROTOCOL)
        write_frame(answers, answer)


def main(argv: Sequence[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="a validation process of nsp-sandbox (started by it)")
    parser.add_argument("--cache", default="")
    parser.add_argument("--cores", default="")
    parser.add_argument("sources", nargs="*")
    args = parser.parse_args(argv)
    # Ctrl+C at the terminal reaches the whole process group: the sandbox stops, and this process with it when its
    # input ends, the jobs it has answered.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed goes to the log, never into the answers
    widen(answers.fileno())
    logging.basicConfig(level=logging.WARNING, format="validation process: %(levelname)s %(name)s: %(message)s")
    _keep_to(frozenset(int(c) for c in args.cores.split(",") if c))

    from nsp_sandbox.conformance.packages import PackageRegistry
    from nsp_sandbox.conformance.validator import Validator

    registry = PackageRegistry.load([Path(s) for s in args.sources], Path(args.cache) if args.cache else None)
    validator = Validator(registry)
    write_frame(answers, pickle.dumps(list(registry.fingerprint)))
    gc.set_threshold(*SERVED_GC_THRESHOLDS)
    serve(validator, sys.stdin.buffer, answers)


if __name__ == "__main__":
    main()
