"""What giving a job to another process costs the sandbox's process: its CPU per job of an ITI-65 Bundle's size,
through :class:`nsp_sandbox.validation_process.ValidationProcess` and through the standard library's
``concurrent.futures.ProcessPoolExecutor`` (the job itself does nothing but measure the bytes it got).

The figure is this process's CPU (every thread: the writes, the answers' reader, the executor's own threads)
over ``--jobs`` jobs, ``--in-flight`` at a time, divided by their number; the best of ``--repeat`` runs.

    .venv/bin/python bench/validation_process_wire.py
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

JOB = "bench.validation_process_wire:measured"


def measured(_validator: Any, payload: bytes) -> int:
    """The job: the payload's size (the child's validator is not used)."""
    return len(payload)


def executor_job(payload: bytes) -> int:
    return len(payload)


def _run(submit: Any, jobs: int, in_flight: int, payload: bytes) -> float:
    """µs of this process's CPU per job."""
    window: deque[Future[Any]] = deque()
    start = time.process_time()
    for _ in range(jobs):
        if len(window) >= in_flight:
            assert window.popleft().result() == len(payload)
        future = submit(payload)
        assert future is not None
        window.append(future)
    while window:
        assert window.popleft().result() == len(payload)
    return (time.process_time() - start) / jobs * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=3000)
    parser.add_argument("--in-flight", type=int, default=8)
    parser.add_argument("--bytes", type=int, default=49_743)  # load.py's ITI-65 Bundle
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    payload = os.urandom(args.bytes)

    from nsp_sandbox.validation_process import ValidationProcess

    process = ValidationProcess([], None, fingerprint=lambda: ())
    process.start()
    while not process.ready:
        time.sleep(0.01)
    ours = min(_run(lambda body: process.submit(JOB, body), args.jobs, args.in_flight, payload)
               for _ in range(args.repeat))
    process.close()
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pool.submit(executor_job, b"").result()
        theirs = min(_run(lambda body: pool.submit(executor_job, body), args.jobs, args.in_flight, payload)
                     for _ in range(args.repeat))
    print(f"{args.jobs} jobs of {args.bytes:,} bytes, {args.in_flight} in flight; µs of this process's CPU per job, "
          f"best of {args.repeat}")
    print("| way | µs per job |\n|---|---|")
    print(f"| `ValidationProcess.submit` | {ours:.1f} |")
    print(f"| `ProcessPoolExecutor.submit` | {theirs:.1f} |")


if __name__ == "__main__":
    main()
