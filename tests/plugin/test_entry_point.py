"""The plugin is declared where pytest looks for it: entry point group ``pytest11``, name ``nsp_sandbox``."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_entry_point_names_the_module_with_the_hooks_and_fixtures() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    target = project["entry-points"]["pytest11"]["nsp_sandbox"]
    module = importlib.import_module(target)
    assert callable(module.pytest_addoption) and callable(module.pytest_runtest_makereport)
    assert {"nsp_sandbox", "nsp_sandbox_per_test"} <= {name for name in dir(module) if name.startswith("nsp_")}
    assert any(r.startswith("pytest") for r in project["optional-dependencies"]["pytest"])
