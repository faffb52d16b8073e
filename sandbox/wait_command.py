"""``nsp-sandbox wait URL``: return when a sandbox started elsewhere (``nsp-sandbox up``, a container,
a CI service) is ready — its FHIR packages loaded and its demo data in (``GET /health`` 200)."""

from __future__ import annotations

import time
from typing import Annotated

import typer


def wait(
    url: Annotated[str, typer.Argument(help="the sandbox's base URL, e.g. http://127.0.0.1:8080")] = "http://127.0.0.1:8080",
    timeout: Annotated[float, typer.Option(help="give up after this many seconds")] = 300.0,
) -> None:
    """Wait until the sandbox at URL is ready; exit 1 if it is degraded, 2 if the time runs out."""
    import httpx2 as httpx

    deadline = time.monotonic() + timeout
    shown = ""
    with httpx.Client(timeout=5) as http:  # one client for every try: a new one loads the CA certificates again
        while time.monotonic() < deadline:
            try:
                answer = http.get(f"{url.rstrip('/')}/health")
                status = str(answer.json().get("status", "")) if answer.content else ""
            except (httpx.HTTPError, ValueError):
                answer, status = None, "not answering yet"
            if answer is not None and answer.status_code == 200:
                typer.echo(f"{url}: ready")
                return
            if status == "degraded":
                typer.echo(f"{url}: degraded, missing {', '.join(answer.json().get('missing', []))}", err=True)  # type: ignore[union-attr]
                raise typer.Exit(1)
            if status != shown:
                typer.echo(f"{url}: {status} …")
                shown = status
            time.sleep(0.2)
    typer.echo(f"{url}: not ready after {timeout:.0f} s (last: {shown})", err=True)
    raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    app.command(name="wait")(wait)
