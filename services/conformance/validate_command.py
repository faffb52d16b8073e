"""``nsp-sandbox validate FILE... [--profile URL] [--ig NAME#VERSION | --ig 1.1] [--json]``: validate FHIR
files from the command line (``--ig 1.1`` / ``--ig 1.2``: as that HomeCareObservation IG version,
:mod:`nsp_sandbox.hco_versions`).

Each file (FHIR JSON or FHIR XML, told by its extension or, failing that, its first byte) is
validated against its ``meta.profile`` (and ``--profile`` when given) with the packages the
sandbox is configured with (``NSP_SANDBOX_FHIR_PACKAGES`` and the FHIR package cache). Readable
tables go to standard output, progress for many files to standard error; ``--json`` prints one
JSON object mapping each file path, as given, to its OperationOutcome. The exit code is 1 when
any file has an error, 2 when nothing could be validated (no packages), else 0.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from nsp_sandbox.outcome import Issue, has_errors, operation_outcome

if TYPE_CHECKING:
    from nsp_sandbox.conformance.validator import Validator

_STYLE = {"fatal": "bold red", "error": "red", "warning": "yellow", "information": "cyan"}
PROGRESS_FROM = 5  # show a progress bar from this many files on


def validate(
    files: Annotated[list[str], typer.Argument(help="FHIR resources to validate (.json or .xml)",
                                                show_default=False)],
    profile: Annotated[str | None, typer.Option(
        "--profile", help="also validate against this profile (url or url|version)")] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="print one JSON object: file path -> OperationOutcome")] = False,
    ig: Annotated[str | None, typer.Option(
        "--ig", help="NAME#VERSION whose dependency versions decide unversioned profiles, or an "
                     "HomeCareObservation version (1.1, 1.2, or a release such as 1.1.0) "
                     "(default: the package of the resource's own profile)")] = None,
) -> None:
    """Validate FHIR resources against the profiles in the loaded packages."""
    out = Console(highlight=False, soft_wrap=False)
    err = Console(stderr=True, highlight=False)
    validator = _validator(err)
    results: dict[str, list[Issue]] = {}
    if len(files) >= PROGRESS_FROM:
        with Progress(TextColumn("validating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      TextColumn("{task.description}"), console=err, transient=True) as progress:
            task = progress.add_task("", total=len(files))
            for name in files:
                progress.update(task, description=name)
                results[name] = _validate_file(validator, Path(name), profile, ig)
                progress.advance(task)
    else:
        for name in files:
            results[name] = _validate_file(validator, Path(name), profile, ig)
    if as_json:
        typer.echo(json.dumps({name: operation_outcome(issues) for name, issues in results.items()},
                              ensure_ascii=False, indent=2))
    else:
        for name, issues in results.items():
            _print_table(out, name, issues)
        failed = sum(1 for issues in results.values() if has_errors(issues))
        out.print(f"{len(results)} file(s) validated, {failed} with errors")
    if any(has_errors(issues) for issues in results.values()):
        raise typer.Exit(1)


def _validator(err: Console) -> Validator:
    from nsp_sandbox.config import Settings
    from nsp_sandbox.conformance.packages import PackageRegistry
    from nsp_sandbox.conformance.validator import Validator
    from nsp_sandbox.package_install import PackageId, PackagesUnavailable, ensure

    settings = Settings()
    registry = PackageRegistry.load(settings.package_sources(), settings.fhir_package_cache)
    try:  # the declared packages, installed from the FHIR package registry when missing (as on `up`)
        installed = ensure(settings.package_sources(), settings.fhir_package_cache, settings.fhir_registry,
                           lambda line: err.print(escape(line)),
                           confirm=lambda: {PackageId(p.name, p.version) for p in registry.all_packages()})
    except PackagesUnavailable as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    if installed:
        registry = PackageRegistry.load(settings.package_sources(), settings.fhir_package_cache)
    if not registry.all_packages():
        err.print("[red]No FHIR packages found.[/red] Set NSP_SANDBOX_FHIR_PACKAGES or install packages "
                  f"into {settings.fhir_package_cache} (nsp-sandbox packages install NAME#VERSION).")
        raise typer.Exit(2)
    return Validator(registry)


def _validate_file(validator: Validator, path: Path, profile: str | None, ig: str | None) -> list[Issue]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return [Issue("fatal", "exception", f"Cannot read {path}: {exc.strerror or exc}", rule="file")]
    suffix = path.suffix.lower()
    if suffix == ".xml":
        content_type = "application/fhir+xml"
    elif suffix == ".json":
        content_type = "application/fhir+json"
    else:
        content_type = "application/fhir+xml" if raw.lstrip()[:1] == b"<" else "application/fhir+json"
    if ig is None or "#" in ig:
        return validator.validate_bytes(raw, content_type, profile, package=ig)
    from nsp_sandbox import hco_versions

    resource, problems = validator.parse(raw, content_type)
    if resource is None:
        return problems
    try:
        package = hco_versions.package_for(validator.registry, ig, resource)
    except hco_versions.UnknownVersion as exc:
        return [Issue("fatal", "not-supported", str(exc), rule="hco-version")]
    return validator.validate(resource, profile, package=package)


def _print_table(out: Console, name: str, issues: list[Issue]) -> None:
    errors = sum(1 for i in issues if i.is_error)
    warnings = sum(1 for i in issues if i.severity == "warning")
    verdict = "[red]invalid[/red]" if errors else "[green]valid[/green]"
    out.print(f"[bold]{escape(name)}[/bold]: {verdict} ({errors} error(s), {warnings} warning(s), "
              f"{len(issues) - errors - warnings} note(s))")
    if not issues:
        return
    table = Table(show_lines=False, expand=False)
    table.add_column("severity", no_wrap=True)
    table.add_column("where", overflow="fold")
    table.add_column("rule", overflow="fold")
    table.add_column("message", overflow="fold")
    order = {"fatal": 0, "error": 1, "warning": 2, "information": 3}
    for issue in sorted(issues, key=lambda i: order.get(i.severity, 4)):
        table.add_row(Text(issue.severity, style=_STYLE.get(issue.severity, "")), Text(issue.expression or ""),
                      Text(issue.rule or ""), Text(issue.diagnostics))
    out.print(table)
