"""An independent XDS.b consumer for the tests: zeep (its own WSDL/XSD reading, request building, SOAP
and MTOM/XOP parsing) with IHE's operations described by ``wsdl/dds.wsdl``, WS-Addressing from the
WSDL's ``wsaw:Action``, and the DGWS headers — the STS-signed ID card in ``wsse:Security``, ``medcom:Header``, HSUID —
handed to zeep as raw header elements, as a vendor's zeep integration would."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
import zeep
from lxml import etree
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from zeep.transports import Transport

from nsp_sandbox.dgws.hsuid import PROFESSIONAL, Hsuid, OrgUsing, build_hsuid
from nsp_sandbox.dgws.medcom_header import MedcomHeader, build_medcom_header
from nsp_sandbox.dgws.request_envelope import security_header

WSDL = Path(__file__).resolve().parent / "wsdl" / "dds.wsdl"
BINDINGS = "{urn:ihe:iti:xds-b:2007}"
FIND_DOCUMENTS = "urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d"
STABLE, ON_DEMAND = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1", "urn:uuid:34268e47-fdf5-41a6-ba33-82133c465248"
APPROVED = "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved"


class InProcess(BaseAdapter):
    """A ``requests`` transport into an in-process sandbox (FastAPI's TestClient): only the wire hop
    is replaced; zeep writes and reads every byte."""

    def __init__(self, client: Any) -> None:
        super().__init__()
        self._client = client

    def send(self, request: requests.PreparedRequest, **_: Any) -> requests.Response:  # type: ignore[override]
        answer = self._client.request(request.method or "POST", request.url or "", content=request.body,
                                      headers=dict(request.headers))
        response = requests.Response()
        response.status_code = answer.status_code
        response._content = answer.content
        response.headers = CaseInsensitiveDict(answer.headers)
        response.url, response.request = request.url or "", request
        return response

    def close(self) -> None:
        pass


@dataclass
class Professional:
    """Who looks, for whom: the HSUID of a health professional with an employee card."""

    acting_cpr: str
    authorisation: str
    org_sor: str
    citizen_cpr: str


def session_for(client: Any | None) -> requests.Session:
    session = requests.Session()
    if client is not None:
        session.mount("http://", InProcess(client))
    return session


def headers(card: bytes, who: Professional) -> list[etree._Element]:
    """``wsse:Security`` (timestamp + the signed card), ``medcom:Header`` (level 4), the HSUID header."""
    medcom = MedcomHeader(security_level=4, message_id=str(uuid.uuid4()), flow_id=str(uuid.uuid4()),
                          timeout="1440")
    hsuid = Hsuid(user_type=PROFESSIONAL, acting_cpr=who.acting_cpr, citizen_cpr=who.citizen_cpr,
                  org_using=OrgUsing(who.org_sor), responsible_cpr=who.acting_cpr,
                  responsible_authorisation=who.authorisation, consent_override=False, system_name="zeep EPJ",
                  issuer="zeep EPJ", issue_instant=datetime.now(UTC))
    return [security_header(etree.fromstring(card), datetime.now(UTC)), build_medcom_header(medcom),
            build_hsuid(hsuid)]


def zeep_client(session: requests.Session) -> zeep.Client:
    # zeep adds WS-Addressing (Action from the portType's wsaw:Action, MessageID, To) by itself
    return zeep.Client(str(WSDL), transport=Transport(session=session))


def find_documents(base: str, session: requests.Session, card: bytes, who: Professional) -> Any:
    """ITI-18 FindDocuments (LeafClass, Approved, both entry types) through zeep."""
    service = zeep_client(session).create_service(f"{BINDINGS}DocumentRegistry_Binding_Soap11",
                                                  f"{base}/dds/ddsregistry")
    slots = {"$XDSDocumentEntryPatientId": [f"'{who.citizen_cpr}^^^&1.2.208.176.1.2&ISO'"],
             "$XDSDocumentEntryStatus": [f"('{APPROVED}')"],
             "$XDSDocumentEntryType": [f"('{STABLE}','{ON_DEMAND}')"]}
    return service.DocumentRegistry_RegistryStoredQuery(
        ResponseOption={"returnType": "LeafClass", "returnComposedObjects": True},
        AdhocQuery={"id": FIND_DOCUMENTS, "Slot": [{"name": name, "ValueList": {"Value": values}}
                                                   for name, values in slots.items()]},
        _soapheaders=headers(card, who))


def retrieve(base: str, session: requests.Session, card: bytes, who: Professional, repository: str,
             unique_id: str) -> Any:
    """ITI-43 through zeep; the MTOM/XOP answer is resolved by zeep."""
    service = zeep_client(session).create_service(f"{BINDINGS}DocumentRepository_Binding_Soap11",
                                                  f"{base}/dds/ddsrepository")
    return service.DocumentRepository_RetrieveDocumentSet(
        DocumentRequest=[{"RepositoryUniqueId": repository, "DocumentUniqueId": unique_id}],
        _soapheaders=headers(card, who))


def entries(answer: Any) -> list[Any]:
    """The ExtrinsicObjects of a zeep-parsed AdhocQueryResponse."""
    found = answer.RegistryObjectList._value_1 if answer.RegistryObjectList is not None else []
    return [item["ExtrinsicObject"] for item in found or [] if item.get("ExtrinsicObject") is not None]


def slot(entry: Any, name: str) -> list[str]:
    return next((list(s.ValueList.Value) for s in entry.Slot if s.name == name), [])


def external_id(entry: Any, scheme: str) -> str | None:
    return next((e.value for e in entry.ExternalIdentifier if e.identificationScheme == scheme), None)
