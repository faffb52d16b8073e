"""``nsp-sandbox packages list`` and ``nsp-sandbox packages install NAME#VERSION``."""

from __future__ import annotations

import io
import json
import re
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from nsp_sandbox.archive_unpack import unpack_data
from nsp_sandbox.config import Settings

REGISTRY_URL = "https://packages.fhir.org"
PACKAGE_ID = re.compile(r"^(?P<name>[a-z0-9][a-z0-9._-]*)#(?P<version>[A-Za-z0-9._-]+)\Z")


def register(app: typer.Typer) -> None:
    app.command(name="list")(list_packages)
    app.command(name="install")(install)


def list_packages(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """Show the FHIR packages the sandbox loads, what they hold, and unresolved dependencies."""
    from nsp_sandbox.conformance.packages import PackageRegistry

    settings = Settings()
    registry = PackageRegistry.load(settings.package_sources(), settings.fhir_package_cache)
    rows = [{
        "package": pkg.id,
        "origin": pkg.origin,
        "StructureDefinition": pkg.count("StructureDefinition"),
        "ValueSet": pkg.count("ValueSet"),
        "CodeSystem": pkg.count("CodeSystem"),
        "examples": sum(1 for _ in pkg.examples()),
    } for pkg in registry.all_packages()]
    if as_json:
        typer.echo(json.dumps({"packages": rows, "warnings": registry.warnings}, indent=2))
        return
    console = Console()
    if not rows:
        console.print("No FHIR packages found. Set NSP_SANDBOX_FHIR_PACKAGES or install packages into "
                      f"{settings.fhir_package_cache} (nsp-sandbox packages install NAME#VERSION).")
        raise typer.Exit(1)
    table = Table(title=f"{len(rows)} FHIR packages")
    table.add_column("package", no_wrap=True)
    for col in ("profiles", "value sets", "code systems", "examples"):
        table.add_column(col, justify="right")
    table.add_column("from", overflow="fold")
    for r in rows:
        table.add_row(r["package"], str(r["StructureDefinition"]), str(r["ValueSet"]), str(r["CodeSystem"]),
                      str(r["examples"]), Path(r["origin"]).name)
    console.print(table)
    for warning in registry.warnings:
        console.print(f"[yellow]warning:[/] {warning}")


def install(
    package: Annotated[str, typer.Argument(help="NAME#VERSION, e.g. medcom.fhir.dk.core#4.0.0")],
    registry_url: Annotated[str, typer.Option(help="FHIR package registry")] = REGISTRY_URL,
    with_dependencies: Annotated[bool, typer.Option(help="also install missing dependencies")] = True,
    timeout: Annotated[float, typer.Option(help="seconds per download")] = 30.0,
) -> None:
    """Fetch a package from the FHIR package registry into the package cache (~/.fhir/packages)."""
    settings = Settings()
    match = PACKAGE_ID.match(package)
    if not match:
        typer.echo(f"error: '{package}' is not NAME#VERSION", err=True)
        raise typer.Exit(2)
    cache = settings.fhir_package_cache
    todo = [(match["name"], match["version"])]
    done: set[str] = set()
    while todo:
        name, version = todo.pop(0)
        key = f"{name}#{version}"
        if key in done:
            continue
        done.add(key)
        target = cache / key
        if (target / "package" / "package.json").is_file():
            typer.echo(f"{key}: already in {cache}")
            manifest = json.loads((target / "package" / "package.json").read_text(encoding="utf-8"))
        else:
            typer.echo(f"{key}: downloading from {registry_url} …")
            try:
                manifest = _download(registry_url, name, version, target, timeout)
            except InstallError as exc:
                typer.echo(f"error: {key}: {exc}", err=True)
                raise typer.Exit(1) from None
            typer.echo(f"{key}: installed in {target}")
        if with_dependencies:
            todo.extend((dep, ver) for dep, ver in (manifest.get("dependencies") or {}).items())


class InstallError(Exception):
    pass


def _download(registry_url: str, name: str, version: str, target: Path, timeout: float) -> dict[str, object]:
    import httpx2 as httpx

    url = f"{registry_url.rstrip('/')}/{name}/{version}"
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True) as client:
            response = client.get(url, headers={"Accept": "application/tar+gzip"})
    except httpx.HTTPError as exc:
        raise InstallError(f"cannot reach {registry_url} ({type(exc).__name__}: {exc}); "
                           "are you offline? Put the .tgz in NSP_SANDBOX_FHIR_PACKAGES instead") from None
    if response.status_code == 404:
        raise InstallError(f"{registry_url} has no package {name}#{version}")
    if response.status_code != 200:
        raise InstallError(f"{url} answered HTTP {response.status_code}")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".install-", dir=target.parent))
    try:
        with tarfile.open(fileobj=io.BytesIO(response.content), mode="r:gz") as tar:
            unpack_data(tar, tmp)
        manifest_path = tmp / "package" / "package.json"
        if not manifest_path.is_file():
            raise InstallError("the download is not a FHIR package (no package/package.json)")
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        tmp.rename(target)
        return manifest
    except (tarfile.TarError, OSError, ValueError) as exc:
        raise InstallError(f"the download could not be unpacked: {exc}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
