"""Treatment relations through the control face: ``POST /sandbox/nsp/brs/relations``.

The operator sets up a scenario's relations (BRS, ``services.nsp.brs``) for any professional, as a
register would: the same body and answer as ``POST /nsp/brs/relations``, which only systems with the
right ``brs-register`` may use, for their own staff. Operator only (``sandbox.control.guard``);
audited with one log line (logger ``sandbox.control.audit``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from nsp_sandbox import openapi_description as oa
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.fhir_http import read_json_object
from services.nsp.bodies import RelationBody, parse
from services.nsp.brs import TreatmentRelations
from services.nsp.models import NspBase
from services.nsp.world import shipped_world

audit = logging.getLogger("sandbox.control.audit")


def router(context: SandboxContext, operator: Callable[[Request], None]) -> APIRouter:
    """``POST /nsp/brs/relations`` (under ``/sandbox``), for the operator only."""
    api = APIRouter(prefix="/nsp", tags=["nsp"], dependencies=[Depends(operator)])
    context.database.create_tables(NspBase.metadata)
    relations = TreatmentRelations(context.database, shipped_world())

    @api.post("/brs/relations", status_code=201, responses=oa.errors(404, 413, 422, 502), openapi_extra=oa.json_body(
        {"type": "object", "required": ["professional", "cpr"]}, "The treatment relation"))
    async def add_relation(request: Request) -> dict[str, Any]:
        body = parse(RelationBody, await read_json_object(request, context.settings.max_body_bytes))
        operator_kind = "token" if context.settings.admin_token else "loopback"
        added = await run_in_threadpool(relations.add, body, f"sandbox-operator ({operator_kind})",
                                        context.clock.now())
        audit.warning("BRS treatment relation added by the operator (%s): %s ↔ %s, %s – %s", operator_kind,
                      added["authorisation"], added["cpr"], added["valid_from"], added["valid_to"] or "open")
        return added

    return api
