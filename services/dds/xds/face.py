"""The plumbing every XDS.b endpoint of DDS shares (ITI TF-2 Appendix V; DGWS 1.0.1; dds-nsp.md §1.3–1.4).

:func:`soap_router` answers ``POST {path}``: it reads the body (plain SOAP or MTOM/XOP,
``nsp_sandbox.xds.mtom``), checks the DGWS headers (``nsp_sandbox.dgws.security``) against the
trusted STS certificates — the sandbox STS's own, fetched from NSP over HTTP (then kept), plus
``NSP_SANDBOX_DGWS_TRUSTED_STS_CERTS`` — on the sandbox clock with the configured skew (level 4 for
a health professional's look-up), maps the ID card (and the HSUID header when the endpoint takes
one) to the acting :class:`~nsp_sandbox.tokens.Principal` (``services.dds.xds.principal``), and
dispatches on the body element's Clark name to a :data:`Handler`.

The answer is in the request's SOAP version with WS-Addressing (``Action`` = the transaction's
response action, ``RelatesTo`` = the request's ``MessageID``) and the DGWS ``medcom:Header``
(``FlowStatus`` ``flow_finalized_succesfully``, ``InResponseToMessageID``); a DGWS fault is
answered as DGWS requires (SOAP 1.1 fault, HTTP 500, ``FlowStatus`` = the fault code); a body the
face cannot read is a SOAP ``Sender`` fault (HTTP 500, SOAP 1.1 §6.2 / SOAP 1.2 Part 2 §7.5.1).
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from cryptography import x509
from fastapi import APIRouter, Request
from fastapi.responses import Response
from lxml import etree

from nsp_sandbox import openapi_description
from nsp_sandbox.dgws import responses as dgws_responses
from nsp_sandbox.dgws.faults import DgwsFault
from nsp_sandbox.dgws.medcom_header import (
    FLOW_FINALIZED,
    MedcomHeader,
    build_medcom_header,
    parse_medcom_header,
    response_header,
)
from nsp_sandbox.dgws.medcom_header import find_header as find_medcom_header
from nsp_sandbox.dgws.security import VerifiedRequest, check_security
from nsp_sandbox.dgws.settings import dgws_settings
from nsp_sandbox.dgws.trust import sandbox_sts_certificate, trusted_sts
from nsp_sandbox.fhir_http import read_body
from nsp_sandbox.outcome import FhirError
from nsp_sandbox.peers import Peers
from nsp_sandbox.tokens import Principal
from nsp_sandbox.xds.errors import XdsWireError
from nsp_sandbox.xds.mtom import SoapMessage, package, parse_message
from nsp_sandbox.xds.soap import Addressing, Envelope, SoapFault, SoapVersion, build_envelope, new_message_id
from nsp_sandbox.xds.vocabulary import RESPONSE_ACTIONS
from services.dds import request_log
from services.dds.access.consent_override import NOT_GIVEN, OverrideRequest
from services.dds.mhd.deps import Deps
from services.dds.xds import principal as principals
from services.dds.xds.busy import busy_answer

#: What Min Log records as the værdispring reason on this face: HSUID's ConsentOverride is a boolean.
OVERRIDE_WITHOUT_REASON = NOT_GIVEN


@dataclass(frozen=True)
class XdsCall:
    """One verified XDS.b request, as a handler receives it."""

    deps: Deps                      # services.dds.mhd.deps.Deps
    request: Request                # the HTTP request
    message: SoapMessage            # envelope bytes + attachments (nsp_sandbox.xds.mtom)
    verified: VerifiedRequest       # what the DGWS headers proved (nsp_sandbox.dgws.security)
    principal: Principal | None     # who acts (ID card + HSUID); None with access control off
    body: etree._Element            # the request element inside soap:Body

    @property
    def consent_override(self) -> OverrideRequest | None:
        """The værdispring to hand the guard: HSUID ``nsi:ConsentOverride`` true carries no reason
        and no criticality (HSUID 1.1), so Min Log records :data:`OVERRIDE_WITHOUT_REASON`; None without it."""
        hsuid = self.verified.hsuid
        return OverrideRequest(None) if hsuid is not None and hsuid.consent_override else None

    async def authenticate(self) -> Principal | None:
        """The ``authenticate`` callable of ``Guard.guarded_read``: the principal already mapped."""
        return self.principal


@dataclass(frozen=True)
class XdsAnswer:
    """A handler's answer: the body element, and whether it goes out as MTOM/XOP (``xdsb:Document``
    contents moved into binary parts, ITI TF-2 §3.43.5)."""

    body: etree._Element            # e.g. rs:RegistryResponse
    mtom: bool = False


Handler = Callable[[XdsCall], Awaitable[XdsAnswer]]


def soap_router(deps: Deps, path: str, handlers: Mapping[str, Handler], *, summary: str,
                hsuid: bool = False) -> APIRouter:
    """POST {path}: read the body (plain SOAP or MTOM), check DGWS (trusted STS certificates: the
    sandbox STS's own, fetched from NSP over HTTP, plus NSP_SANDBOX_DGWS_TRUSTED_STS_CERTS; the
    sandbox clock; the skew setting; level 4 for a health professional), map the card (+HSUID when
    ``hsuid``) to the Principal, dispatch on the body element's Clark name "{ns}local" to its handler,
    and answer in the request's SOAP version with the medcom:Header (FlowStatus, InResponseToMessageID)
    and WS-Addressing RelatesTo — or a DGWS fault (HTTP 500), or a SOAP fault for a body it cannot read."""
    router = APIRouter()

    @router.post(path, summary=summary, response_class=Response, responses=openapi_description.soap_answers(mtom=True),
                 openapi_extra=openapi_description.soap_body("A SOAP request with a DGWS ID card (and HSUID header)"))
    async def endpoint(request: Request) -> Response:
        return await serve(deps, request, handlers, hsuid)

    return router


async def serve(deps: Deps, request: Request, handlers: Mapping[str, Handler], hsuid: bool) -> Response:
    """One request through read → DGWS → principal → handler → answer (see :func:`soap_router`)."""
    try:
        raw = await read_body(request, deps.max_body_bytes)
    except FhirError as error:  # 413: the body is larger than the sandbox accepts
        return soap_fault(SoapFault("Sender", str(error)), SoapVersion.SOAP11, None)
    try:
        message = parse_message(request.headers.get("content-type", "text/xml"), raw)
        envelope = message.envelope()
    except XdsWireError as error:
        return soap_fault(SoapFault.from_error(error), SoapVersion.SOAP11, None)
    handler = handlers.get(envelope.payload.tag)
    medcom = _lenient_medcom(envelope)
    try:
        verified = await verify(deps, envelope)
        medcom = verified.header
        if handler is None:
            return soap_fault(SoapFault("Sender", f"{envelope.payload.tag} is not a request this endpoint "
                                        f"takes; it takes {', '.join(sorted(handlers))}"), envelope.version,
                              envelope)
        if (busy := busy_answer(envelope.payload)) is not None:  # fault switch dds/registry-busy
            return respond(envelope, request, XdsAnswer(busy), medcom)
        principal = await principals.principal_for(deps, verified, use_hsuid=hsuid) \
            if deps.guard.enabled else None
        request_log.note(request, caller=principal.persona if principal else None,
                         patients=[verified.hsuid.citizen_cpr] if verified.hsuid and verified.hsuid.citizen_cpr else [])
        call = XdsCall(deps, request, message, verified, principal, envelope.payload)
        answer = await handler(call)
    except DgwsFault as fault:
        return dgws_responses.fault_answer(fault, medcom)
    except FhirError as error:
        return dgws_responses.fault_answer(fault_for(error), medcom)
    except XdsWireError as error:
        return soap_fault(SoapFault.from_error(error), envelope.version, envelope)
    return respond(envelope, request, answer, medcom)


async def verify(deps: Deps, envelope: Envelope) -> VerifiedRequest:
    """The DGWS check on the sandbox clock (``DgwsFault`` when it fails), against the sandbox STS's
    certificate (kept per sandbox, fetched again when a card's signer is not the one kept) and the
    configured trusted STS certificates. DGWS 1.0.1 defines its header
    blocks for SOAP 1.1; the same blocks are read from a SOAP 1.2 envelope's header too (IHE's own
    transactions are SOAP 1.2), and such a request is answered in SOAP 1.2."""
    try:
        settings = dgws_settings()
    except ValueError as error:  # an unreadable trusted-certificate file or a malformed skew: the sandbox's fault
        raise DgwsFault("processing_problem", f"The DGWS settings cannot be read: {error}") from error
    peers, now = deps.context.peers, deps.context.clock.now()
    known = peers in _STS_CERTIFICATES
    try:
        trusted = trusted_sts(await _sts_certificate(peers, fresh=False), settings)
        return check_security(envelope.root, trusted, now, skew_seconds=settings.clock_skew_seconds)
    except DgwsFault as fault:
        if not known or fault.code != "invalid_certificate":
            raise
    # the card's signer is not the STS certificate known so far: NSP's STS may have a new one
    trusted = trusted_sts(await _sts_certificate(peers, fresh=True), settings)
    return check_security(envelope.root, trusted, now, skew_seconds=settings.clock_skew_seconds)


#: The sandbox STS's certificate per sandbox (its Peers), fetched from NSP once, as the MHD face keeps
#: the STS's JWKS, and again when a card's signer is not it.
_STS_CERTIFICATES: weakref.WeakKeyDictionary[Peers, x509.Certificate] = weakref.WeakKeyDictionary()


async def _sts_certificate(peers: Peers, *, fresh: bool) -> x509.Certificate:
    if fresh or peers not in _STS_CERTIFICATES:
        _STS_CERTIFICATES[peers] = await sandbox_sts_certificate(peers)
    return _STS_CERTIFICATES[peers]


def fault_for(error: FhirError) -> DgwsFault:
    """An access refusal from the shared rules as the DGWS fault this face answers: 401/403 →
    ``not_authorized``, NSP unreachable (503) or anything else → ``processing_problem``."""
    text = str(error)
    code = "not_authorized" if error.status in (401, 403) else "processing_problem"
    return DgwsFault(code, text or f"HTTP {error.status}")


def _lenient_medcom(envelope: Envelope) -> MedcomHeader | None:
    """The request's medcom:Header if it can be read (to answer a fault with ``InResponseToMessageID``)."""
    element = find_medcom_header(envelope.root)
    if element is None:
        return None
    try:
        return parse_medcom_header(element)
    except DgwsFault:
        return None


def response_action(envelope: Envelope, request: Request) -> str | None:
    """The response action for the request's ``wsa:Action`` (or SOAPAction header), if it is known."""
    action = envelope.addressing.action or request.headers.get("soapaction", "").strip().strip('"')
    return RESPONSE_ACTIONS.get(action)


def respond(envelope: Envelope, request: Request, answer: XdsAnswer, medcom: MedcomHeader | None) -> Response:
    """The answer envelope: WS-Addressing, the DGWS ``medcom:Header``, the body; MTOM when asked."""
    action = response_action(envelope, request)
    addressing = Addressing(action=action, message_id=new_message_id(), relates_to=envelope.addressing.message_id,
                            namespace=envelope.addressing.namespace)
    header = build_medcom_header(response_header(medcom, FLOW_FINALIZED))
    root = build_envelope(envelope.version, answer.body, addressing=addressing, extra_headers=[header])
    if answer.mtom:
        content_type, body = package(root, envelope.version, action=action)
        return Response(body, media_type=None, headers={"Content-Type": content_type})
    return Response(etree.tostring(root, xml_declaration=True, encoding="UTF-8"),
                    headers={"Content-Type": envelope.version.content_type(action)})


def soap_fault(fault: SoapFault, version: SoapVersion, envelope: Envelope | None) -> Response:
    """A SOAP fault answer (HTTP 500) in ``version``, related to the request when it could be read."""
    relates_to = envelope.addressing.message_id if envelope is not None else None
    wsa = envelope.addressing.namespace if envelope is not None else None
    body = fault.envelope(version, relates_to, wsa) if wsa else fault.envelope(version, relates_to)
    return Response(body, status_code=500, headers={"Content-Type": version.content_type()})
