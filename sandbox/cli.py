"""The ``nsp-sandbox`` command line."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from nsp_sandbox import __version__

if TYPE_CHECKING:
    import httpx2 as httpx

app = typer.Typer(help="A runnable sandbox of the Danish national health-data sharing infrastructure.",
                  no_args_is_help=True, add_completion=False)


@app.command()
def up(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8080,
    data_dir: Annotated[Path | None, typer.Option(help="where the embedded SQLite database lives")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "warning",
    demo: Annotated[bool, typer.Option(help="share the official MedCom example documents at start")] = True,
    world: Annotated[Path | None, typer.Option(help="a world file (YAML or JSON) with a vendor's own test "
                                               "persons, loaded at start (docs/control.md)", exists=True,
                                               dir_okay=False, readable=True)] = None,
    workers: Annotated[int, typer.Option(min=1, envvar="NSP_SANDBOX_WORKERS",
                                         help="worker processes answering on the one port (docs/usage.md)")] = 1,
) -> None:
    """Serve every actor under one origin (in one process, or in N workers), print their URLs, and load demo data."""
    if workers > 1:
        from sandbox.workers import serve_workers

        serve_workers(host, port, data_dir, log_level, workers, demo, world)
        return
    _serve(host, port, data_dir, log_level, only=None, demo=demo, world=world)


@app.command()
def serve(
    actors: Annotated[list[str], typer.Argument(help="actors to serve, e.g. dds (see the landing page)")],
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8080,
    data_dir: Annotated[Path | None, typer.Option(help="where the embedded SQLite database lives")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "warning",
) -> None:
    """Serve only some actors (one container per actor), under the same paths as ``up``."""
    from sandbox.actors import ACTORS

    known = {a.name for a in ACTORS}
    unknown = [a for a in actors if a not in known]
    if unknown:
        typer.echo(f"error: unknown actor(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}", err=True)
        raise typer.Exit(2)
    _serve(host, port, data_dir, log_level, only=set(actors))


def _serve(host: str, port: int, data_dir: Path | None, log_level: str, only: set[str] | None,
           demo: bool = False, world: Path | None = None) -> None:
    """Listen at once (``GET /health`` answers 503 ``starting``; other requests are held until the
    sandbox is in place), then build the sandbox in a thread: the settings, the FHIR packages, the
    actors; then the world file and the demo data; then "ready"."""
    import uvicorn

    from sandbox.starting import WhileStarting

    started = time.perf_counter()
    if data_dir is not None:
        os.environ["NSP_SANDBOX_DATA_DIR"] = str(data_dir)
    base = f"http://{'localhost' if host in ('0.0.0.0', '127.0.0.1', '::') else host}:{port}"
    shell = WhileStarting()
    # uvicorn's own forwarded-header handling is off: NSP_SANDBOX_TRUSTED_PROXIES decides whom to believe.
    config = uvicorn.Config(shell, host=host, port=port, log_level=log_level, lifespan="on", proxy_headers=False)
    server = uvicorn.Server(config)
    failed: list[int] = []

    def build() -> None:
        try:
            _build(shell, base, port, only, demo, world, started)
        except typer.Exit as exc:
            failed.append(exc.exit_code or 1)
            shell.give_up()
            server.should_exit = True
        except Exception as exc:  # a setting or the database refused: say so and stop, never hang at "starting"
            typer.echo(f"error: the sandbox could not start: {exc}", err=True)
            failed.append(1)
            shell.give_up()
            server.should_exit = True

    original_startup = server.startup

    async def startup(sockets=None) -> None:  # type: ignore[no-untyped-def]
        await original_startup(sockets)
        if server.started:
            typer.echo(f"nsp-sandbox {__version__} listening on {base}; starting the actors and loading FHIR "
                       f"packages{' and demo data' if demo else ''} … (GET {base}/health answers 200 when ready)")
            threading.Thread(target=build, name="build-sandbox", daemon=True).start()

    server.startup = startup  # type: ignore[method-assign]
    server.run()
    if failed:
        raise typer.Exit(failed[0])


def _build(shell: Any, base: str, port: int, only: set[str] | None, demo: bool, world: Path | None,
           started: float) -> None:
    """The sandbox behind ``shell``: settings, packages, actors; then world file and demo data; then ready."""
    from nsp_sandbox.config import Settings
    from nsp_sandbox.context import SandboxContext
    from nsp_sandbox.one_core import keep_to_one_core
    from nsp_sandbox.thread_names import NamedThread
    from sandbox.app import create_sandbox_app
    from sandbox.package_command import ensure_packages
    from sandbox.start_steps import announce, load_demo, plsp_ticks

    settings = Settings()
    # Every thread there is now (the event loop's, this one) and every one started from them: on one core.
    core = keep_to_one_core() if settings.one_core else None
    context = SandboxContext.from_settings(settings)
    ensure_packages(settings, context)
    # DDS's provides are what the validation process validates
    serves_dds = only is None or "dds" in only
    validation_cores = _validation_cores(core) if settings.validation_process and serves_dds else None
    if validation_cores is not None:
        context.start_validation_process(validation_cores)
    seeding = demo and serves_dds
    # "ready" only once the demo data and the world file are in
    application = create_sandbox_app(context, only=only, seeding=seeding or world is not None)
    shell.become(application)
    mounted = {a.prefix for a in application.state.actors}
    if "/plsp" in mounted:
        NamedThread(target=plsp_ticks, args=(f"http://127.0.0.1:{port}",), name="plsp-due", daemon=True).start()
    readiness = application.state.readiness
    context.packages  # noqa: B018 (waits for the background load)
    missing: list[str] = []
    if world is not None:
        from sandbox.world_command import load_world_file

        problem = load_world_file(world, f"http://127.0.0.1:{port}", settings.admin_token, typer.echo)
        missing += [problem] if problem else []
    if seeding:
        missing += load_demo(context, f"http://127.0.0.1:{port}")
    if missing:
        readiness.degraded(missing)
    readiness.ready()
    database = settings.database_url or f"SQLite at {settings.data_dir / 'sandbox.db'}"
    announce(readiness, base, mounted, database, started, core=core, validation_cores=validation_cores)


def _validation_cores(core: int | None) -> frozenset[int] | None:
    """The cores a validation process runs on: those the sandbox left when it keeps to ``core``, else any (the
    empty set); None on a machine that gives the process one core only (the two would take turns on it)."""
    from nsp_sandbox.one_core import cores_left

    if core is not None:
        return cores_left() or None
    allowed = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
    return frozenset() if len(allowed) > 1 else None



demo_app = typer.Typer(help="Scenarios that show a flow end to end.", no_args_is_help=True)
app.add_typer(demo_app, name="demo")


@demo_app.command("hco")
def demo_hco(
    url: Annotated[str | None, typer.Option(help="a running sandbox, e.g. http://127.0.0.1:8080; "
                                                 "default: a fresh one in this process")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="database folder of the in-process sandbox")] = None,
) -> None:
    """HomeCareObservation: new → modify → retract for a seeded citizen, with a readable trace."""
    import tempfile

    import httpx2 as httpx

    from sandbox.demo import DEMO_CPR, hco_scenario

    def trace(http: httpx.Client, origin: str) -> None:
        def dds_view(ids: list[str]) -> None:
            token = http.post(f"{origin}/nsp/sts/token",
                              json={"persona": f"citizen-{DEMO_CPR}"}).json()["access_token"]
            states = []
            for state in ("current", "superseded", "entered-in-error"):
                found = http.get(f"{origin}/dds/fhir/DocumentReference",
                                 headers={"Authorization": f"Bearer {token}"},
                                 params={"patient.identifier": f"urn:oid:1.2.208.176.1.2|{DEMO_CPR}",
                                         "status": state})
                mine = [e["resource"]["id"] for e in found.json().get("entry", []) if e["resource"]["id"] in ids]
                states.append(f"{state}: {', '.join(mine) or '—'}")
            typer.echo("  DDS search (ITI-67, as the citizen) → " + "; ".join(states))

        hco_scenario(http, origin, report=typer.echo, after_step=dds_view)

    if url:
        with httpx.Client(timeout=60) as http:
            trace(http, url.rstrip("/"))
        return
    from fastapi.testclient import TestClient

    from nsp_sandbox.config import Settings
    from nsp_sandbox.context import SandboxContext
    from sandbox.app import create_sandbox_app

    folder = data_dir or Path(tempfile.mkdtemp(prefix="nsp-sandbox-demo-"))
    settings = Settings(data_dir=folder)
    context = SandboxContext.from_settings(settings)
    with TestClient(create_sandbox_app(context, warm_packages=False), base_url="http://sandbox.demo") as http:
        trace(http, "http://sandbox.demo")  # type: ignore[arg-type]


def _in_process(run: Callable[[httpx.Client, str], object], url: str | None, data_dir: Path | None) -> None:
    """``run(http, origin)`` against a running sandbox at ``url``, else against a fresh one in this process."""
    import tempfile

    import httpx2 as httpx

    if url:
        with httpx.Client(timeout=60) as http:
            run(http, url.rstrip("/"))
        return
    from fastapi.testclient import TestClient

    from nsp_sandbox.config import Settings
    from nsp_sandbox.context import SandboxContext
    from sandbox.app import create_sandbox_app

    folder = data_dir or Path(tempfile.mkdtemp(prefix="nsp-sandbox-demo-"))
    context = SandboxContext.from_settings(Settings(data_dir=folder))
    with TestClient(create_sandbox_app(context, warm_packages=False), base_url="http://sandbox.demo") as http:
        run(http, "http://sandbox.demo")  # type: ignore[arg-type]


@demo_app.command("conditionlist")
def demo_conditionlist(
    url: Annotated[str | None, typer.Option(help="a running sandbox, e.g. http://127.0.0.1:8080; "
                                                 "default: a fresh one in this process")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="database folder of the in-process sandbox")] = None,
) -> None:
    """ConditionList via PLSP: submit, approve, correct, empty — with what DDS and the citizen see."""
    from sandbox.demo_plsp import conditionlist_scenario

    _in_process(lambda http, origin: conditionlist_scenario(http, origin, report=typer.echo), url, data_dir)


@demo_app.command("notes")
def demo_notes(
    url: Annotated[str | None, typer.Option(help="a running sandbox, e.g. http://127.0.0.1:8080; "
                                                 "default: a fresh one in this process")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="database folder of the in-process sandbox")] = None,
) -> None:
    """Notes via PLSP: create, correct, do-not-share, share again, cancel — with what DDS and the citizen see."""
    from sandbox.demo_plsp import notes_scenario

    _in_process(lambda http, origin: notes_scenario(http, origin, report=typer.echo), url, data_dir)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def _add_subcommands() -> None:
    from sandbox import check_command, clock_command, package_command, wait_command, xds_command
    from services.conformance import cli as conformance_cli

    conformance_cli.register(app)
    package_command.register(conformance_cli.packages_app)
    clock_command.register(app)
    wait_command.register(app)
    check_command.register(app)
    xds_command.register(app)


def _only_serving() -> bool:
    """``nsp-sandbox up`` / ``serve``: the other commands (and what they import) are not needed to listen."""
    import sys

    return sys.argv[0].endswith(("nsp-sandbox", "cli.py", "sandbox.cli")) and sys.argv[1:2] in (["up"], ["serve"])


if not _only_serving():
    _add_subcommands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
