"""DDS runs its provides one at a time on the process's CPU lane (``nsp_sandbox.cpu_lane``), not side by side
on the thread pool: concurrent ITI-65 provides are all registered, none overlapping another."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from mhd_client import Mhd

from services.dds.mhd.iti65 import ProvideDocumentBundle

PROVIDES = 6


def test_concurrent_provides_are_registered_one_after_another_on_the_lane(
        mhd: Mhd, monkeypatch: pytest.MonkeyPatch) -> None:
    lock = threading.Lock()
    running = most = 0
    threads: set[str] = set()
    provide = ProvideDocumentBundle.provide

    def watched(self: ProvideDocumentBundle, *args: Any, **kwargs: Any) -> dict[str, Any]:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            threads.add(threading.current_thread().name)
        try:
            time.sleep(0.01)  # widen the window: on a thread pool the others would enter meanwhile
            return provide(self, *args, **kwargs)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(ProvideDocumentBundle, "provide", watched)
    bundles = [mhd.bundle((mhd.document_reference(), mhd.examples.hco)) for _ in range(PROVIDES)]
    with ThreadPoolExecutor(PROVIDES) as pool:
        responses = list(pool.map(mhd.post, bundles))

    assert [r.status_code for r in responses] == [200] * PROVIDES, [r.text[:300] for r in responses]
    assert most == 1
    assert len(threads) == 1 and next(iter(threads)).startswith("cpu-lane")
    ids = {r.json()["entry"][1]["response"]["location"] for r in responses}
    assert len(ids) == PROVIDES
