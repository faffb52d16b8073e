"""One worker process of ``nsp-sandbox up --workers N`` (``sandbox.workers`` starts them).

uvicorn calls :func:`create_worker_app` in each worker. It answers at once (503 ``starting``, as one
process does: :class:`sandbox.starting.WhileStarting`) and builds the sandbox in a thread:

1. the actors, one worker at a time (a file lock in the data folder): building creates each actor's
   tables, brings tables of an earlier version up to date and makes NSP's signing keys if missing,
   none of which may run twice at once against one database;
2. the FHIR packages, in every worker at once; then the worker records itself in the start's rows
   (:mod:`sandbox.start_record`);
3. the first worker to claim the start waits until all N are built, then loads the world file and the
   demo data once, over HTTP through the shared port, and records the outcome;
4. every worker's ``GET /health`` follows that outcome: 200 ``ready`` (or 503 ``degraded``).

As each request begins, the worker re-reads the clock, the fault switches and NSP's world from the
database (:class:`WorkerFront`): what a caller changed through one worker is in effect for its next
request, whichever worker takes it. Every answer names its worker: header ``X-Sandbox-Worker`` (its
process id), so a caller (and the tests) can tell the workers apart. A worker that cannot build
stops with uvicorn's start-failure code, and the supervisor then stops them all.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandbox.start_record import START_ID, Start, StartRecord
from sandbox.starting import WhileStarting

WORKER_HEADER = b"x-sandbox-worker"
STARTUP_FAILURE = 3  # uvicorn.config.STARTUP_FAILURE: the supervisor stops instead of restarting the worker
POLL_SECONDS = 0.2


class WorkerFront:
    """Pure ASGI, in front of a worker's sandbox: as each HTTP request begins, the worker re-reads the
    state shared through the database (the clock, the fault switches, NSP's world:
    :meth:`~nsp_sandbox.context.SandboxContext.follow_shared_state`), so what a caller changed through
    another worker is in effect for its next request; every answer carries ``X-Sandbox-Worker: <pid>``."""

    def __init__(self, shell: WhileStarting) -> None:
        self.app = shell
        self.pid = str(os.getpid()).encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        built = self.app.app
        if built is not None:
            try:
                built.state.context.follow_shared_state()
            except Exception:  # the database is away for a moment: the last snapshot serves
                logging.getLogger("nsp_sandbox").warning("shared state could not be re-read", exc_info=True)

        async def named(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (WORKER_HEADER, self.pid)]
            await send(message)

        await self.app(scope, receive, named)


def create_worker_app() -> WorkerFront:
    """The ASGI app of one worker (uvicorn's app factory): answering at once, built in a thread."""
    shell = WhileStarting()
    threading.Thread(target=_build_or_stop, args=(shell,), name="build-worker", daemon=True).start()
    threading.Thread(target=_end_with_supervisor, args=(os.getppid(),), name="supervisor-watch", daemon=True).start()
    return WorkerFront(shell)


def _end_with_supervisor(supervisor: int) -> None:
    """End this worker when its supervisor is gone (killed with SIGKILL, it cannot stop the workers): no
    orphan keeps the port or the database."""
    while os.getppid() == supervisor:
        time.sleep(1.0)
    os._exit(0)


def _build_or_stop(shell: WhileStarting) -> None:
    import typer

    try:
        _build(shell)
    except Exception as exc:  # a setting, the database or the packages refused: say so; the supervisor stops
        typer.echo(f"error: worker {os.getpid()} could not start: {type(exc).__name__}: {exc}", err=True)
        os._exit(STARTUP_FAILURE)


def _build(shell: WhileStarting) -> None:
    from nsp_sandbox.config import Settings
    from nsp_sandbox.context import SandboxContext
    from sandbox.app import create_sandbox_app

    settings = Settings()
    context = SandboxContext.from_settings(settings)
    record = StartRecord(context.database, os.environ[START_ID])
    start = record.read()
    context.workers = start.workers
    with _one_at_a_time(settings.data_dir):
        application = create_sandbox_app(context, seeding=True)
    shell.become(application)
    readiness = application.state.readiness
    context.packages  # noqa: B018 (waits for the background load; raises what stopped it)
    while readiness.status == "starting":  # then the heap is frozen (create_sandbox_app): before "built"
        time.sleep(0.01)
    pid = os.getpid()
    record.built(pid, datetime.now(UTC))

    def follow() -> None:
        """Take the start's outcome once it is written: each ``GET /health`` looks until then, so every worker
        answers ``ready`` from the moment one does (a caller that waited for one 200 meets no 503 after it)."""
        found = record.read()
        if found.status == "ready":
            readiness.ready()
        elif found.final:
            readiness.degraded(found.missing)

    readiness.follow = follow
    if record.claim(pid):
        _seed(record, start, context)
    while not readiness.wait(POLL_SECONDS):
        follow()


@contextmanager
def _one_at_a_time(data_dir: Path) -> Iterator[None]:
    """Hold the build lock of ``data_dir`` (an exclusive ``flock``; released when the process ends)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / ".build.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _seed(record: StartRecord, start: Start, context: Any) -> None:
    """Once all workers are built: the world file and the demo data, then the outcome for every worker."""
    import typer

    from sandbox.start_steps import load_demo

    while len(record.built_workers()) < start.workers:
        time.sleep(POLL_SECONDS)
    missing: list[str] = []
    try:
        if start.world is not None:
            from sandbox.world_command import load_world_file

            problem = load_world_file(Path(start.world), start.origin, context.settings.admin_token, typer.echo)
            missing += [problem] if problem else []
        if start.demo:
            missing += load_demo(context, start.origin)
    except Exception as exc:
        record.finish("failed", [f"{type(exc).__name__}: {exc}"])
        raise
    record.finish("degraded" if missing else "ready", missing)
