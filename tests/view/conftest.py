"""The viewer's tests: the whole sandbox in process (the shared ``client`` fixture, SQLite and
PostgreSQL), seeded through its HTTP faces (``seeding``); personas in ``view_support``."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def packages_dir(fhir_packages_dir: Path) -> Path:
    """The official FHIR package archives the seeding reads its example documents from."""
    return fhir_packages_dir
