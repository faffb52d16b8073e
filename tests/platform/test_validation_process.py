"""The validation process's wire and life (``nsp_sandbox.validation_process``): answers in order, a failed job
said as such, no answer used from packages other than the sandbox's, the cores it is given, and its end."""

from __future__ import annotations

import io
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from servers import validation_process_ready

from nsp_sandbox.config import Settings
from nsp_sandbox.validation_process import JobFailed, ValidationProcess, read_frame, write_frame
from services.dds.validation_ahead import job

JOB = "services.dds.validation_ahead:provide_findings"


def _process(settings: Settings, fingerprint: tuple[str, ...], cores: frozenset[int] = frozenset()
             ) -> ValidationProcess:
    process = ValidationProcess(settings.package_sources(), settings.fhir_package_cache, cores=cores,
                                fingerprint=lambda: fingerprint)
    process.start()
    return process


def test_frames_round_trip_and_a_cut_frame_ends_the_stream() -> None:
    stream = io.BytesIO()
    write_frame(stream, b"first")
    write_frame(stream, b"")
    whole = stream.getvalue()
    reader = io.BytesIO(whole + whole[:6])
    assert read_frame(reader) == b"first"
    assert read_frame(reader) == b""
    assert read_frame(reader) is None  # the third is cut short


def test_answers_come_in_order_and_a_failed_job_says_why(settings_base: Settings, packages) -> None:  # type: ignore[no-untyped-def]
    process = validation_process_ready(_process(settings_base, packages.fingerprint))
    try:
        empty = b'{"resourceType": "Bundle", "type": "transaction", "entry": []}'
        now = datetime.now(UTC)
        futures = [process.submit(JOB, *job(settings_base, now, body)) for body in (empty, b"{not json", empty)]
        assert all(f is not None for f in futures)
        first, failed, last = (f.result(timeout=30) if i != 1 else f for i, f in enumerate(futures))  # type: ignore[union-attr]
        assert first.structures == {} and first.documents == {} and first.rules == {} and last.structures == {}
        with pytest.raises(JobFailed, match="JsonRefused"):
            failed.result(timeout=30)  # type: ignore[union-attr]
    finally:
        process.close()
    assert process.submit(JOB, b"{}") is None  # closed


def test_a_job_is_given_only_while_it_fits_in_the_pipe_beside_those_not_answered(
        settings_base: Settings, packages) -> None:  # type: ignore[no-untyped-def]
    """The sandbox writes from its event loop: a write that could wait for the child is not made."""
    process = validation_process_ready(_process(settings_base, packages.fingerprint))
    try:
        now = datetime.now(UTC)
        huge = b" " * (2 * 1024 * 1024)  # more than any pipe holds
        assert process.submit(JOB, *job(settings_base, now, huge)) is None
        body = b'{"resourceType": "Bundle", "type": "transaction", "entry": []}' + b" " * 200_000
        given = [process.submit(JOB, *job(settings_base, now, body)) for _ in range(20)]
        assert given[0] is not None and None in given  # 1 MiB holds five such jobs, not twenty
        for future in (f for f in given if f is not None):
            assert future.result(timeout=30).structures == {}
        assert process.submit(JOB, *job(settings_base, now, body)) is not None  # answered: room again
    finally:
        process.close()


def test_no_job_goes_to_a_process_with_other_packages(settings_base: Settings) -> None:
    process = _process(settings_base, ("some.other#1.0.0",))
    try:
        deadline = time.monotonic() + 60
        while process.pid is None or not (Path(f"/proc/{process.pid}").exists()):
            assert time.monotonic() < deadline
        time.sleep(1.0)
        assert not process.ready
        assert process.submit(JOB, b"{}") is None
    finally:
        process.close()


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs two cores")
def test_the_process_keeps_to_the_cores_it_is_given(settings_base: Settings, packages) -> None:  # type: ignore[no-untyped-def]
    core = max(os.sched_getaffinity(0))
    process = validation_process_ready(_process(settings_base, packages.fingerprint, frozenset({core})))
    try:
        assert process.pid is not None
        assert os.sched_getaffinity(process.pid) == {core}
    finally:
        process.close()


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs two cores")
@pytest.mark.parametrize("wanted", [True, False])
def test_up_validates_beside_its_core_and_the_process_ends_with_it(
        wanted: bool, fhir_packages_dir: Path, tmp_path: Path) -> None:
    import re

    from servers import up_ready

    proc, ready = up_ready(fhir_packages_dir, tmp_path, NSP_SANDBOX_VALIDATION_PROCESS=str(wanted).lower())
    try:
        children = _children(proc.pid)
        placed = {child: (os.sched_getaffinity(child), os.sched_getscheduler(child)) for child in children}
    finally:
        proc.kill()  # no shutdown: the process must see its input end and go
        proc.communicate(timeout=30)
    core = re.search(r"on CPU core (\d+)", ready)
    assert core is not None, ready
    if not wanted:
        assert children == [] and "validations" not in ready, (children, ready)
        return
    beside = re.search(r"validations beside it on core ([\d,]+)", ready)
    assert beside is not None, ready
    cores = {int(c) for c in beside.group(1).split(",")}
    assert cores == os.sched_getaffinity(0) - {int(core.group(1))}
    assert list(placed.values()) == [(cores, os.SCHED_OTHER)], placed
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{child}").exists() and "zombie" not in _state(child) for child in children):
        assert time.monotonic() < deadline, "the validation process outlived the sandbox"
        time.sleep(0.05)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:", 1)[1].split("\n", 1)[0]
    except (OSError, IndexError):
        return "zombie"
