"""``nsp-sandbox clock``: read and move a running sandbox's clock over its control face
(``/sandbox/clock``), so scenarios and a vendor's CI can travel in time from a shell."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

clock_app = typer.Typer(help="The sandbox clock of a running sandbox (GET/PUT/DELETE /sandbox/clock).",
                        no_args_is_help=True)

UrlOption = Annotated[str, typer.Option(help="the sandbox's base URL")]
DEFAULT_URL = "http://127.0.0.1:8080"


def _call(method: str, url: str, body: dict[str, Any] | None = None) -> None:
    import httpx2 as httpx

    token = os.environ.get("NSP_SANDBOX_ADMIN_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.request(method, f"{url.rstrip('/')}/sandbox/clock", json=body, headers=headers, timeout=10)
    except httpx.HTTPError as exc:
        typer.echo(f"The sandbox at {url} could not be reached: {type(exc).__name__}", err=True)
        raise typer.Exit(2) from None
    if response.status_code != 200:
        issues = response.json().get("issue", []) if "json" in response.headers.get("content-type", "") else []
        typer.echo(f"HTTP {response.status_code}: " + "; ".join(i.get("diagnostics", "") for i in issues), err=True)
        raise typer.Exit(1)
    state = response.json()
    typer.echo(f"{state['now']}  {'frozen' if state['frozen'] else 'running'}  "
               f"(offset {round(state['offset_seconds']):+d} s from real time)")


@clock_app.command("show")
def show(url: UrlOption = DEFAULT_URL) -> None:
    """Print the sandbox's time."""
    _call("GET", url)


@clock_app.command("set")
def set_clock(instant: Annotated[str, typer.Argument(help="an instant with a time zone, e.g. 2026-01-15T00:30+01:00")],
              frozen: Annotated[bool, typer.Option(help="stop the clock there")] = False,
              url: UrlOption = DEFAULT_URL) -> None:
    """Travel to INSTANT (time runs on from there unless --frozen)."""
    _call("PUT", url, {"now": instant, "frozen": frozen})


@clock_app.command("freeze")
def freeze(url: UrlOption = DEFAULT_URL) -> None:
    """Stop the clock at the sandbox's present time."""
    _call("PUT", url, {"frozen": True})


@clock_app.command("reset")
def reset(url: UrlOption = DEFAULT_URL) -> None:
    """Back to real time."""
    _call("DELETE", url)


def register(app: typer.Typer) -> None:
    app.add_typer(clock_app, name="clock")
