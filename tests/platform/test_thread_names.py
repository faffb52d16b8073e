"""The sandbox's threads carry their names at the operating system too (``nsp_sandbox.thread_names``): what
``top -H`` and ``/proc/PID/task/*/comm`` show, cut to the kernel's 15 bytes."""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path

import pytest

from nsp_sandbox.cpu_lane import CpuLane
from nsp_sandbox.thread_names import NamedThread, name_os_thread

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="thread names at the OS are read from Linux's /proc")


def _os_name(native_id: int) -> str:
    return Path(f"/proc/self/task/{native_id}/comm").read_text().rstrip("\n")


def _named_in(thread: threading.Thread) -> str:
    seen: list[str] = []
    original = thread.run

    def run() -> None:
        original()
        seen.append(_os_name(threading.get_native_id()))

    thread.run = run  # type: ignore[method-assign]
    thread.start()
    thread.join(10)
    return seen[0]


def test_a_named_thread_is_shown_by_its_python_name() -> None:
    assert _named_in(NamedThread(target=lambda: None, name="dds-notifier")) == "dds-notifier"


def test_a_long_name_is_cut_to_what_the_kernel_keeps() -> None:
    assert _named_in(NamedThread(target=lambda: None, name="sqlite-checkpoints /tmp/x/sandbox.db")) == \
        "sqlite-checkpoi"


def test_a_name_is_never_cut_inside_a_character() -> None:
    name = "prøvesvar-xæææ"  # ø and æ are two bytes each: the 15th byte is the first half of the second æ
    assert _named_in(NamedThread(target=lambda: None, name=name)) == "prøvesvar-xæ"


def test_a_name_that_cannot_be_encoded_still_names_the_thread() -> None:
    assert _named_in(NamedThread(target=lambda: None, name="lane-\udc80")) == "lane-?"


def test_a_plain_thread_keeps_the_process_name_until_it_names_itself() -> None:
    before: list[str] = []
    after: list[str] = []

    def work() -> None:
        before.append(_os_name(threading.get_native_id()))
        assert name_os_thread()
        after.append(_os_name(threading.get_native_id()))

    thread = threading.Thread(target=work, name="worker-7")
    thread.start()
    thread.join(10)
    assert before[0] != "worker-7"
    assert after == ["worker-7"]


def test_the_cpu_lane_runs_on_a_thread_named_for_it() -> None:
    lane = CpuLane(name="cpu-lane")

    async def main() -> str:
        return await lane.run(lambda: _os_name(threading.get_native_id()))

    try:
        assert asyncio.run(main()) == "cpu-lane_0"
    finally:
        lane.close()
