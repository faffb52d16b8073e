"""Every conformance suite the sandbox offers, by name (``GET /sandbox/suites``)."""

from __future__ import annotations

from importlib import import_module

from sandbox.runs.suite import Suite

# One folder per suite (or kind of suite), one module per suite with a module-level ``SUITE``; listed in the
# order GET /sandbox/suites shows them.
MODULES: tuple[str, ...] = (
    "gp_system.suite",
    "eoj.suite",
    "documents.source",
    "documents.consumer",
    "plsp.suite",
)


def all_suites() -> list[Suite]:
    return [import_module(f"{__name__}.{module}").SUITE for module in MODULES]


def suite_named(name: str) -> Suite | None:
    return next((s for s in all_suites() if s.name == name), None)
