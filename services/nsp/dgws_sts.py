"""NSP's STS issuing DGWS 1.0.1 ID cards (dds-nsp.md §1.3), mounted under ``/nsp``:

* ``POST /sts/services/NewSecurityTokenService``  WS-Trust: a RequestSecurityToken whose card the
  caller signed with its certificate → a RequestSecurityTokenResponse with the card signed by the
  sandbox STS; DGWS SOAP faults (HTTP 500) on errors
* ``POST /sts/idcard``       ``{"persona": "<id>"}`` → the signed ID card as ``application/xml``
* ``GET  /sts/certificate``  the sandbox STS's certificate (PEM) that DDS trusts ID cards by

A request must be signed by a client certificate from ``NSP_SANDBOX_STS_CLIENT_CERTS`` (unset: any
self-signed test certificate). Client certificates only ever sign requests; cards are signed with
the STS's own key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from fastapi import APIRouter, Request, Response
from lxml import etree
from starlette.concurrency import run_in_threadpool

from nsp_sandbox import openapi_description
from nsp_sandbox.clock import Clock
from nsp_sandbox.database import Database
from nsp_sandbox.dgws.certificates import TrustList, describe, is_self_signed
from nsp_sandbox.dgws.faults import DgwsFault, fault_response
from nsp_sandbox.dgws.idcard import build_idcard, parse_idcard
from nsp_sandbox.dgws.keys import KeyPair
from nsp_sandbox.dgws.security import parse_envelope
from nsp_sandbox.dgws.settings import DgwsSettings, dgws_settings
from nsp_sandbox.dgws.signing import key_info_certificate, sign_enveloped, verify_enveloped
from nsp_sandbox.dgws.wstrust import build_response, parse_request
from nsp_sandbox.fhir_http import read_body, read_json_object
from nsp_sandbox.outcome import FhirError, Issue
from services.nsp import dgws_cards, dgws_keys
from services.nsp.personas import Persona
from services.nsp.world import World

MAX_BODY = 256 * 1024
SOURCE = "NSP STS (DGWS 1.0.1 ID card)"
XML = "application/xml"


@dataclass
class DgwsStsDeps:
    """What the ID-card STS needs from NSP: its database (for the key), the sandbox clock, the
    world and the current personas."""

    database: Database
    clock: Clock
    world: World
    personas: Callable[[], list[Persona]]
    settings: DgwsSettings = field(default_factory=dgws_settings)


def client_certificate_problem(certificate: x509.Certificate, accepted: TrustList | None) -> str | None:
    """Why the STS refuses a request signed with ``certificate``, or ``None``."""
    if accepted is None:
        return None if is_self_signed(certificate) else \
            f"{describe(certificate)} is not self-signed (NSP_SANDBOX_STS_CLIENT_CERTS is unset)"
    return None if certificate in accepted else \
        f"{describe(certificate)} is not among NSP_SANDBOX_STS_CLIENT_CERTS"


def sign_card(key: KeyPair, element: etree._Element) -> etree._Element:
    return sign_enveloped(element, key.key, key.certificate)


def issue_from_request(deps: DgwsStsDeps, key: KeyPair, body: bytes, now: datetime) -> bytes:
    """The RequestSecurityTokenResponse for a WS-Trust request ``body`` (a :class:`DgwsFault` when refused)."""
    requested, trust_ns = parse_request(parse_envelope(body))
    holder = key_info_certificate(requested)
    problem = client_certificate_problem(holder, deps.settings.sts_client_certs)
    if problem:
        raise DgwsFault("invalid_certificate", problem, "wst:Claims/saml:Assertion/ds:Signature/ds:KeyInfo")
    signed, _ = verify_enveloped(requested, TrustList((holder,)), now, what="client certificate")
    card = parse_idcard(signed)
    persona = dgws_cards.persona_for_request(card, deps.personas(), deps.world)
    if problem := dgws_cards.registered_certificate_problem(persona, deps.world, holder):
        raise DgwsFault("invalid_certificate", problem, "wst:Claims/saml:Assertion/ds:Signature/ds:KeyInfo")
    issued = dgws_cards.card_for(persona, deps.world, now, holder, card.it_system_name)
    return build_response(sign_card(key, build_idcard(issued)), dgws_cards.ISSUER, issued.not_before,
                          issued.not_on_or_after, trust_ns)


def router(deps: DgwsStsDeps) -> APIRouter:
    """The ID-card STS faces (the signing key is made at its first use if missing)."""
    key = dgws_keys.StsKey(deps.database, deps.clock.now)
    routes = APIRouter()

    @routes.get("/sts/certificate", response_class=Response, responses=openapi_description.answer(
        "The STS's signing certificate (PEM)", {"application/x-pem-file": {"type": "string"}}))
    def certificate() -> Response:
        return Response(key.pair().certificate_pem(), media_type="application/x-pem-file")

    @routes.post("/sts/idcard", response_class=Response, responses={
        **openapi_description.answer("A signed DGWS ID card (SAML assertion)", {XML: {"type": "string"}}),
        **openapi_description.errors(403, 404, 413)},
        openapi_extra=openapi_description.body({"application/json": {
            "type": "object", "required": ["persona"], "properties": {"persona": {"type": "string"}}}}))
    async def idcard(request: Request) -> Response:
        body = await read_json_object(request, MAX_BODY)
        persona_id = body.get("persona")
        if not isinstance(persona_id, str):
            raise FhirError(400, Issue("error", "required", "Send {\"persona\": \"<id>\"}", expression="persona",
                                       rule="sts-persona", source=SOURCE))
        persona = next((p for p in deps.personas() if p.id == persona_id), None)
        if persona is None:
            raise FhirError(404, Issue("error", "not-found", f"No persona '{persona_id}' (see GET /nsp/personas)",
                                       expression="persona", rule="sts-known-persona", source=SOURCE))
        try:
            card = dgws_cards.card_for(persona, deps.world, deps.clock.now())
        except DgwsFault as fault:
            raise FhirError(403, Issue("error", "forbidden", fault.message, expression="persona",
                                       rule="sts-idcard-persona", source=SOURCE)) from fault
        signed = sign_card(await run_in_threadpool(key.pair), build_idcard(card))
        return Response(etree.tostring(signed, encoding="utf-8"), media_type=XML,
                        headers={"Cache-Control": "no-store"})

    @routes.post("/sts/services/NewSecurityTokenService", response_class=Response,
                 responses=openapi_description.soap_answers(),
                 openapi_extra=openapi_description.soap_body("WS-Trust RequestSecurityToken, unsigned ID card"))
    async def new_security_token(request: Request) -> Response:
        try:
            try:
                body = await read_body(request, MAX_BODY)
            except FhirError as exc:
                raise DgwsFault("syntax_error", f"The request body is over {MAX_BODY} bytes") from exc
            pair = await run_in_threadpool(key.pair)  # made at the first use: off the event loop
            answer = issue_from_request(deps, pair, body, deps.clock.now())
        except DgwsFault as fault:
            return fault_response(fault)
        return Response(answer, media_type="text/xml; charset=utf-8")

    return routes
