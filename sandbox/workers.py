"""``nsp-sandbox up --workers N``: N worker processes answering on one port.

The supervisor is uvicorn's own (``uvicorn.supervisors.Multiprocess``, what ``uvicorn --workers``
runs): it binds the port once, starts N processes that accept on the shared socket, restarts a worker
that dies, and on Ctrl-C (SIGINT) or SIGTERM stops them all. It was chosen over a supervisor of our
own because that is exactly its job and it is the one operators know; what the sandbox adds is done
through the database, which every worker shares anyway:

* this process writes the start (:mod:`sandbox.start_record`) before starting the workers; each
  worker (:mod:`sandbox.worker_app`) builds its actors, loads the FHIR packages and says so there;
* exactly one worker claims the start and loads the world file and the demo data once, when all N
  are built; the others wait for its outcome, which every worker's ``GET /health`` then reports;
* this process prints each step, checks that every worker answers ``GET /health`` 200 (the answers
  name their worker: ``X-Sandbox-Worker``), prints "ready" with the URLs, and runs the PLSP hub's
  timed work (``POST /plsp/due`` each minute) once for all of them.

The FHIR packages are installed here, before the workers start, so a missing package is downloaded
once, not N times.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import typer

from nsp_sandbox import __version__
from sandbox.start_record import START_ID, StartRecord
from sandbox.worker_app import WORKER_HEADER

FACTORY = "sandbox.worker_app:create_worker_app"
CONFIRM_SECONDS = 30.0  # how long "ready" waits to have heard every worker answer 200


def serve_workers(host: str, port: int, data_dir: Path | None, log_level: str, workers: int, demo: bool,
                  world: Path | None) -> None:
    """Run N workers on ``host:port`` until Ctrl-C; exit 1 when a worker cannot start."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from nsp_sandbox.config import Settings
    from nsp_sandbox.database import Database
    from sandbox.package_command import ensure_packages

    started = time.perf_counter()
    if data_dir is not None:
        os.environ["NSP_SANDBOX_DATA_DIR"] = str(data_dir)
    settings = Settings()
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    ensure_packages(settings)
    database = Database.from_url(settings.resolved_database_url())
    origin = f"http://127.0.0.1:{port}" if host in ("0.0.0.0", "127.0.0.1", "::") else f"http://{host}:{port}"
    record = StartRecord.new(database, workers, demo, str(world.resolve()) if world else None, origin,
                             datetime.now(UTC))
    os.environ[START_ID] = record.start_id
    # uvicorn's own forwarded-header handling is off: NSP_SANDBOX_TRUSTED_PROXIES decides whom to believe.
    config = uvicorn.Config(FACTORY, factory=True, host=host, port=port, workers=workers, log_level=log_level,
                            lifespan="on", proxy_headers=False)
    socket = config.bind_socket()
    supervisor = Multiprocess(config, sockets=[socket])
    base = f"http://{'localhost' if host in ('0.0.0.0', '127.0.0.1', '::') else host}:{port}"
    typer.echo(f"nsp-sandbox {__version__} listening on {base} with {workers} worker processes; building the "
               f"actors and loading FHIR packages{' and demo data' if demo else ''} … (GET {base}/health answers "
               "200 when ready)")
    failed: list[int] = []
    threading.Thread(target=_follow, args=(record, base, origin, settings, started, supervisor, failed),
                     name="follow-workers", daemon=True).start()
    supervisor.run()
    if failed or any(p.exitcode == 3 for p in supervisor.processes):
        raise typer.Exit(1)


def _follow(record: StartRecord, base: str, origin: str, settings: Any, started: float, supervisor: Any,
            failed: list[int]) -> None:
    """Print each worker as it is built, then the outcome; confirm every worker answers; run the PLSP ticks."""
    from sandbox.start_steps import announce, plsp_ticks

    shown: set[int] = set()
    while True:
        built = record.built_workers()
        for pid in built:
            if pid not in shown:
                shown.add(pid)
                typer.echo(f"  worker {pid} built ({len(shown)}/{record.read().workers})")
        start = record.read()
        if start.final:
            break
        time.sleep(0.2)
    if start.status == "failed":
        typer.echo(f"error: the sandbox could not start: {', '.join(start.missing)}", err=True)
        failed.append(1)
        supervisor.should_exit.set()
        return
    answering = _every_worker_answers(origin, start.workers)
    mounted = set(_health(origin).get("actors", []))
    database = settings.database_url or f"SQLite at {settings.data_dir / 'sandbox.db'}"
    readiness = SimpleNamespace(status=start.status, missing=start.missing)
    announce(readiness, base, mounted, database, started,
             workers=f"; {len(answering)} workers: {', '.join(sorted(answering))}")
    if "/plsp" in mounted:
        plsp_ticks(origin)


def _every_worker_answers(origin: str, workers: int) -> set[str]:
    """The workers (process ids) heard answering ``GET /health`` with the outcome, each on a new connection."""
    import httpx2 as httpx

    heard: set[str] = set()
    deadline = time.monotonic() + CONFIRM_SECONDS
    # One client for every try (a client made per try would load the machine's CA certificates each time);
    # "Connection: close" still lets the kernel hand each try to any worker.
    with httpx.Client(timeout=5, headers={"Connection": "close"}) as http:
        while len(heard) < workers and time.monotonic() < deadline:
            try:
                answer = http.get(f"{origin}/health")
            except httpx.HTTPError:
                time.sleep(0.1)
                continue
            status = answer.json().get("status") if answer.content else None
            if status in ("ready", "degraded") and (pid := answer.headers.get(WORKER_HEADER.decode())):
                heard.add(pid)
            else:
                time.sleep(0.05)
    return heard


def _health(origin: str) -> dict[str, Any]:
    import httpx2 as httpx

    try:
        return dict(httpx.get(f"{origin}/health", timeout=5).json())
    except (httpx.HTTPError, ValueError):
        return {}
