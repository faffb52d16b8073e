"""``POST /sandbox/reset``: every actor's data emptied without a restart (docs/control.md).

The control face calls each actor's own ``POST /{actor}/sandbox/reset`` over HTTP (DDS: documents;
NSP: blocks, added treatment relations, Min Log, loaded world files — its signing keys stay; PLSP:
cards, notes, events; EOJ: messages and acknowledgements, the endpoint register seeded again; GP
system: received messages, acknowledgements, its behaviour switches and return addresses;
Sundhed.dk: page-view statistics) and forgets the ``hco_version`` it kept for registered receivers.
What comes back is the sandbox as at its first start without demo data: the shipped world and the
seeded endpoint register. The sandbox clock and the fault switches are left as they are (``DELETE
/sandbox/clock``, ``DELETE /sandbox/faults``). An actor not in this sandbox is reported as absent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.outcome import FhirError, Issue
from sandbox.control.actor_calls import call
from sandbox.control.endpoints import Versions

RESET_ACTORS = ("dds", "nsp", "plsp", "eoj", "lps", "view")
SOURCE = "nsp-sandbox control face: reset (docs/control.md)"


def router(context: SandboxContext, operator: Callable[[Request], None]) -> APIRouter:
    api = APIRouter(tags=["reset"], dependencies=[Depends(operator)])
    versions = Versions(context.database)

    @api.post("/reset")
    async def reset() -> dict[str, Any]:
        actors: dict[str, Any] = {}
        failed = []
        for actor in RESET_ACTORS:
            try:
                answer = await call(context, actor, "POST", "/sandbox/reset")
            except FhirError:
                actors[actor] = {"absent": True}
                continue
            if answer.status_code == 404:
                actors[actor] = {"absent": True}
            elif answer.status_code != 200:
                failed.append(actor)
                actors[actor] = {"status": answer.status_code, "answer": answer.text[:500]}
            else:
                actors[actor] = answer.json()
        await run_in_threadpool(versions.clear)
        if failed:
            raise FhirError(502, Issue("error", "transient", f"Not reset: {', '.join(failed)} ({actors})"[:1000],
                                       rule="sandbox-reset", source=SOURCE))
        return {"reset": [a for a in RESET_ACTORS if not actors[a].get("absent")], "actors": actors,
                "clock": "unchanged", "faults": "unchanged"}

    return api
