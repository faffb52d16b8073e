"""Which of the conformance engine's modules run compiled, and their Python sources when the build is stale.

``setup.py`` compiles :data:`MODULES` (the profile walk, its rules and the FHIRPath engine) to C
extensions with mypyc when the package is built, and writes :data:`MANIFEST`: the SHA-256 of each
source it compiled. In an editable checkout the extensions lie beside the sources, and Python
imports an extension before a source of the same name, so after a source is edited its old
extension would still run. :func:`use_sources_if_stale` runs when the package is imported, before
any of these modules: it compares each source with what was compiled and, if any differs or the
record is missing, none of the extensions is used (compiled modules call one another directly, so
one stale module makes the whole group stale). The sources then run, a warning names the changed
modules, and ``pip install -e .`` builds the extensions again.

``NSP_SANDBOX_PURE_PYTHON=1`` runs the sources too, compiled or not (and keeps ``setup.py`` from
compiling): to compare the two, or to debug the engine in Python.

This module imports nothing but the standard library: ``setup.py`` loads it from its file, without the
package, for :data:`MODULES`, :data:`MANIFEST`, :func:`pure_python_asked` and :func:`can_compile`.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import logging
import os
import shutil
import sys
import sysconfig
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

log = logging.getLogger(__name__)

PACKAGE = "nsp_sandbox.conformance"
HERE = Path(__file__).resolve().parent
MANIFEST = "compiled-sources.json"
# What setup.py compiles.
MODULES: tuple[str, ...] = (
    "base_structure", "bindings", "extensions", "frames", "json_bounds", "primitives", "reference_rules", "references",
    "regex_equivalents", "shortcuts", "slice_matching", "slicing", "structure", "terminology", "invariants",
    "walker", "fhirpath.compiler", "fhirpath.equality", "fhirpath.fhir_functions", "fhirpath.functions",
    "fhirpath.model", "fhirpath.narrative", "fhirpath.operators", "fhirpath.strings", "fhirpath.values",
)

state = "Python"
"""How the engine runs in this process: ``compiled``, ``Python`` (nothing was compiled),
``Python (NSP_SANDBOX_PURE_PYTHON)`` or ``Python (stale: …)`` (sources changed since the build)."""


def pure_python_asked() -> bool:
    return os.environ.get("NSP_SANDBOX_PURE_PYTHON", "") not in ("", "0")


def can_compile() -> bool:
    """What the build needs to compile: a C compiler and this Python's headers (Debian: gcc, python3-dev)."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(compiler) is not None and (Path(sysconfig.get_paths()["include"]) / "Python.h").exists()


def source_of(module: str, root: Path = HERE) -> Path:
    return root.joinpath(*module.split(".")).with_suffix(".py")


def _extension_of(module: str, root: Path) -> Path | None:
    source = source_of(module, root)
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = source.with_suffix(suffix)
        if candidate.exists():
            return candidate
    return None


def changed_sources(root: Path = HERE, modules: Sequence[str] = MODULES) -> list[str] | None:
    """The modules whose source differs from the one compiled (all of them when the record is
    missing or unreadable); None when no module has an extension (nothing was compiled)."""
    built = {m for m in modules if _extension_of(m, root) is not None}
    if not built:
        return None
    try:
        recorded = json.loads((root / MANIFEST).read_text())
    except (OSError, ValueError):
        recorded = None
    if not isinstance(recorded, dict):
        return list(modules)
    changed = []
    for module in modules:
        try:
            digest: str | None = hashlib.sha256(source_of(module, root).read_bytes()).hexdigest()
        except OSError:
            digest = None
        if module not in built or recorded.get(module) != digest:
            changed.append(module)
    return changed


class SourceFinder(importlib.abc.MetaPathFinder):
    """Finds the listed modules as their Python sources, ahead of the extensions beside them."""

    def __init__(self, sources: dict[str, Path]) -> None:
        self.sources = sources

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        source = self.sources.get(fullname)
        return None if source is None else importlib.util.spec_from_file_location(fullname, source)


def use_sources_if_stale(root: Path = HERE, package: str = PACKAGE, modules: Sequence[str] = MODULES) -> str:
    """Decide how the engine runs (:data:`state`); when stale, put a :class:`SourceFinder` first."""
    global state
    changed = changed_sources(root, modules)
    if changed is None:
        state = "Python"
        return state
    if pure_python_asked():
        state = "Python (NSP_SANDBOX_PURE_PYTHON)"
    elif not changed:
        state = "compiled"
        return state
    else:
        shown = ", ".join(changed[:4]) + (f" and {len(changed) - 4} more" if len(changed) > 4 else "")
        state = f"Python (stale: {shown} changed since the build)"
        log.warning("conformance engine: %s changed since it was compiled; running the Python sources "
                    "(pip install -e . compiles them again)", shown)
    sys.meta_path.insert(0, SourceFinder({f"{package}.{m}": source_of(m, root) for m in modules}))
    return state
