"""FastAPI's own OpenTelemetry instrumentation serves a sandbox whose environment sets OpenTelemetry up, and
costs nothing in one that does not (``nsp_sandbox.fastapi_telemetry``)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from opentelemetry import _logs, metrics, trace

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.fastapi_telemetry import configured


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """How often OpenTelemetry is asked for each of its global providers."""
    counts: Counter[str] = Counter()
    for module, name in ((trace, "get_tracer_provider"), (metrics, "get_meter_provider"),
                         (_logs, "get_logger_provider")):
        def counted(*args: object, _original=getattr(module, name), _name=name, **kwargs: object) -> object:
            counts[_name] += 1
            return _original(*args, **kwargs)
        monkeypatch.setattr(module, name, counted)
    yield counts


def _serve(context: SandboxContext) -> None:
    from sandbox.app import create_sandbox_app

    with TestClient(create_sandbox_app(context, warm_packages=False, lazy_actors=True),
                    base_url="http://sandbox.test") as client:
        for _ in range(3):
            assert client.get("/dds/fhir/metadata").status_code == 200
            assert client.get("/health").status_code == 200


def test_without_opentelemetry_set_up_no_request_asks_for_its_providers(
        context: SandboxContext, asked: Counter[str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("OTEL_") or n == "FASTAPI_OTEL_AUTO_CONFIGURE"]:
        monkeypatch.delenv(name)
    _serve(context)
    assert not asked


def test_with_opentelemetry_set_up_every_app_is_instrumented(
        context: SandboxContext, asked: Counter[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "nsp-sandbox")
    _serve(context)
    # each request, in the sandbox's app and in DDS's, asks for every provider FastAPI reports to
    assert asked["get_tracer_provider"] >= 9 and asked["get_meter_provider"] >= 9, asked


def test_what_sets_opentelemetry_up() -> None:
    assert configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "PATH": "/usr/bin"})
    assert configured({"FASTAPI_OTEL_AUTO_CONFIGURE": "true"})
    assert not configured({"PATH": "/usr/bin", "NSP_SANDBOX_DATABASE_URL": "sqlite:///x.db", "HOTEL_": "1"})
