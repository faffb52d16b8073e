"""``DELETE`` on the FHIR base: always 405, shared documents are never deleted (IHE ITI TF-3 4.2.2).

``Allow`` names what the path does serve: ``GET, PUT`` for a DocumentReference, else ``GET, POST``.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from nsp_sandbox.outcome import FhirError, Issue
from services.dds.lifecycle import NEVER_DELETED


def router() -> APIRouter:
    """``DELETE /fhir`` and ``DELETE /fhir/{anything}``."""
    fhir = APIRouter(prefix="/fhir")

    @fhir.delete("")
    @fhir.delete("/{path:path}")
    def delete(path: str = "") -> Response:
        raise FhirError(405, Issue("error", "not-supported", NEVER_DELETED, rule="dds-never-delete",
                                   source="DESIGN: nothing shared is ever deleted; IHE ITI TF-3 4.2.2"),
                        headers={"Allow": "GET, PUT" if path.startswith("DocumentReference/") else "GET, POST"})

    return fhir
