"""``nsp-sandbox packages ensure`` and the same step before ``up``/``serve``: every FHIR package the
sandbox declares (``nsp_sandbox/fhir-packages.json``) present, missing ones installed from the FHIR
package registry into the package cache, or one clear error saying what is missing and how to provide it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nsp_sandbox.config import Settings
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.package_install import PackageId, PackagesUnavailable, ensure


def ensure_packages(settings: Settings, context: SandboxContext | None = None, archives: Path | None = None) -> None:
    """Install what is missing (with a line of progress per package); exit 1 with the reason otherwise."""

    def loaded() -> set[PackageId]:
        registry = context.packages if context is not None else None
        if registry is None:
            from nsp_sandbox.conformance.packages import PackageRegistry

            registry = PackageRegistry.load(settings.package_sources(), settings.fhir_package_cache)
        return {PackageId(p.name, p.version) for p in registry.all_packages()}

    with DownloadBars() as bars:
        try:
            installed = ensure(settings.package_sources(), settings.fhir_package_cache, settings.fhir_registry,
                               bars.line, confirm=None if archives else loaded, archives=archives,
                               progress=bars.advance)
        except PackagesUnavailable as exc:
            bars.stop()
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
    if installed:
        typer.echo(f"FHIR packages: installed {len(installed)} into {archives or settings.fhir_package_cache}")
        if context is not None:
            context.forget_packages()


class DownloadBars:
    """Progress while packages download: a bar per package on a terminal, a line per step elsewhere
    (CI logs)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

        self._console = Console()
        self._bars = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                              console=self._console) if self._console.is_terminal else None
        self._tasks: dict[PackageId, int] = {}

    def __enter__(self) -> DownloadBars:
        if self._bars is not None:
            self._bars.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self._bars is not None:
            self._bars.stop()

    def line(self, text: str) -> None:
        if self._bars is None:
            typer.echo(text)
        elif text.startswith("["):
            self._bars.console.print(text)

    def advance(self, package: PackageId, done: int, total: int) -> None:
        if self._bars is None:
            return
        if package not in self._tasks:
            self._tasks[package] = self._bars.add_task(package.key, total=total or None)
        self._bars.update(self._tasks[package], completed=done)


def ensure_command(
    into: Annotated[Path | None, typer.Option(help="keep the .tgz files in this folder (a package source) "
                                                    "instead of unpacking them into the package cache")] = None,
    quiet: Annotated[bool, typer.Option(help="print only what is installed or missing")] = False,
) -> None:
    """Install every FHIR package the sandbox declares that is missing (NSP_SANDBOX_FHIR_REGISTRY)."""
    settings = Settings()
    ensure_packages(settings, archives=into)
    if not quiet:
        where = str(into) if into else (f"{settings.fhir_package_cache} and "
                                        f"{settings.fhir_packages or 'no NSP_SANDBOX_FHIR_PACKAGES'}")
        typer.echo(f"FHIR packages: every declared package is present ({where})")


def register(packages_app: typer.Typer) -> None:
    packages_app.command(name="ensure")(ensure_command)
