"""A run as JSON (``GET /sandbox/runs/{id}``, and what the JUnit and HTML reports are built from).

``cases`` holds only finished cases (``passed`` | ``failed`` | ``skipped``, with message, instructions,
notes and evidence); the cases not run yet — or never, when the run stopped early — are named in
``pending``. While a case waits for the participant, ``next_instruction`` is what they must do now.
"""

from __future__ import annotations

from typing import Any

from sandbox.runs.store import Run


def counts(run: Run) -> dict[str, int]:
    done = run.statuses
    return {"total": len(run.planned), "passed": done.count("passed"), "failed": done.count("failed"),
            "skipped": done.count("skipped"), "pending": max(len(run.planned) - len(done), 0)}


def _pending(run: Run) -> list[dict[str, str]]:
    """The cases not finished: the cases run in the planned order, so those after the finished ones."""
    return [{"name": n, "title": t} for n, t in run.planned[len(run.statuses):]]


def _next_instruction(run: Run, pending: list[dict[str, str]]) -> dict[str, str] | None:
    """The newest instruction, while the case that gave it (or the suite's setup, before any case) still goes."""
    if run.status != "running" or not run.instructions or not pending:
        return None
    last = run.instructions[-1]
    going = {pending[0]["name"]} if run.statuses else {pending[0]["name"], "setup"}
    return last if last["case"] in going else None


def summary_json(run: Run) -> dict[str, Any]:
    """What ``GET /sandbox/runs`` lists of each run."""
    return {"id": run.id, "suite": run.suite, "title": run.title, "target_kind": run.target_kind,
            "target": run.target, "status": run.status, "message": run.message, "started": run.started,
            "finished": run.finished, "counts": counts(run), "links": links(run.id)}


def run_json(run: Run) -> dict[str, Any]:
    """The whole run: its summary, every finished case with its evidence, what is pending, the instructions."""
    pending = _pending(run)
    return {**summary_json(run), "options": run.options, "owner": run.owner, "cases": run.cases,
            "pending": pending, "running": pending[0]["name"] if pending and run.status == "running" else None,
            "instructions": run.instructions, "next_instruction": _next_instruction(run, pending)}


def links(run_id: str) -> dict[str, str]:
    base = f"/sandbox/runs/{run_id}"
    return {"self": base, "report.html": f"{base}/report.html", "junit.xml": f"{base}/junit.xml"}
