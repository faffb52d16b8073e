"""A conformance run in the background of the serving process: accepted (written to the store) at once,
then its cases run in order as an asyncio task (:func:`sandbox.runs.suite.run_suite`), each result and
each instruction for the participant written as it comes, a heartbeat kept, and the verdict at the end.

The run passes when no case failed (skipped cases do not fail it). A run cut short — the sandbox stopping,
an error outside any case — is failed and says why.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.concurrency import run_in_threadpool

from nsp_sandbox.context import SandboxContext
from sandbox.runs.store import HEARTBEAT_SECONDS, NewRun, RunStore, carried_here
from sandbox.runs.suite import CaseResult, Suite, run_suite

log = logging.getLogger(__name__)
_TASKS: set[asyncio.Task[None]] = set()  # a strong reference to each run's task while it goes


async def start(context: SandboxContext, store: RunStore, suite: Suite, target: str, options: dict[str, Any],
                only: list[str] | None) -> str:
    """Accept a run (it is in the store, carried by this process, when this returns) and start it; its id. If
    this coroutine is cancelled before the task starts, the run is found gone once its heartbeat is stale."""
    chosen = [c for c in suite.cases if only is None or c.name in only]
    new = NewRun(suite.name, suite.title, suite.target_kind, target, options, [(c.name, c.title) for c in chosen])
    run_id = await run_in_threadpool(store.create, new, carried=True)
    task = asyncio.get_running_loop().create_task(
        execute(context, store, run_id, suite, target, options, None if only is None else set(only)),
        name=f"conformance-run-{run_id}")
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)
    return run_id


async def execute(context: SandboxContext, store: RunStore, run_id: str, suite: Suite, target: str,
                  options: dict[str, Any], only: set[str] | None) -> None:
    """Run the suite, writing to ``store`` as it goes (:func:`start` has said this process carries it); never
    raises but to be cancelled."""
    beating = asyncio.get_running_loop().create_task(_heartbeat(store, run_id))
    position = 0

    def on_result(result: CaseResult) -> None:
        nonlocal position
        store.add_result(run_id, position, result.to_json())
        position += 1

    def on_instruction(case: str, text: str) -> None:
        store.add_instruction(run_id, case, text)

    try:
        results = await run_suite(context, suite, target, options, on_result=on_result,
                                  on_instruction=on_instruction, only=only)
        failed = [r.name for r in results if r.status == "failed"]
        message = f"Failed: {', '.join(failed)}" if failed else ""
        await run_in_threadpool(store.finish, run_id, "failed" if failed else "passed", message)
    except asyncio.CancelledError:
        store.finish(run_id, "failed", "The run stopped unfinished: the sandbox stopped while it was going.")
        raise
    except Exception as exc:  # the run's own machinery failed (e.g. the database): say so in the run
        log.exception("conformance run %s could not go on", run_id)
        store.finish(run_id, "failed", f"The run could not go on: {type(exc).__name__}: {exc}")
    finally:
        beating.cancel()
        carried_here(run_id, False)


async def _heartbeat(store: RunStore, run_id: str) -> None:
    while True:
        await asyncio.sleep(HEARTBEAT_SECONDS)
        try:
            await run_in_threadpool(store.beat, run_id)
        except Exception:  # a missed beat is not the run's end; the next one may pass
            log.warning("conformance run %s: heartbeat not written", run_id, exc_info=True)
