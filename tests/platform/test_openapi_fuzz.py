"""Schemathesis over every face of the sandbox (``tests/openapi_fuzz.py``), in process, on SQLite: every
operation of the merged ``/openapi.json`` with generated requests (bodies included, fitting the description
and not), each as a citizen, a professional, a system, the operator or nobody. No answer may be a server error
or differ from the description (status, media type, body shape). The default pass sends a few requests per
operation; the ``slow`` pass (CI) at least 50 per operation where the inputs allow that many
(figures in docs/benchmarks.md)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from openapi_fuzz import KINDS, fuzz

from nsp_sandbox.clock import Clock
from nsp_sandbox.config import Settings
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.database import Database


@pytest.fixture
def sandbox(settings_base: Settings, packages, tmp_path: Path) -> Iterator[FastAPI]:  # type: ignore[no-untyped-def]
    from sandbox.app import create_sandbox_app

    url = f"sqlite:///{tmp_path / 'fuzz.db'}"
    context = SandboxContext(settings_base.model_copy(update={"database_url": url}), Clock(), Database.from_url(url))
    context._packages = packages
    yield create_sandbox_app(context, warm_packages=False)
    context.database.engine.dispose()


def _assert_clean(app: FastAPI, examples: int) -> None:
    started = time.process_time()
    report = fuzz(app, examples)
    spent = time.process_time() - started
    print(f"\n{len(report.requests)} operations, {report.sent} requests, {spent:.0f} s CPU, "
          f"kinds {dict(report.kinds)}, statuses {dict(sorted(report.statuses.items()))}")
    assert set(report.kinds) == set(KINDS)
    assert len(report.requests) >= 100  # every face: the merged description lists them all
    assert report.findings == {}, "\n".join(f"{k}: {v}" for k, v in report.findings.items())


def test_every_face_answers_as_described(sandbox: FastAPI) -> None:
    _assert_clean(sandbox, examples=4)


@pytest.mark.slow
def test_every_face_answers_as_described_at_fifty_examples(sandbox: FastAPI) -> None:
    _assert_clean(sandbox, examples=50)
