"""Fixtures for the PLSP hub tests: the sandbox in process with the clock frozen, and the GP client."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from plsp_support import plsp

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.plsp_client import PlspClient

START = datetime(2026, 5, 6, 10, 0, tzinfo=UTC)  # 12:00 Danish time


@pytest.fixture
def clock(context: SandboxContext) -> SandboxContext:
    context.clock.freeze(START)
    return context


@pytest.fixture
def gp(client: TestClient, clock: SandboxContext) -> PlspClient:
    """Skødstrup Lægepraksis' GP system, talking to the hub."""
    return plsp(client)
