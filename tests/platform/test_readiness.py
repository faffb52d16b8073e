"""Readiness settles once: ``settled`` (a served sandbox freezes its heap then) is called at the first
``ready`` or ``degraded``, never again."""

from __future__ import annotations

from sandbox.readiness import Readiness


def test_settled_is_called_once_at_the_first_outcome() -> None:
    calls: list[str] = []
    readiness = Readiness(settled=lambda: calls.append(readiness.status))
    readiness.seeding()
    assert calls == [] and not readiness.wait(0)
    readiness.degraded(["the demo data"])
    readiness.ready()
    readiness.ready()
    assert calls == ["degraded"] and readiness.status == "degraded" and readiness.wait(0)


def test_ready_without_settled_is_as_before() -> None:
    readiness = Readiness()
    readiness.ready()
    assert readiness.status == "ready" and readiness.wait(0)
