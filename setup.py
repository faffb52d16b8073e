"""nsp-sandbox's build: pyproject.toml declares the package; this adds the compiled conformance engine.

The modules ``nsp_sandbox/conformance/compiled.py`` lists (the profile walk, its rules and the FHIRPath
engine: Python that runs for every element of every validated resource) are compiled to C extensions
with mypyc, which type-checks them as it compiles them. The Python sources stay beside the extensions
and are what runs when the build cannot compile (no C compiler or Python headers, or
``NSP_SANDBOX_PURE_PYTHON=1``), and when a source has changed since its extension was built:
``compiled.py`` decides which, when the package is imported.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
PACKAGE = "nsp_sandbox/conformance"


def _compiled_module() -> Any:
    """nsp_sandbox/conformance/compiled.py, loaded from its file (it needs only the standard library)."""
    spec = importlib.util.spec_from_file_location("nsp_sandbox_compiled", HERE / PACKAGE / "compiled.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


compiled = _compiled_module()


def _sources() -> list[str]:
    return [str(compiled.source_of(module, Path(PACKAGE))) for module in compiled.MODULES]


def _extensions() -> list[Extension]:
    if compiled.pure_python_asked():
        print("nsp-sandbox: NSP_SANDBOX_PURE_PYTHON is set; the conformance engine stays Python")
        return []
    if not compiled.can_compile():
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
                   for name, source in zip(compiled.MODULES, _sources(), strict=True)}
        target = HERE / PACKAGE if self.inplace else Path(self.build_lib) / PACKAGE
        target.mkdir(parents=True, exist_ok=True)
        (target / compiled.MANIFEST).write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n")


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildWithManifest})
