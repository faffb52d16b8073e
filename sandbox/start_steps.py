"""The steps of starting the sandbox that ``nsp-sandbox up`` shares between one process and several
workers (``sandbox.workers``): the demo data sent through the actors, the PLSP hub's timed work, and
the "ready" announcement with every actor's URL."""

from __future__ import annotations

import gc
import time
from typing import TYPE_CHECKING, Any

import typer

from nsp_sandbox import __version__
from nsp_sandbox.served_gc import SERVED_GC_THRESHOLDS

if TYPE_CHECKING:
    from nsp_sandbox.context import SandboxContext


def freeze_long_lived() -> None:
    """Once a served sandbox is built, its packages in, and before it says it is ready (``create_sandbox_app``
    with ``warm_packages``: ``up``, each worker, ``uvicorn --factory``): collect, then move what is left (the
    FHIR packages, the compiled profiles and statements, the actors: most of the heap, alive until the
    process ends) out of the garbage collector's generations (``gc.freeze``). A full collection then walks
    only what requests made since, not the packages again each time (docs/benchmarks.md: the CPU lane). The
    collector then runs at :data:`SERVED_GC_THRESHOLDS`. Done before "ready", so that no request waits for it."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVED_GC_THRESHOLDS)


def announce(readiness: Any, base: str, mounted: set[str], database: str, started: float, workers: str = "",
             core: int | None = None, validation_cores: frozenset[int] | None = None) -> None:
    """ "ready" (or what is missing) with the time it took, then where each actor is; ``core``: the CPU core
    the process keeps to (:mod:`nsp_sandbox.one_core`); ``validation_cores``: those of the validation process
    (:mod:`nsp_sandbox.validation_process`), the empty set for any, None where none runs."""
    from sandbox.actors import ACTORS

    if readiness.status == "degraded":
        typer.echo(f"nsp-sandbox {__version__} is up but DEGRADED after {time.perf_counter() - started:.2f} s: "
                   f"missing {', '.join(readiness.missing)}")
    else:
        from nsp_sandbox.conformance import compiled

        on_core = f"; on CPU core {core}" if core is not None else ""
        if validation_cores is not None:
            on_core += ("; validations beside it on core " + ",".join(str(c) for c in sorted(validation_cores))
                        if validation_cores else "; validations in a second process")
        typer.echo(f"nsp-sandbox {__version__} ready in {time.perf_counter() - started:.2f} s "
                   f"(database: {redact(database)}{workers}; conformance engine: {compiled.state}{on_core})")
    typer.echo(f"  landing page   {base}/")
    for actor in ACTORS:
        if actor.prefix in mounted:
            typer.echo(f"  {actor.prefix:<14} {base}{actor.prefix}{actor.entry}   {actor.title}")
    typer.echo(f"  {'/sandbox':<14} {base}/sandbox   control face: clock, world, endpoints, reset, faults "
               "(docs/control.md)")
    typer.echo("Press Ctrl+C to stop.")


def load_demo(context: SandboxContext, origin: str) -> list[str]:
    """The demo data: HCO example messages through the EOJ, a diagnosis card and notes through PLSP.
    Returns what was missing to load it all (empty when everything is in)."""
    missing = _load_hco_demo(context, origin)
    _load_plsp_demo(origin)
    return missing


def _load_hco_demo(context: SandboxContext, origin: str) -> list[str]:
    """Send the official HCO example messages through this sandbox's EOJ (which shares them to DDS)."""
    import httpx2 as httpx

    from sandbox.demo import HCO_PACKAGE, send_hco_examples

    package = context.packages.get(HCO_PACKAGE)
    if package is None:
        typer.echo(f"Demo data: package {HCO_PACKAGE} is not loaded (set NSP_SANDBOX_FHIR_PACKAGES); skipped")
        return [f"FHIR package {HCO_PACKAGE}"]
    typer.echo(f"Demo data: sending the {package.id} example messages through the EOJ …")
    try:
        with httpx.Client(timeout=60) as http:
            changed = send_hco_examples(http, f"{origin}/eoj", list(package.examples()), report=typer.echo,
                                        eoj_persona=context.settings.eoj_persona)
    except httpx.HTTPError as exc:
        typer.echo(f"Demo data: the EOJ could not be reached ({exc}); skipped")
        return ["the HCO demo data (the EOJ could not be reached)"]
    typer.echo(f"Demo data ready ({changed} DDS entries added or changed).")
    return []


def plsp_ticks(origin: str, every_seconds: float = 60.0) -> None:
    """The PLSP hub's timed work on the sandbox clock (purges, DDS retries, after-midnight notes), each minute."""
    import httpx2 as httpx

    while True:
        time.sleep(every_seconds)
        try:
            httpx.post(f"{origin}/plsp/due", timeout=60)
        except httpx.HTTPError:
            continue


def _load_plsp_demo(origin: str) -> None:
    """A diagnosis card and notes for a seeded citizen, through the PLSP hub's LPS interface."""
    import httpx2 as httpx

    from nsp_sandbox.plsp_client import PlspError
    from sandbox.demo_plsp import load_plsp_demo

    try:
        with httpx.Client(timeout=60) as http:
            load_plsp_demo(http, origin, report=typer.echo)
    except (httpx.HTTPError, PlspError) as exc:
        typer.echo(f"Demo data: the PLSP hub could not be reached or refused ({exc}); skipped")


def redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
