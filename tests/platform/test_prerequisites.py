"""A missing prerequisite (the FHIR packages, PostgreSQL) skips the tests that need it on a
developer's machine and fails them under CI, with the reason."""

from __future__ import annotations

import pytest
from prerequisites import missing


def test_missing_skips_locally_and_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no PostgreSQL"):
        missing("no PostgreSQL")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no PostgreSQL; it cannot be skipped under CI"):
        missing("no PostgreSQL")
