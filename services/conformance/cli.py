"""Conformance commands of ``nsp-sandbox``: ``packages list|install`` and ``validate``."""

from __future__ import annotations

import typer

packages_app = typer.Typer(help="FHIR packages the sandbox loads (configured sources and ~/.fhir/packages).",
                           no_args_is_help=True)


def register(app: typer.Typer) -> None:
    from services.conformance import package_commands

    package_commands.register(packages_app)
    app.add_typer(packages_app, name="packages")
    try:
        from services.conformance.validate_command import validate
    except ModuleNotFoundError:
        return
    app.command(name="validate")(validate)
