"""nsp-sandbox's build: pyproject.toml declares the package; this adds the compiled conformance engine.

The modules below — the profile walk, its rules and the FHIRPath engine, Python that runs for every
element of every validated resource — are compiled to C extensions with mypyc, which type-checks them
as it compiles them. The Python sources stay beside the extensions and are what runs when the build
cannot compile (no C compiler, or ``NSP_SANDBOX_PURE_PYTHON=1``), and when a source has changed since
its extension was built (``nsp_sandbox.conformance.compiled``).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import shutil
import sysconfig
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
PACKAGE = "nsp_sandbox/conformance"


def _listed(name: str) -> object:
    """A constant of nsp_sandbox/conformance/compiled.py, read without importing the package."""
    tree = ast.parse((HERE / PACKAGE / "compiled.py").read_text())
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else (
            node.targets[0] if isinstance(node, ast.Assign) else None)
        if isinstance(target, ast.Name) and target.id == name and node.value is not None:
            return ast.literal_eval(node.value)
    raise LookupError(f"{name} is not in compiled.py")


COMPILED: tuple[str, ...] = _listed("MODULES")  # type: ignore[assignment]
MANIFEST: str = _listed("MANIFEST")  # type: ignore[assignment]


def _sources() -> list[str]:
    return [f"{PACKAGE}/{module.replace('.', '/')}.py" for module in COMPILED]


def _compiler_found() -> bool:
    """A C compiler and this Python's headers (Debian: gcc and python3-dev)."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(compiler) is not None and (Path(sysconfig.get_paths()["include"]) / "Python.h").exists()


def _extensions() -> list[object]:
    if os.environ.get("NSP_SANDBOX_PURE_PYTHON", "") not in ("", "0"):
        print("nsp-sandbox: NSP_SANDBOX_PURE_PYTHON is set; the conformance engine stays Python")
        return []
    if not _compiler_found():
        print("nsp-sandbox: no C compiler or no Python headers; the conformance engine stays Python")
        return []
    from mypyc.build import mypycify

    # The libraries the engine calls (fhirpathpy, lxml, pydantic, fhir.resources) are not in the build's
    # environment: their values are typed Any, the same in every build, wherever it runs.
    return mypycify(["--ignore-missing-imports", "--no-site-packages", *_sources()], opt_level="3",
                    multi_file=True, group_name="nsp_sandbox_conformance")


class BuildWithManifest(build_ext):
    """Builds the extensions, each one's C files on every core, and records the SHA-256 of each
    source they were compiled from."""

    def build_extension(self, ext: Extension) -> None:
        compile_one_by_one = self.compiler.compile

        def compile_in_parallel(sources: list[str], *args: Any, **kwargs: Any) -> list[str]:
            if len(sources) < 2:
                return compile_one_by_one(sources, *args, **kwargs)
            with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
                parts = pool.map(lambda source: compile_one_by_one([source], *args, **kwargs), sources)
                return [obj for part in parts for obj in part]

        self.compiler.compile = compile_in_parallel
        try:
            super().build_extension(ext)
        finally:
            self.compiler.compile = compile_one_by_one

    def run(self) -> None:
        super().run()
        if not self.extensions:
            return
        digests = {name: hashlib.sha256((HERE / source).read_bytes()).hexdigest()
                   for name, source in zip(COMPILED, _sources(), strict=True)}
        target = HERE / PACKAGE if self.inplace else Path(self.build_lib) / PACKAGE
        target.mkdir(parents=True, exist_ok=True)
        (target / MANIFEST).write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n")


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildWithManifest})
