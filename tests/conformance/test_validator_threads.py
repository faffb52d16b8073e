"""The conformance engine used by several threads at once from its first use, as a server's thread pool
does: a package resource is one object however many threads load it together (the library keys its
compiled profiles by the object's ``id``; a second copy, collected, once left its ``id`` to another
resource, and concurrent first validations were judged by the wrong profile)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from nsp_sandbox.conformance.packages import PackageRegistry

THREADS = 6


def _together(work: Any, count: int = THREADS) -> list[Any]:
    """``work(i)`` on ``count`` threads released at the same moment; the results in order."""
    barrier = threading.Barrier(count)
    out: list[Any] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        out[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return out


def test_a_resource_loaded_by_threads_at_once_is_one_object(fhir_packages_dir: Path) -> None:
    core = PackageRegistry.load([fhir_packages_dir], None).get("hl7.fhir.r4.core")
    assert core is not None
    names = [e.filename for e in core.entries if e.resource_type == "StructureDefinition"][:40]
    for name in names:
        loaded = _together(lambda _, name=name: core.load(name))
        assert all(resource is loaded[0] for resource in loaded), name
