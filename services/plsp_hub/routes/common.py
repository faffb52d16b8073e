"""What the hub's routers share: the documented error answers, the interface's tag and the calling
clinic (the organisation of the caller's ``gp-system`` token, looked up in the SOR register)."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from services.plsp_hub.access import Callers
from services.plsp_hub.nsp import HubNsp
from services.plsp_hub.state import Clinic

OUTCOME = {"description": "OperationOutcome: the element (expression) and the rule (details.coding)",
           "content": {"application/fhir+json": {}}}
ERRORS: dict[int | str, dict[str, Any]] = {401: OUTCOME, 403: OUTCOME, 404: OUTCOME, 422: OUTCOME, 503: OUTCOME}
LPS_TAG = ["LPS → PLSP interface"]


class ClinicOf:
    """The calling clinic of a request to the LPS interface (401/403 for any other caller)."""

    def __init__(self, callers: Callers, nsp: HubNsp) -> None:
        self._callers = callers
        self._nsp = nsp

    async def __call__(self, request: Request) -> Clinic:
        who = await self._callers.clinic(request)
        assert who.organisation_sor is not None
        return await self._nsp.clinic(who.organisation_sor)
