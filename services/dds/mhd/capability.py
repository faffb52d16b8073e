"""The CapabilityStatement of the DDS MHD face: exactly the interactions and parameters served.

Built from the parameter tables of ITI-67 and ITI-66, so it cannot drift from what is implemented.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from nsp_sandbox import __version__
from services.dds.mhd import iti66, iti67
from services.dds.mhd.document_reference import fhir_instant
from services.dds.mhd.search import SearchParam

MHD_RESPONDER = "https://profiles.ihe.net/ITI/MHD/CapabilityStatement/IHE.MHD.DocumentResponder"
MHD_RECIPIENT = "https://profiles.ihe.net/ITI/MHD/CapabilityStatement/IHE.MHD.DocumentRecipient"


def _params(params: dict[str, SearchParam]) -> list[dict[str, Any]]:
    out = []
    for p in params.values():
        item: dict[str, Any] = {"name": p.name, "type": "token" if p.type == "special" else p.type,
                                "documentation": p.documentation}
        if p.definition:
            item["definition"] = p.definition
        out.append(item)
    return out


def capability_statement(fhir_base: str, published: datetime) -> dict[str, Any]:
    return {
        "resourceType": "CapabilityStatement",
        "id": "dds-mhd",
        "url": f"{fhir_base}/metadata",
        "name": "DdsMhdDocumentRecipientResponder",
        "title": "DDS (DokumentDelingsServicen) sandbox — IHE MHD Document Recipient and Responder",
        "status": "active",
        "experimental": True,
        "date": fhir_instant(published),
        "publisher": "nsp-sandbox",
        "kind": "instance",
        "instantiates": [MHD_RECIPIENT, MHD_RESPONDER],
        "software": {"name": "nsp-sandbox DDS", "version": __version__},
        "implementation": {"description": "Danish national document registry and repository (sandbox)",
                           "url": fhir_base},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json"],
        "rest": [{
            "mode": "server",
            "documentation": (
                "ITI-65 Provide Document Bundle (transaction), ITI-66 Find Document Lists, ITI-67 Find "
                "Document References, ITI-68 Retrieve Document (DocumentReference.content.attachment.url), "
                "ITI-92 RMU status update (PUT DocumentReference, status only). Nothing is ever deleted: "
                "DELETE answers 405."
            ),
            "resource": [
                {
                    "type": "DocumentReference",
                    "profile": "http://hl7.org/fhir/StructureDefinition/DocumentReference",
                    "supportedProfile": [
                        "http://medcomfhir.dk/ig/xdsdocuments/StructureDefinition/homecare-observation-documentreference",
                    ],
                    "interaction": [
                        {"code": "read"},
                        {"code": "update", "documentation": "ITI-92: only status current → superseded | "
                                                            "entered-in-error"},
                        {"code": "search-type", "documentation": "ITI-67 (GET, and POST _search)"},
                    ],
                    "versioning": "versioned-update",
                    "readHistory": False,
                    "updateCreate": False,
                    "conditionalCreate": False,
                    "conditionalUpdate": False,
                    "conditionalDelete": "not-supported",
                    "searchParam": _params(iti67.PARAMETERS),
                },
                {
                    "type": "List",
                    "profile": "http://hl7.org/fhir/StructureDefinition/List",
                    "interaction": [
                        {"code": "read"},
                        {"code": "search-type", "documentation": "ITI-66 (GET, and POST _search)"},
                    ],
                    "conditionalDelete": "not-supported",
                    "searchParam": _params(iti66.PARAMETERS),
                },
            ],
            "interaction": [{"code": "transaction", "documentation": "ITI-65 Provide Document Bundle"}],
        }],
    }
