"""DDS runs its provides one at a time on the process's CPU lane (``nsp_sandbox.cpu_lane``), not side by side
on the thread pool: concurrent ITI-65 provides are all registered, no step overlapping another; the provides waiting
together are checked (validated) one after another before they are registered."""

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
    steps: list[str] = []

    def watched(step: Any) -> Any:
        def run(self: ProvideDocumentBundle, *args: Any, **kwargs: Any) -> Any:
            nonlocal running, most
            with lock:
                running += 1
                most = max(most, running)
                threads.add(threading.current_thread().name)
                steps.append(step.__name__)
            try:
                time.sleep(0.01)  # widen the window: on a thread pool the others would enter meanwhile
                return step(self, *args, **kwargs)
            finally:
                with lock:
                    running -= 1
        return run

    monkeypatch.setattr(ProvideDocumentBundle, "check", watched(ProvideDocumentBundle.check))
    monkeypatch.setattr(ProvideDocumentBundle, "register", watched(ProvideDocumentBundle.register))
    bundles = [mhd.bundle((mhd.document_reference(), mhd.examples.hco)) for _ in range(PROVIDES)]
    with ThreadPoolExecutor(PROVIDES) as pool:
        responses = list(pool.map(mhd.post, bundles))

    assert [r.status_code for r in responses] == [200] * PROVIDES, [r.text[:300] for r in responses]
    assert most == 1
    assert len(threads) == 1 and next(iter(threads)).startswith("cpu-lane")
    assert sorted(steps) == ["check"] * PROVIDES + ["register"] * PROVIDES
    # The checks of the provides that waited together ran before their registrations: at some point two or more
    # checks followed each other (the first provide's check runs alone; the others arrive while it runs).
    assert "check,check" in ",".join(steps), steps
    ids = {r.json()["entry"][1]["response"]["location"] for r in responses}
    assert len(ids) == PROVIDES
