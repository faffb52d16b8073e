"""Schemathesis over every face of the sandbox (``tests/openapi_fuzz.py``), in process, on SQLite: every
operation of the merged ``/openapi.json`` with generated requests (bodies included, fitting the description
and not), each as a citizen, a professional, a system, the operator or nobody. No answer may be a server error
or differ from the description (status, media type, body shape). The default pass sends a few requests per
operation; the ``slow`` pass (CI) at least 50 per operation where the inputs allow that many, one test per
face (``SHARDS``: each actor's mount and the control face), so parallel workers share
it (figures in docs/benchmarks.md). A run that selects every face of the slow pass leaves the default pass
out: it sends fewer requests of the same kinds to the same operations."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from openapi_fuzz import KINDS, fuzz, operations, shard_of

from nsp_sandbox.clock import Clock
from nsp_sandbox.config import Settings
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.database import Database
from sandbox.actors import ACTORS

# The slow pass's shards: each actor's mount and the control face.
SHARDS = (*(actor.prefix for actor in ACTORS), "/sandbox")


@pytest.fixture
def sandbox(settings_base: Settings, packages, tmp_path: Path) -> Iterator[FastAPI]:  # type: ignore[no-untyped-def]
    from sandbox.app import create_sandbox_app

    url = f"sqlite:///{tmp_path / 'fuzz.db'}"
    context = SandboxContext(settings_base.model_copy(update={"database_url": url}), Clock(), Database.from_url(url))
    context._packages = packages
    yield create_sandbox_app(context, warm_packages=False)
    context.database.engine.dispose()


def _assert_clean(app: FastAPI, examples: int, shard: str | None = None) -> int:
    """Fuzz ``app`` (the operations of ``shard`` only, when given); answers how many operations were sent."""
    started = time.process_time()
    report = fuzz(app, examples, select=None if shard is None else lambda path: shard_of(path, SHARDS) == shard)
    spent = time.process_time() - started
    print(f"\n{len(report.requests)} operations, {report.sent} requests, {spent:.0f} s CPU, "
          f"kinds {dict(report.kinds)}, statuses {dict(sorted(report.statuses.items()))}")
    assert set(report.kinds) == set(KINDS)
    assert report.findings == {}, "\n".join(f"{k}: {v}" for k, v in report.findings.items())
    return len(report.requests)


def test_every_face_answers_as_described(sandbox: FastAPI) -> None:
    assert _assert_clean(sandbox, examples=4) >= 100  # every face: the merged description lists them all


def test_the_slow_passes_shards_cover_every_operation(sandbox: FastAPI) -> None:
    """Each operation of the merged description is in one shard ("/": under none), and no shard is empty: the
    slow pass's tests together fuzz every operation, as the default pass does."""
    counted = dict.fromkeys((*SHARDS, "/"), 0)
    for operation in operations(sandbox):
        counted[shard_of(operation.path, SHARDS)] += 1
    assert sum(counted.values()) >= 100
    assert counted.pop("/") == 0, "operations outside every shard: add their mount to SHARDS"
    assert all(counted.values()), counted


@pytest.mark.slow
@pytest.mark.parametrize("shard", SHARDS)
def test_every_face_answers_as_described_at_fifty_examples(sandbox: FastAPI, shard: str) -> None:
    assert _assert_clean(sandbox, examples=50, shard=shard) > 0
