"""The viewer's JSON API for CI users, with the same bearer tokens as DDS (from NSP's STS):

* ``GET /api/citizens/{cpr}/observations``  HCO results per analysis, message chains, cancelled ones
* ``GET /api/citizens/{cpr}/conditions``    diagnosis overviews (ConditionList)
* ``GET /api/citizens/{cpr}/notes``         journal notes, newest first
* ``GET /api/minlog[?cpr=]``                Min Log of the token's citizen (or one they act for)

The token (and ``X-Consent-Override`` for værdispring) is passed on to DDS, which decides what is
shown; its refusals come back with its status and OperationOutcome. Invalid documents are listed
under ``invalid`` with the reasons, never half-read.
"""

from __future__ import annotations

from typing import Any

import jwt
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from nsp_sandbox.cpr import cpr_problem
from nsp_sandbox.outcome import FhirError, Issue
from nsp_sandbox.tokens import bearer_token
from services.sundhed_view.dds import OVERRIDE_HEADER, Reader, Refused
from services.sundhed_view.nsp import Nsp
from services.sundhed_view.views import Views

FHIR_JSON = "application/fhir+json"


def _reader(request: Request) -> Reader:
    """The caller's token as it is (DDS verifies it); the own CPR read from it only decides whether
    documents already read may be reused (an unverifiable token never gets that far: ITI-67 refuses it)."""
    token = bearer_token(request.headers.get("authorization"))
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        claims = {}
    own = claims.get("acting_cpr") if claims.get("user_type") == "nsi:Citizen" else None
    return Reader(token, request.headers.get(OVERRIDE_HEADER), own if isinstance(own, str) else None)


def refused_response(refused: Refused) -> JSONResponse:
    outcome = refused.outcome or {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "exception", "diagnostics": refused.text}]}
    return JSONResponse(outcome, status_code=refused.status, media_type=FHIR_JSON)


def _check_cpr(cpr: str) -> None:
    problem = cpr_problem(cpr)
    if problem:
        raise FhirError(400, Issue("error", "value", problem, expression="cpr", rule="view-cpr"))


def router(views: Views, nsp: Nsp) -> APIRouter:
    api = APIRouter(prefix="/api")

    async def citizen_view(cpr: str, request: Request, load: Any) -> Any:
        """One kind of the citizen's documents as JSON, read with the caller's own token."""
        _check_cpr(cpr)
        reader = _reader(request)
        try:
            view, warnings = await load(reader, cpr)
        except Refused as refused:
            return refused_response(refused)
        return {"cpr": cpr, "consent_override": reader.override is not None, "warnings": warnings, **view.to_json()}

    @api.get("/citizens/{cpr}/observations")
    async def observations(cpr: str, request: Request) -> Any:
        return await citizen_view(cpr, request, views.observations)

    @api.get("/citizens/{cpr}/conditions")
    async def condition_lists(cpr: str, request: Request) -> Any:
        return await citizen_view(cpr, request, views.conditions)

    @api.get("/citizens/{cpr}/notes")
    async def journal_notes(cpr: str, request: Request) -> Any:
        return await citizen_view(cpr, request, views.notes)

    @api.get("/minlog")
    async def minlog(request: Request, cpr: str | None = None) -> Any:
        reader = _reader(request)
        try:
            return {"entries": await nsp.minlog(reader.token, cpr)}
        except Refused as refused:
            return refused_response(refused)

    return api
