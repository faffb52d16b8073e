"""The replay corpus:

* ``GET  /corpus``              the official examples, MedCom's receive-test material (protocol extras 1–4,
                                the invalid example 5, the test-script Bundles) and the faults, each with
                                its expected acknowledgement
* ``POST /corpus/run?receiver=`` send it to a GP system and compare the acknowledgements
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.outcome import FhirError, Issue
from services.eoj_sender import corpus_run
from services.eoj_sender.outbox import Outbox


def router(context: SandboxContext, outbox: Outbox) -> APIRouter:
    faces = APIRouter()

    @faces.get("/corpus")
    def corpus() -> list[dict[str, Any]]:
        return corpus_run.catalogue(context.packages)

    @faces.post("/corpus/run")
    async def run_corpus(receiver: str, case: str | None = None) -> list[dict[str, Any]]:
        """Send the replay corpus (or ``case``: one case's name, or ``examples``, ``protocol``, ``testscripts``
        or ``faults``) to ``receiver``."""
        known = corpus_run.runnable(context.packages)
        if case is not None and case not in known:
            raise FhirError(422, Issue("error", "value", f"No corpus case or group '{case}'; one of: "
                                       + ", ".join(known), expression="case", rule="eoj-corpus-case",
                                       source="sandbox EOJ replay corpus"))
        return await corpus_run.run(outbox, context.packages, receiver, case)

    return faces
