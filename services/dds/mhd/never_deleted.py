"""``DELETE`` on the FHIR base: always 405, shared documents are never deleted (IHE ITI TF-3 4.2.2).

``Allow`` names what the path does serve (``nsp_sandbox.allowed_methods``), e.g. ``GET, HEAD, PUT`` for a
DocumentReference.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from nsp_sandbox import openapi_description as oa
from nsp_sandbox.allowed_methods import allowed_methods, refuses
from nsp_sandbox.outcome import FhirError, Issue
from services.dds.lifecycle import NEVER_DELETED


def router() -> APIRouter:
    """``DELETE /fhir`` and ``DELETE /fhir/{anything}``."""
    fhir = APIRouter(prefix="/fhir")

    @fhir.delete("", response_class=Response, responses=oa.errors(405))
    @fhir.delete("/{path:path}", response_class=Response, responses=oa.errors(405))
    @refuses
    def delete(request: Request, path: str = "") -> Response:
        raise FhirError(405, Issue("error", "not-supported", NEVER_DELETED, rule="dds-never-delete",
                                   source="DESIGN: nothing shared is ever deleted; IHE ITI TF-3 4.2.2"),
                        headers={"Allow": allowed_methods(request)})

    return fhir
