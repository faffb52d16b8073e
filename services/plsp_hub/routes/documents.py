"""``POST /documents``: a ready-made ConditionList or Notes document Bundle (``application/fhir+json``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from nsp_sandbox.fhir_http import read_fhir_json
from services.plsp_hub.interface import DocumentOut
from services.plsp_hub.ready_made import ReadyMade
from services.plsp_hub.routes.common import ERRORS, LPS_TAG, ClinicOf


def router(ready_made: ReadyMade, clinic_of: ClinicOf, max_body_bytes: int) -> APIRouter:
    api = APIRouter()

    @api.post("/documents", response_model=DocumentOut, tags=LPS_TAG, responses=ERRORS,
              summary="Submit a ready-made ConditionList or Notes document Bundle",
              openapi_extra={"requestBody": {"required": True, "content": {"application/fhir+json": {
                  "schema": {"type": "object", "description": "a MedCom ConditionList 1.0.1 or Notes 1.0.0 "
                             "document Bundle"}}}}})
    async def submit_document(request: Request) -> dict[str, Any]:
        """Validated against its profile (errors → 422 with their paths), then taken as the clinic's new card or
        note version. The document's author institution must be the calling clinic; the patient's name comes
        from the CPR register. A ConditionList counts as approved when it carries an official attester."""
        clinic = await clinic_of(request)
        bundle, _ = await read_fhir_json(request, max_body_bytes)
        return await ready_made.submit_document(clinic, bundle)

    return api
