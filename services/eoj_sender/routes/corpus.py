"""The replay corpus:

* ``GET  /corpus``              the official examples, MedCom's receive-test material (protocol extras 1–4,
                                the invalid example 5, the test-script Bundles) and the faults, each with
                                its expected acknowledgement
* ``POST /corpus/run?receiver=`` send it to a GP system and compare the acknowledgements; ``format``
                                ``json`` (default), ``xml`` or ``both``; a case name may end in ``:xml`` or
                                ``:json`` (every case exists in both: the XML is the JSON case converted when
                                it is sent)
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from nsp_sandbox import openapi_description as oa
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.outcome import FhirError, Issue
from services.eoj_sender import corpus_run
from services.eoj_sender.outbox import Outbox


def router(context: SandboxContext, outbox: Outbox) -> APIRouter:
    faces = APIRouter()

    @faces.get("/corpus")
    def corpus() -> list[dict[str, Any]]:
        return corpus_run.catalogue(context.packages)

    @faces.post("/corpus/run", responses=oa.errors(422))
    async def run_corpus(receiver: str, case: str | None = None, format: str = "json") -> list[dict[str, Any]]:
        """Send the replay corpus (or ``case``: one case's name, or ``examples``, ``protocol``, ``testscripts``
        or ``faults``, optionally ending in ``:xml`` / ``:json``) to ``receiver``, in ``format`` (``json``,
        ``xml`` or ``both``)."""
        if format not in corpus_run.RUN_FORMATS:
            raise FhirError(422, Issue("error", "value", f"No corpus format '{format[:40]}'; one of: "
                                       + ", ".join(corpus_run.RUN_FORMATS), expression="format",
                                       rule="eoj-corpus-format", source="sandbox EOJ replay corpus"))
        name, formats = corpus_run.split_case(case, format)
        known = corpus_run.runnable(context.packages)
        if name is not None and name not in known:
            raise FhirError(422, Issue("error", "value", f"No corpus case or group '{case}'; one of: "
                                       + ", ".join(known) + " (each may end in :xml or :json)", expression="case",
                                       rule="eoj-corpus-case", source="sandbox EOJ replay corpus"))
        return await corpus_run.run(outbox, context.packages, receiver, name, formats)

    return faces
