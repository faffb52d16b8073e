"""What the suite needs from the machine (the FHIR packages, PostgreSQL, chromium): skipped for on a
developer's machine that lacks it, a failure with the reason under CI (``CI`` set)."""

from __future__ import annotations

import os

import pytest


def missing(reason: str) -> None:
    """Skip for what this machine lacks; under CI a missing prerequisite fails the run with the
    reason instead, so a CI run never passes by skipping."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; it cannot be skipped under CI", pytrace=False)
    pytest.skip(reason)
