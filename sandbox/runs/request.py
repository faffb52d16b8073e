"""What ``POST /sandbox/runs`` takes: ``{"suite", "target", "options", "cases"}``, checked before a run is
accepted — an unknown field, suite, option or case is refused with 422 naming it (docs/runs.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nsp_sandbox.outcome import FhirError, Issue
from sandbox.runs import suites
from sandbox.runs.suite import Suite

SOURCE = "nsp-sandbox control face: conformance runs (docs/runs.md)"
FIELDS = ("suite", "target", "options", "cases")
COMMON_OPTIONS = {"timeout_seconds": "how long a case waits for the participant or the target (default 300)"}
MAX_TARGET = 2000


@dataclass(frozen=True)
class RunRequest:
    suite: Suite
    target: str
    options: dict[str, Any]
    cases: list[str] | None  # None: every case of the suite


def refused(text: str, where: str, rule: str = "sandbox-run") -> FhirError:
    return FhirError(422, Issue("error", "invalid", text, expression=where, rule=rule, source=SOURCE))


def allowed_options(suite: Suite) -> dict[str, str]:
    """The options a run of ``suite`` takes: its own and those every suite takes."""
    return {**COMMON_OPTIONS, **suite.options}


def read_request(body: dict[str, Any]) -> RunRequest:
    """The run asked for in ``body``, or a :class:`FhirError` naming what is wrong."""
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise refused(f"Unknown field(s) {', '.join(unknown)}; a run takes {', '.join(FIELDS)}", unknown[0],
                      "sandbox-unknown-field")
    for name in ("suite", "target"):
        if not isinstance(body.get(name), str) or not body[name].strip():
            raise refused(f"'{name}' is required, a non-empty string", name)
    suite = suites.suite_named(body["suite"])
    if suite is None:
        known = ", ".join(s.name for s in suites.all_suites()) or "none"
        raise refused(f"Unknown suite '{body['suite']}'; known: {known} (GET /sandbox/suites)", "suite",
                      "sandbox-run-suite")
    if len(body["target"]) > MAX_TARGET:
        raise refused(f"'target' is at most {MAX_TARGET} characters", "target")
    return RunRequest(suite, body["target"].strip(), _options(suite, body.get("options", {})),
                      _cases(suite, body.get("cases")))


def _options(suite: Suite, options: Any) -> dict[str, Any]:
    if not isinstance(options, dict):
        raise refused("'options' is an object of option name → value", "options")
    allowed = allowed_options(suite)
    for name, value in options.items():
        if name not in allowed:
            raise refused(f"Unknown option '{name}' for suite {suite.name}; it takes {', '.join(sorted(allowed))}",
                          f"options.{name}", "sandbox-run-option")
        if not isinstance(value, str | int | float | bool) or value is None:
            raise refused(f"Option '{name}' is a string, number or boolean", f"options.{name}")
    if "timeout_seconds" in options:
        try:
            seconds = float(options["timeout_seconds"])
        except ValueError:
            seconds = -1.0
        if not 0 < seconds <= 86400:
            raise refused("Option 'timeout_seconds' is a number of seconds, above 0 and at most 86400",
                          "options.timeout_seconds")
    return dict(options)


def _cases(suite: Suite, cases: Any) -> list[str] | None:
    if cases is None:
        return None
    if not isinstance(cases, list) or not cases or not all(isinstance(c, str) for c in cases):
        raise refused("'cases' is a non-empty list of case names", "cases")
    names = [c.name for c in suite.cases]
    for index, name in enumerate(cases):
        if name not in names:
            raise refused(f"Unknown case '{name}' in suite {suite.name}; its cases: {', '.join(names)}",
                          f"cases[{index}]", "sandbox-run-case")
    return list(dict.fromkeys(cases))
