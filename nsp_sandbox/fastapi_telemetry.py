"""FastAPI's own OpenTelemetry instrumentation: on where the environment sets OpenTelemetry up, off elsewhere.

FastAPI (0.142 and later) instruments every app it serves: a span, metrics and logs for each request, sent to
OpenTelemetry's global providers. With none configured nothing is recorded, but each request still asks
OpenTelemetry for its three providers, in every FastAPI app it passes through (the sandbox's own, then the actor's),
and each ask looks in the process's environment for a variable naming one: 2.5–5 µs of CPU per app, a
``KeyError`` raised and caught for each variable not set. A provide passes through two apps, and DDS's
notification and the viewer's retrievals through two more each.

The sandbox sets up no OpenTelemetry of its own. Where the environment does (any ``OTEL_…`` variable, as the
OpenTelemetry SDK's configuration, ``opentelemetry-instrument`` and FastAPI's ``FASTAPI_OTEL_AUTO_CONFIGURE`` read
it), every app keeps FastAPI's default and is traced; elsewhere its instrumentation is off. Decided when an app is
built.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from functools import cache
from typing import Any

from fastapi import FastAPI

OFF: dict[str, Any] = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}


def configured(environment: Mapping[str, str] | None = None) -> bool:
    """Does ``environment`` (this process's) set OpenTelemetry up?"""
    names = os.environ if environment is None else environment
    return any(name.startswith("OTEL_") or name == "FASTAPI_OTEL_AUTO_CONFIGURE" for name in names)


def telemetry_options() -> dict[str, Any]:
    """What to give ``FastAPI(...)`` besides its own settings: nothing where OpenTelemetry is set up (or this
    FastAPI has no instrumentation of its own), else its instrumentation turned off."""
    if configured() or not _instrumented():
        return {}
    return {"telemetry": dict(OFF)}


@cache
def _instrumented() -> bool:
    return "telemetry" in inspect.signature(FastAPI.__init__).parameters
