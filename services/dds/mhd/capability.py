"""The CapabilityStatement of the DDS MHD face: exactly the interactions and parameters served.

Built from the parameter tables of ITI-67 and ITI-66, so it cannot drift from what is implemented.
``rest.security`` declares how callers authenticate: an OAuth 2.0 bearer token (RFC 6750) issued by
NSP's STS, as ``services.dds.access`` verifies it (or, with access control off, that none is needed).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from nsp_sandbox import __version__
from nsp_sandbox import openapi_description as oa
from nsp_sandbox.fhir_http import FhirJSONResponse
from services.dds.mhd import iti66, iti67
from services.dds.mhd.deps import Deps
from services.dds.mhd.document_reference import fhir_instant
from services.dds.mhd.search import SearchParam

MHD_RESPONDER = "https://profiles.ihe.net/ITI/MHD/CapabilityStatement/IHE.MHD.DocumentResponder"
MHD_RECIPIENT = "https://profiles.ihe.net/ITI/MHD/CapabilityStatement/IHE.MHD.DocumentRecipient"
SECURITY_SERVICE = "http://terminology.hl7.org/CodeSystem/restful-security-service"


def _params(params: dict[str, SearchParam]) -> list[dict[str, Any]]:
    out = []
    for p in params.values():
        item: dict[str, Any] = {"name": p.name, "type": "token" if p.type == "special" else p.type,
                                "documentation": p.documentation}
        if p.definition:
            item["definition"] = p.definition
        out.append(item)
    return out


def security(nsp_base: str, access_control: bool) -> dict[str, Any]:
    """``rest.security``: the STS bearer token every interaction but ``metadata`` needs."""
    if not access_control:
        return {"cors": False, "description": (
            "Access control is switched off in this sandbox (NSP_SANDBOX_DDS_ACCESS_CONTROL=false): no token "
            "is needed, everything is open and nothing is written to Min Log.")}
    return {
        "cors": False,
        "service": [{"coding": [{"system": SECURITY_SERVICE, "code": "OAuth", "display": "OAuth"}],
                     "text": "OAuth 2.0 bearer token (RFC 6750) issued by NSP's STS"}],
        "description": (
            "Every interaction but GET metadata (and DELETE, always 405) needs 'Authorization: Bearer <token>'. "
            f"The token comes from NSP's STS: POST {nsp_base}/sts/token with {{\"persona\": <id>, "
            "\"audience\": \"dds\"}} (personas: GET " f"{nsp_base}/personas). It is a JWT signed ES256 by the "
            f"STS (keys: {nsp_base}/sts/jwks), issuer urn:nsp-sandbox:sts, audience urn:nsp-sandbox:dds, valid "
            "for 10 minutes on the sandbox clock; it models the DGWS ID card and HSUID header (user type, acting "
            "user, organisation by SOR, authorisation, role, the citizens a relative acts for). A system ID card "
            "(level 3) provides (ITI-65) and updates its own entries (ITI-92); a citizen (level 4) reads their "
            "own documents and those of citizens they act for; a health professional (level 4) reads with a "
            "treatment relation, subject to the citizen's blocks, which 'X-Consent-Override: <reason>' "
            "(værdispring; optionally 'X-Consent-Override-Criticality: <text>'; level 4 and an authorisation "
            "code) lifts for one call; an assistant acts for a professional (token claim 'responsible'). "
            "Missing, forged, expired or wrong-audience tokens: 401 with "
            "WWW-Authenticate: Bearer; not allowed: 403.")}


SUBSCRIPTION: dict[str, Any] = {
    "type": "Subscription",
    "profile": "http://hl7.org/fhir/StructureDefinition/Subscription",
    "documentation": (
        "IHE DSUBm Resource Notification Broker (docs/dds.md): a system with NSP's right dsubm-subscribe "
        "subscribes to DocumentReference events (the R4 Subscriptions Backport's topic and filter, or "
        "DocumentReference?patient.identifier=…), channel rest-hook, payload application/fhir+json; "
        "notifications are history Bundles. Each system sees and ends only its own subscriptions."),
    "interaction": [
        {"code": "create", "documentation": "ITI-110 Resource Subscription"},
        {"code": "read"},
        {"code": "delete", "documentation": "ends the subscription"},
    ],
    "conditionalDelete": "not-supported",
}


def capability_statement(fhir_base: str, published: datetime, nsp_base: str = "",
                         access_control: bool = True) -> dict[str, Any]:
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
                "ITI-92 RMU status update (PUT DocumentReference, status only). On-demand entries are "
                "registered without a document (attachment.url: the source's absolute http(s) URL, no hash, "
                "no size) and generated by their source at each retrieval. No entry is ever deleted: "
                "DELETE of a DocumentReference or List answers 405. Subscription: DSUBm (below)."
            ),
            "security": security(nsp_base, access_control),
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
                SUBSCRIPTION,
            ],
            "interaction": [{"code": "transaction", "documentation": "ITI-65 Provide Document Bundle"}],
        }],
    }


def router(deps: Deps) -> APIRouter:
    """``GET /fhir/metadata``: no token needed."""
    fhir = APIRouter(prefix="/fhir")

    @fhir.get("/metadata", response_class=FhirJSONResponse,
              responses=oa.answer("CapabilityStatement", {oa.FHIR_JSON: oa.fhir_resource("CapabilityStatement")}))
    def metadata(request: Request) -> Response:
        urls = deps.urls(request)
        return FhirJSONResponse(capability_statement(urls.fhir, deps.started, urls.nsp,
                                                     deps.context.settings.dds_access_control))

    return fhir
