"""The ``nsp-sandbox`` command line."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from nsp_sandbox import __version__

if TYPE_CHECKING:
    from nsp_sandbox.context import SandboxContext

app = typer.Typer(help="A runnable sandbox of the Danish national health-data sharing infrastructure.",
                  no_args_is_help=True, add_completion=False)


@app.command()
def up(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8080,
    data_dir: Annotated[Path | None, typer.Option(help="where the embedded SQLite database lives")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "warning",
    demo: Annotated[bool, typer.Option(help="share the official MedCom example documents at start")] = True,
) -> None:
    """Serve every actor in one process under one origin, print their URLs, and load demo data."""
    _serve(host, port, data_dir, log_level, only=None, demo=demo)


@app.command()
def serve(
    actors: Annotated[list[str], typer.Argument(help="actors to serve, e.g. dds (see the landing page)")],
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8080,
    data_dir: Annotated[Path | None, typer.Option(help="where the embedded SQLite database lives")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "warning",
) -> None:
    """Serve only some actors (one container per actor), under the same paths as ``up``."""
    from nsp_sandbox.actors import ACTORS

    known = {a.name for a in ACTORS}
    unknown = [a for a in actors if a not in known]
    if unknown:
        typer.echo(f"error: unknown actor(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}", err=True)
        raise typer.Exit(2)
    _serve(host, port, data_dir, log_level, only=set(actors))


def _serve(host: str, port: int, data_dir: Path | None, log_level: str, only: set[str] | None,
           demo: bool = False) -> None:
    import uvicorn

    from nsp_sandbox.actors import ACTORS
    from nsp_sandbox.app import create_sandbox_app
    from nsp_sandbox.config import Settings
    from nsp_sandbox.context import SandboxContext

    started = time.perf_counter()
    if data_dir is not None:
        os.environ["NSP_SANDBOX_DATA_DIR"] = str(data_dir)
    settings = Settings()
    context = SandboxContext.from_settings(settings)
    application = create_sandbox_app(context, only=only)
    base = f"http://{'localhost' if host in ('0.0.0.0', '127.0.0.1', '::') else host}:{port}"
    mounted = {a.prefix for a in application.state.actors}

    config = uvicorn.Config(application, host=host, port=port, log_level=log_level, lifespan="on")
    server = uvicorn.Server(config)

    def announce() -> None:
        database = settings.database_url or f"SQLite at {settings.data_dir / 'sandbox.db'}"
        typer.echo(f"nsp-sandbox {__version__} ready in {time.perf_counter() - started:.2f} s "
                   f"(database: {_redact(database)})")
        typer.echo(f"  landing page   {base}/")
        for actor in ACTORS:
            if actor.prefix in mounted:
                typer.echo(f"  {actor.prefix:<14} {base}{actor.prefix}{actor.entry}   {actor.title}")
        typer.echo("Press Ctrl+C to stop.")

    original_startup = server.startup

    async def startup(sockets=None) -> None:  # type: ignore[no-untyped-def]
        await original_startup(sockets)
        if server.started:
            announce()
            if demo and "/dds" in mounted:
                threading.Thread(target=_load_demo, args=(context, f"http://127.0.0.1:{port}"),
                                 name="demo-data", daemon=True).start()

    server.startup = startup  # type: ignore[method-assign]
    server.run()


def _load_demo(context: SandboxContext, origin: str) -> None:
    """Share the official HCO example messages to this sandbox's DDS, over HTTP."""
    import httpx2 as httpx

    from nsp_sandbox.demo import HCO_PACKAGE, SOURCE_ID, share_hco_examples, system_token
    from nsp_sandbox.mhd_source import DocumentSource, RecipientError

    package = context.packages.get(HCO_PACKAGE)
    if package is None:
        typer.echo(f"Demo data: package {HCO_PACKAGE} is not loaded (set NSP_SANDBOX_FHIR_PACKAGES); skipped")
        return
    typer.echo(f"Demo data: sharing the {package.id} example messages to DDS …")
    try:
        with httpx.Client(timeout=30) as http:
            headers = system_token(http, context.peers.url("nsp") if context.settings.nsp_url else f"{origin}/nsp")
    except (httpx.HTTPError, RecipientError) as exc:
        typer.echo(f"Demo data: no system token from NSP ({exc}); skipped")
        return
    with DocumentSource(f"{origin}/dds/fhir", source_id=SOURCE_ID, headers=headers) as source:
        changed = share_hco_examples(source, list(package.examples()), report=typer.echo)
    typer.echo(f"Demo data ready ({changed} DDS entries added or changed).")


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def _add_subcommands() -> None:
    from services.conformance import cli as conformance_cli

    conformance_cli.register(app)


_add_subcommands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
