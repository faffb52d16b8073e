"""A typed IHE XDS.b client for DDS and its siblings (DRS proxy, DROS), secured by DGWS (dds-nsp.md §1).

Each transaction is built as a :class:`Call` by a pure function — the body from the wire layer's writers,
the WS-Addressing ``Action`` (ITI TF-2 Appendix V), whether it carries HSUID (ITI-18 and ITI-43 only,
dds-nsp.md §1.3) and MTOM (ITI-41 documents, ITI TF-2 §3.41.4.1.3) — and sent by :class:`XdsClient`
(blocking) or :class:`AsyncXdsClient` (for actors serving requests). Sending wraps the body in a SOAP 1.1
envelope with WS-Addressing (``Action`` mustUnderstand, ``MessageID``, ``To``, ``ReplyTo`` anonymous),
``wsse:Security`` (timestamp and the signed ID card), ``medcom:Header`` (``SecurityLevel`` = the card's
level, ``Linking/MessageID``) and the HSUID header. The ID card is the caller's or is fetched once from
NSP's STS (``POST {nsp}/sts/idcard {"persona": …}``).

Answers are parsed into the wire layer's values: ``RegistryResponse`` (ITI-41/57/61),
``AdhocQueryResponse`` (ITI-18), ``RetrieveDocumentSetResponse`` (ITI-43, MTOM or inline). A DGWS fault
(``medcom:FaultCode``, HTTP 500) or any other SOAP fault raises :class:`XdsFault`; an answer that is
no SOAP message raises :class:`XdsClientError`. ``trace`` receives each :class:`Exchange` (request and
response as sent and received) — the CLI prints them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import httpx2 as httpx
from lxml import etree

from nsp_sandbox.dgws.faults import read_fault
from nsp_sandbox.dgws.hsuid import CITIZEN, PROFESSIONAL, Hsuid, OrgUsing, build_hsuid
from nsp_sandbox.dgws.idcard import SOR, USER, IdCard, parse_idcard
from nsp_sandbox.dgws.medcom_header import MedcomHeader, build_medcom_header
from nsp_sandbox.dgws.request_envelope import security_header
from nsp_sandbox.dgws.responses import envelope as soap11_envelope
from nsp_sandbox.xds import namespaces as ns
from nsp_sandbox.xds import vocabulary as v
from nsp_sandbox.xds.ebrim import (
    Document,
    ProvideAndRegisterDocumentSetRequest,
    SubmitObjectsRequest,
    write_provide_and_register,
    write_submit_objects_request,
)
from nsp_sandbox.xds.errors import XdsWireError
from nsp_sandbox.xds.mtom import package, parse_message
from nsp_sandbox.xds.query import (
    AdhocQueryRequest,
    AdhocQueryResponse,
    QuerySlot,
    parse_adhoc_query_response,
    write_adhoc_query_request,
)
from nsp_sandbox.xds.query_values import format_value
from nsp_sandbox.xds.registry_response import RegistryResponse, parse_registry_response
from nsp_sandbox.xds.retrieve import (
    DocumentRequest,
    RetrieveDocumentSetRequest,
    RetrieveDocumentSetResponse,
    parse_retrieve_response,
    write_retrieve_request,
)
from nsp_sandbox.xds.soap import SoapVersion, parse_envelope, parse_fault
from nsp_sandbox.xds.xml import sub

ANONYMOUS = "http://www.w3.org/2005/08/addressing/anonymous"
CPR_OID = "1.2.208.176.1.2"
FIND_DOCUMENTS = v.STORED_QUERIES_BY_NAME["FindDocuments"].uuid
GET_DOCUMENTS = v.STORED_QUERIES_BY_NAME["GetDocuments"].uuid
STATUS_WORDS = {"Approved": v.STATUS_APPROVED, "Deprecated": v.STATUS_DEPRECATED}


class XdsClientError(Exception):
    """The answer was no SOAP message the transaction expects (HTTP status and what was wrong)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class XdsFault(XdsClientError):
    """A SOAP fault answered the request: ``dgws_code`` is the ``medcom:FaultCode`` of a DGWS fault
    (``security_level_failed``, ``expired_idcard``, …; dds-nsp.md §1.4), None for another SOAP fault."""

    def __init__(self, reason: str, status: int, dgws_code: str | None = None) -> None:
        super().__init__(f"{dgws_code}: {reason}" if dgws_code else reason, status)
        self.reason = reason
        self.dgws_code = dgws_code


class XdsRefused(XdsClientError):
    """The registry answered ``Failure``: ``response`` holds its RegistryErrorList (ITI TF-3 §4.2.4)."""

    def __init__(self, transaction: str, response: RegistryResponse) -> None:
        codes = "; ".join(f"{e.error_code}: {e.code_context}" for e in response.errors if e.is_error)
        super().__init__(f"{transaction} failed: {codes or 'no error given'}"[:500], 200)
        self.response = response


def accepted(transaction: str, response: RegistryResponse) -> RegistryResponse:
    """``response`` when it is Success or PartialSuccess (warnings); :class:`XdsRefused` on Failure."""
    if response.status == v.RESPONSE_FAILURE:
        raise XdsRefused(transaction, response)
    return response


@dataclass(frozen=True)
class Endpoints:
    """DDS's XDS.b endpoints, mirroring the real ones below a base URL such as ``http://host/dds``."""

    registry: str
    metadata_update: str
    repository: str
    drs_proxy: str
    dros: str

    @classmethod
    def under(cls, base: str) -> Endpoints:
        base = base.rstrip("/")
        return cls(f"{base}/ddsregistry", f"{base}/ddsregistry/metadataupdate", f"{base}/ddsrepository",
                   f"{base}/drs/proxy", f"{base}/dros")


@dataclass(frozen=True)
class Call:
    """One transaction ready to send: its name, endpoint, WS-Addressing action and body."""

    transaction: str
    url: str
    action: str
    body: etree._Element
    hsuid: Hsuid | None = None
    mtom: bool = False


@dataclass(frozen=True)
class Exchange:
    """One request and its answer as they went over the wire (for tracing)."""

    transaction: str
    url: str
    request_headers: dict[str, str]
    request_body: bytes
    status: int
    response_headers: dict[str, str]
    response_body: bytes


@dataclass(frozen=True)
class Answer:
    """The body payload of a successful answer and the attachments it came with (by Content-ID)."""

    payload: etree._Element
    attachments: dict[str, bytes] = field(default_factory=dict)


def hsuid_for(card: IdCard, citizen_cpr: str | None, *, template: Hsuid | None = None,
              consent_override: bool = False, system_version: str = "1.0") -> Hsuid:
    """The HSUID for a look-up about ``citizen_cpr`` (HSUID 1.1; dds-nsp.md §1.3).

    With ``template`` its values are used (the citizen filled in when it names none). From an employee
    card: a health professional acting as the card's user, for the card's SOR organisation. A system
    card names no person, so a template is required then.
    """
    if template is not None:
        return replace(template, citizen_cpr=template.citizen_cpr or citizen_cpr,
                       consent_override=template.consent_override or consent_override)
    if card.card_type != USER or card.user is None:
        raise ValueError("a system ID card names no acting user; give the HSUID (user type, acting CPR) explicitly")
    org = OrgUsing(card.care_provider.id, "nsi:sor") if card.care_provider.id_format == SOR else None
    return Hsuid(user_type=PROFESSIONAL, acting_cpr=card.user.cpr, citizen_cpr=citizen_cpr, org_using=org,
                 responsible_cpr=card.user.cpr, responsible_authorisation=card.user.authorisation_code,
                 consent_override=consent_override, system_owner=card.care_provider.name,
                 system_name=card.it_system_name, system_version=system_version,
                 org_responsible_name=card.care_provider.name, issuer=card.it_system_name)


def citizen_hsuid(cpr: str, system_name: str, system_version: str = "1.0") -> Hsuid:
    """The HSUID of a citizen looking at their own documents."""
    return Hsuid(user_type=CITIZEN, acting_cpr=cpr, citizen_cpr=cpr, system_name=system_name,
                 system_version=system_version, issuer=system_name, citizen_user_relation="nsi:Citizen")


def _cx(cpr: str) -> str:
    return f"{cpr}^^^&{CPR_OID}&ISO"


# ---- the transactions, as pure functions of their inputs -------------------------------------------------

def provide_call(url: str, submission: SubmitObjectsRequest, documents: Sequence[Document]) -> Call:
    """ITI-41 Provide and Register Document Set-b (ITI TF-2 §3.41): metadata plus documents, sent MTOM."""
    body = write_provide_and_register(ProvideAndRegisterDocumentSetRequest(submission, list(documents)))
    return Call("ITI-41", url, v.ACTION_ITI41, body, mtom=True)


def update_call(url: str, submission: SubmitObjectsRequest) -> Call:
    """ITI-57 Update Document Set (ITI TF-2 §3.57), e.g. a deprecation."""
    return Call("ITI-57", url, v.ACTION_ITI57, write_submit_objects_request(submission))


def on_demand_call(url: str, submission: SubmitObjectsRequest) -> Call:
    """ITI-61 Register On-Demand Document Entry (ITI TF-2 §3.61)."""
    return Call("ITI-61", url, v.ACTION_ITI61, write_submit_objects_request(submission))


def find_request(cpr: str, *, statuses: Sequence[str] = ("Approved",),
                 entry_types: Sequence[str] = (v.DOCUMENT_ENTRY_STABLE, v.DOCUMENT_ENTRY_ON_DEMAND),
                 return_type: str = v.RETURN_LEAF_CLASS,
                 parameters: dict[str, Sequence[str]] | None = None) -> AdhocQueryRequest:
    """FindDocuments for a CPR (ITI TF-2 §3.18.4.1.2.3.7.1). Both entry types are asked for by default:
    DDS answers only the types named (dds-nsp.md §1.2). ``parameters`` adds further ones (quoted lists)."""
    slots = [QuerySlot("$XDSDocumentEntryPatientId", [format_value([_cx(cpr)], as_list=False)]),
             QuerySlot("$XDSDocumentEntryStatus", [format_value([STATUS_WORDS.get(s, s) for s in statuses])])]
    if entry_types:
        slots.append(QuerySlot("$XDSDocumentEntryType", [format_value(list(entry_types))]))
    for name, values in (parameters or {}).items():
        slots.append(QuerySlot(name, [format_value(list(values))]))
    return AdhocQueryRequest(FIND_DOCUMENTS, slots, return_type)


def get_documents_request(unique_ids: Sequence[str], return_type: str = v.RETURN_LEAF_CLASS) -> AdhocQueryRequest:
    """GetDocuments by uniqueId (ITI TF-2 §3.18.4.1.2.3.7.5)."""
    return AdhocQueryRequest(GET_DOCUMENTS, [QuerySlot("$XDSDocumentEntryUniqueId", [format_value(unique_ids)])],
                             return_type)


def query_call(url: str, request: AdhocQueryRequest, hsuid: Hsuid) -> Call:
    """ITI-18 Registry Stored Query (with HSUID)."""
    return Call("ITI-18", url, v.ACTION_ITI18, write_adhoc_query_request(request), hsuid=hsuid)


def retrieve_call(url: str, documents: Sequence[DocumentRequest], hsuid: Hsuid) -> Call:
    """ITI-43 Retrieve Document Set (with HSUID)."""
    body = write_retrieve_request(RetrieveDocumentSetRequest(list(documents)))
    return Call("ITI-43", url, v.ACTION_ITI43, body, hsuid=hsuid)


# ---- the wire: request envelope and answer ----------------------------------------------------------------

def addressing_headers(action: str, to: str, message_id: str) -> list[etree._Element]:
    """WS-Addressing 1.0 headers (ITI TF-2 Appendix V.3.2): Action (mustUnderstand), MessageID, ReplyTo, To."""
    made = []
    for name, text in (("Action", action), ("MessageID", message_id), ("To", to)):
        element = etree.Element(f"{{{ns.WSA}}}{name}", nsmap={"wsa": ns.WSA})
        element.text = text
        made.append(element)
    made[0].set(f"{{{ns.SOAP11}}}mustUnderstand", "1")
    reply_to = etree.Element(f"{{{ns.WSA}}}ReplyTo", nsmap={"wsa": ns.WSA})
    sub(reply_to, ns.WSA, "Address", text=ANONYMOUS)
    made.insert(2, reply_to)
    return made


def request_message(call: Call, card: etree._Element, level: int, now: datetime) -> tuple[dict[str, str], bytes]:
    """(HTTP headers, body) of ``call``: SOAP 1.1 with WS-Addressing, DGWS security, medcom header, HSUID."""
    message_id = f"urn:uuid:{uuid.uuid4()}"
    headers = [*addressing_headers(call.action, call.url, message_id), security_header(card, now),
               build_medcom_header(MedcomHeader(security_level=level, message_id=str(uuid.uuid4()),
                                                flow_id=str(uuid.uuid4()), timeout="1440"))]
    if call.hsuid is not None:
        headers.append(build_hsuid(replace(call.hsuid, issue_instant=call.hsuid.issue_instant or now)))
    data = soap11_envelope(call.body, headers)
    http_headers = {"SOAPAction": f'"{call.action}"'}
    if call.mtom:
        root = etree.fromstring(data)
        content_type, data = package(root, SoapVersion.SOAP11, action=call.action)
        http_headers["Content-Type"] = content_type
    else:
        http_headers["Content-Type"] = SoapVersion.SOAP11.content_type()
    return http_headers, data


def read_answer(status: int, content_type: str, body: bytes) -> Answer:
    """The payload of an answer; :class:`XdsFault` for a SOAP fault, :class:`XdsClientError` otherwise."""
    dgws = read_fault(body) if status >= 400 or b"Fault" in body[:4000] else None
    if dgws is not None:
        raise XdsFault(dgws.message.removeprefix(f"{dgws.code}: "), status, dgws.code)
    try:
        message = parse_message(content_type or "text/xml", body)
        parsed = parse_envelope(message.envelope_bytes)
    except XdsWireError as exc:
        raise XdsClientError(f"HTTP {status}: the answer is no SOAP message ({exc})", status) from exc
    if etree.QName(parsed.payload).localname == "Fault":
        fault = parse_fault(parsed.payload, parsed.version)
        raise XdsFault(fault.reason, status)
    if status >= 300:
        raise XdsClientError(f"HTTP {status} with a {etree.QName(parsed.payload).localname} body", status)
    return Answer(parsed.payload, message.attachments)


def registry_response(answer: Answer) -> RegistryResponse:
    return parse_registry_response(answer.payload)


def query_response(answer: Answer) -> AdhocQueryResponse:
    return parse_adhoc_query_response(answer.payload)


def retrieve_response(answer: Answer) -> RetrieveDocumentSetResponse:
    return parse_retrieve_response(answer.payload, answer.attachments)


class _Base:
    """What both clients share: endpoints, the card, the HSUID template and the trace."""

    def __init__(self, dds_url: str, *, nsp_url: str | None = None, persona: str | None = None,
                 card: etree._Element | bytes | None = None, hsuid: Hsuid | None = None,
                 endpoints: Endpoints | None = None, trace: Callable[[Exchange], None] | None = None,
                 now: Callable[[], datetime] | None = None) -> None:
        if card is None and (nsp_url is None or persona is None):
            raise ValueError("give an ID card, or NSP's URL and a persona to fetch one")
        self.endpoints = endpoints or Endpoints.under(dds_url)
        self.nsp_url, self.persona, self.hsuid_template = nsp_url, persona, hsuid
        self._card = etree.fromstring(card) if isinstance(card, bytes) else card
        self._trace = trace
        self._now = now or (lambda: datetime.now(UTC))

    def _idcard_request(self) -> tuple[str, dict[str, Any]]:
        return f"{str(self.nsp_url).rstrip('/')}/sts/idcard", {"persona": self.persona}

    def _keep_card(self, response: httpx.Response) -> etree._Element:
        if response.status_code != 200:
            raise XdsClientError(f"NSP's STS refused an ID card for {self.persona}: HTTP {response.status_code} "
                                 f"{response.text[:300]}", response.status_code)
        self._card = etree.fromstring(response.content)
        return self._card

    def _prepared(self, call: Call, card: etree._Element) -> tuple[dict[str, str], bytes]:
        return request_message(call, card, parse_idcard(card).authentication_level, self._now())

    def _hsuid(self, card: etree._Element, cpr: str | None, consent_override: bool) -> Hsuid:
        return hsuid_for(parse_idcard(card), cpr, template=self.hsuid_template, consent_override=consent_override)

    def _finish(self, call: Call, headers: dict[str, str], data: bytes, response: httpx.Response) -> Answer:
        if self._trace is not None:
            self._trace(Exchange(call.transaction, call.url, headers, data, response.status_code,
                                 dict(response.headers), response.content))
        return read_answer(response.status_code, response.headers.get("content-type", ""), response.content)


class XdsClient(_Base):
    """A blocking XDS.b client (for the CLI, scripts and tests). Close it, or use it as a context manager."""

    def __init__(self, dds_url: str, *, client: httpx.Client | None = None, **options: Any) -> None:
        super().__init__(dds_url, **options)
        self.client = client or httpx.Client(timeout=60)

    def card(self) -> etree._Element:
        """The ID card in use (fetched from NSP's STS on first use)."""
        if self._card is not None:
            return self._card
        url, body = self._idcard_request()
        return self._keep_card(self.client.post(url, json=body))

    def parsed_card(self) -> IdCard:
        """The ID card in use, as a typed value."""
        return parse_idcard(self.card())

    def send(self, call: Call) -> Answer:
        headers, data = self.prepared(call)
        response = self.client.post(call.url, content=data, headers=headers)
        return self._finish(call, headers, data, response)

    def prepared(self, call: Call) -> tuple[dict[str, str], bytes]:
        """``call`` as it goes on the wire: HTTP headers and body (SOAP envelope with the ID card; MTOM for
        documents), e.g. to time the exchange alone."""
        return self._prepared(call, self.card())

    def hsuid(self, cpr: str | None, consent_override: bool = False) -> Hsuid:
        """The HSUID header this client sends for a look-up of ``cpr``."""
        return self._hsuid(self.card(), cpr, consent_override)

    def provide(self, submission: SubmitObjectsRequest, documents: Sequence[Document], *,
                url: str | None = None) -> RegistryResponse:
        """ITI-41 to the DRS proxy (or ``url``, e.g. ``endpoints.dros``)."""
        return registry_response(self.send(provide_call(url or self.endpoints.drs_proxy, submission, documents)))

    def find_documents(self, cpr: str, *, consent_override: bool = False, **options: Any) -> AdhocQueryResponse:
        """ITI-18 FindDocuments for ``cpr`` (options: see :func:`find_request`)."""
        hsuid = self._hsuid(self.card(), cpr, consent_override)
        return self.query(find_request(cpr, **options), hsuid)

    def query(self, request: AdhocQueryRequest, hsuid: Hsuid) -> AdhocQueryResponse:
        """Any ITI-18 stored query."""
        return query_response(self.send(query_call(self.endpoints.registry, request, hsuid)))

    def retrieve(self, documents: Sequence[DocumentRequest], *, cpr: str | None = None,
                 consent_override: bool = False) -> RetrieveDocumentSetResponse:
        """ITI-43 for ``documents`` (HSUID naming ``cpr`` as the citizen)."""
        hsuid = self._hsuid(self.card(), cpr, consent_override)
        return retrieve_response(self.send(retrieve_call(self.endpoints.repository, documents, hsuid)))

    def deprecate(self, submission: SubmitObjectsRequest, *, url: str | None = None) -> RegistryResponse:
        """ITI-57 (a status update built with :func:`nsp_sandbox.xds.from_mhd.status_update`)."""
        return registry_response(self.send(update_call(url or self.endpoints.metadata_update, submission)))

    def register_on_demand(self, submission: SubmitObjectsRequest, *, url: str | None = None) -> RegistryResponse:
        """ITI-61 to DROS (or ``url``)."""
        return registry_response(self.send(on_demand_call(url or self.endpoints.dros, submission)))

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> XdsClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class AsyncXdsClient(_Base):
    """The same client for async callers (an actor submitting while it serves a request)."""

    def __init__(self, dds_url: str, *, client: httpx.AsyncClient, card_client: httpx.AsyncClient | None = None,
                 **options: Any) -> None:
        super().__init__(dds_url, **options)
        self.client = client
        self.card_client = card_client or client

    async def card(self) -> etree._Element:
        if self._card is not None:
            return self._card
        url, body = self._idcard_request()
        return self._keep_card(await self.card_client.post(url, json=body))

    async def send(self, call: Call) -> Answer:
        headers, data = self._prepared(call, await self.card())
        response = await self.client.post(call.url, content=data, headers=headers)
        return self._finish(call, headers, data, response)

    async def provide(self, submission: SubmitObjectsRequest, documents: Sequence[Document], *,
                      url: str | None = None) -> RegistryResponse:
        call = provide_call(url or self.endpoints.drs_proxy, submission, documents)
        return registry_response(await self.send(call))

    async def find_documents(self, cpr: str, *, consent_override: bool = False, **options: Any) -> AdhocQueryResponse:
        hsuid = self._hsuid(await self.card(), cpr, consent_override)
        return query_response(await self.send(query_call(self.endpoints.registry, find_request(cpr, **options),
                                                         hsuid)))

    async def retrieve(self, documents: Sequence[DocumentRequest], *, cpr: str | None = None,
                       consent_override: bool = False) -> RetrieveDocumentSetResponse:
        hsuid = self._hsuid(await self.card(), cpr, consent_override)
        return retrieve_response(await self.send(retrieve_call(self.endpoints.repository, documents, hsuid)))

    async def deprecate(self, submission: SubmitObjectsRequest, *, url: str | None = None) -> RegistryResponse:
        return registry_response(await self.send(update_call(url or self.endpoints.metadata_update, submission)))

    async def register_on_demand(self, submission: SubmitObjectsRequest, *,
                                 url: str | None = None) -> RegistryResponse:
        return registry_response(await self.send(on_demand_call(url or self.endpoints.dros, submission)))
