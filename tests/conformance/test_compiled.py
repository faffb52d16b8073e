"""The conformance engine compiled (``nsp_sandbox.conformance.compiled``): built where it can be, never
stale, and finding exactly what its Python sources find."""

from __future__ import annotations

import hashlib
import importlib.machinery
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nsp_sandbox.conformance import compiled
from tests.conftest import FHIR_PACKAGES_DIR

REPO = Path(__file__).resolve().parents[2]
SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


def _package(tmp_path: Path, *, built: bool, manifest: bool = True) -> Path:
    root = tmp_path / "pkg"
    (root / "sub").mkdir(parents=True)
    for module in ("a", "sub.b"):
        compiled.source_of(module, root).write_text(f"NAME = {module!r}\n")
        if built:
            compiled.source_of(module, root).with_suffix(SUFFIX).write_bytes(b"")
    if manifest:
        (root / compiled.MANIFEST).write_text(json.dumps({
            m: hashlib.sha256(compiled.source_of(m, root).read_bytes()).hexdigest() for m in ("a", "sub.b")}))
    return root


def test_a_source_changed_since_the_build_is_named(tmp_path: Path) -> None:
    root = _package(tmp_path, built=True)
    assert compiled.changed_sources(root, ("a", "sub.b")) == []
    compiled.source_of("sub.b", root).write_text("NAME = 'edited'\n")
    assert compiled.changed_sources(root, ("a", "sub.b")) == ["sub.b"]
    (root / compiled.MANIFEST).unlink()
    assert compiled.changed_sources(root, ("a", "sub.b")) == ["a", "sub.b"]  # nothing says what was compiled


def test_nothing_built_is_not_stale(tmp_path: Path) -> None:
    assert compiled.changed_sources(_package(tmp_path, built=False, manifest=False), ("a", "sub.b")) is None


def _walker_file(**env: str) -> str:
    out = subprocess.run([sys.executable, "-c", "import nsp_sandbox.conformance.walker as w, "
                          "nsp_sandbox.conformance.compiled as c; print(w.__file__); print(c.state)"],
                         cwd=REPO, capture_output=True, text=True, check=True, env={**os.environ, **env})
    return out.stdout


@pytest.mark.skipif(not compiled.can_compile() or compiled.pure_python_asked(),
                    reason="nothing compiled: no C compiler or headers, or NSP_SANDBOX_PURE_PYTHON")
def test_the_engine_runs_compiled_where_it_can_be_built() -> None:
    assert compiled.state == "compiled", (
        f"the conformance engine runs as {compiled.state}: pip install -e . compiles it (scripts/test.sh does)")
    file, state = _walker_file().split()
    assert file.endswith(".so") and state == "compiled"


@pytest.mark.skipif(compiled.state != "compiled", reason="the engine is not compiled here")
def test_pure_python_runs_the_sources_though_compiled() -> None:
    file, *state = _walker_file(NSP_SANDBOX_PURE_PYTHON="1").split()
    assert file.endswith("walker.py") and " ".join(state) == "Python (NSP_SANDBOX_PURE_PYTHON)"


@pytest.mark.skipif(compiled.state != "compiled", reason="the engine is not compiled here")
def test_compiled_and_python_find_the_same(tmp_path: Path) -> None:
    """Every official example and three mutations of each: the same findings, compiled or not."""
    def findings(name: str, **env: str) -> Path:
        out = tmp_path / f"{name}.json"
        subprocess.run([sys.executable, str(REPO / "bench" / "conformance_findings.py"), "--mutations", "3",
                        "--packages", str(FHIR_PACKAGES_DIR), "--out", str(out)],
                       cwd=REPO, capture_output=True, check=True, env={**os.environ, **env})
        return out

    python, native = findings("python", NSP_SANDBOX_PURE_PYTHON="1"), findings("compiled")
    documents = json.loads(python.read_text())
    assert len(documents) > 2000
    assert json.loads(native.read_text()) == documents
