"""What the XDS.b face tests share: DGWS requests as a vendor sends them (an ID card from the
sandbox STS over HTTP, ``medcom:Header``, optional HSUID, WS-Addressing), and reading the answers.

Used by the ITI-18/43 tests and the ITI-41/57/61 tests alike; everything goes over HTTP through
the ``client`` fixture (the whole sandbox in process)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from nsp_sandbox.dgws.faults import DgwsFault, read_fault
from nsp_sandbox.dgws.hsuid import CITIZEN, PROFESSIONAL, Hsuid, OrgUsing, build_hsuid
from nsp_sandbox.dgws.medcom_header import (
    FLOW_RUNNING,
    MedcomHeader,
    build_medcom_header,
    find_header,
    parse_medcom_header,
)
from nsp_sandbox.dgws.request_envelope import security_header
from nsp_sandbox.xds import namespaces as ns
from nsp_sandbox.xds.mtom import SoapMessage, parse_message
from nsp_sandbox.xds.soap import Addressing, SoapVersion, build_envelope, new_message_id, serialize
from nsp_sandbox.xds.vocabulary import ACTION_ITI18, ACTION_ITI41, ACTION_ITI43, ACTION_ITI57, ACTION_ITI61

CAPTURES = Path(__file__).resolve().parents[3] / "shared" / "xds-captures"
REGISTRY, METADATA_UPDATE, REPOSITORY = "/dds/ddsregistry", "/dds/ddsregistry/metadataupdate", "/dds/ddsrepository"
DRS_PROXY, DROS = "/dds/drs/proxy", "/dds/dros"
ACTIONS = {"iti18": ACTION_ITI18, "iti41": ACTION_ITI41, "iti43": ACTION_ITI43, "iti57": ACTION_ITI57,
           "iti61": ACTION_ITI61}
SOURCE_SYSTEM = "system-eoj-aarhus"  # Aarhus Kommune's EOJ: provides documents (system card, level 3)
GP = "gp-skodstrup"  # Skødstrup Lægepraksis' GP (employee card, level 4)


def capture(name: str) -> bytes:
    """A real DDS capture from ``../shared/xds-captures`` (the test is skipped without it)."""
    path = CAPTURES / name
    if not path.is_file():
        pytest.skip(f"capture {path} not found")
    return path.read_bytes()


def idcard(client: Any, persona: str) -> etree._Element:
    """A signed ID card for ``persona`` from the sandbox STS (``POST /nsp/sts/idcard``)."""
    response = client.post("/nsp/sts/idcard", json={"persona": persona})
    assert response.status_code == 200, response.text
    return etree.fromstring(response.content)


def persona(client: Any, persona_id: str) -> dict[str, Any]:
    """A persona as NSP lists it (``GET /nsp/personas``)."""
    found = [p for p in client.get("/nsp/personas").json() if p["id"] == persona_id]
    assert found, persona_id
    return dict(found[0])


def citizen_hsuid(cpr: str, citizen: str | None = None, system: str = "Sundhedsjournalen") -> Hsuid:
    """HSUID of a citizen (``cpr``) looking at ``citizen``'s data (default their own)."""
    return Hsuid(user_type=CITIZEN, acting_cpr=cpr, citizen_cpr=citizen or cpr, system_name=system,
                 system_owner="Sundhed.dk", system_version="1.0", issuer="Sundhedsjournalen",
                 citizen_user_relation="nsi:Citizen" if citizen in (None, cpr) else "nsi:Representative",
                 issue_instant=datetime.now(UTC))


def professional_hsuid(acting_cpr: str, authorisation: str, citizen: str, org_sor: str | None = None,
                       override: bool = False, responsible_cpr: str | None = None) -> Hsuid:
    """HSUID of a health professional (or an assistant, ``responsible_cpr`` ≠ ``acting_cpr``)."""
    return Hsuid(user_type=PROFESSIONAL, acting_cpr=acting_cpr, citizen_cpr=citizen,
                 org_using=OrgUsing(org_sor) if org_sor else None,
                 responsible_cpr=responsible_cpr or acting_cpr, responsible_authorisation=authorisation,
                 consent_override=override, system_name="nsp-sandbox tests", issuer="nsp-sandbox tests",
                 issue_instant=datetime.now(UTC))


def envelope(card: etree._Element | None, body: etree._Element, action: str, *, hsuid: Hsuid | None = None,
             medcom: bool = True, message_id: str | None = None, level: int | None = None,
             version: SoapVersion = SoapVersion.SOAP11) -> bytes:
    """A DGWS request (SOAP 1.1 unless ``version``): WS-Addressing, ``wsse:Security`` with ``card``,
    ``medcom:Header``, HSUID."""
    headers: list[etree._Element] = []
    if card is not None:
        headers.append(security_header(card, datetime.now(UTC)))
    if medcom:
        headers.append(build_medcom_header(MedcomHeader(security_level=level, message_id=str(uuid.uuid4()),
                                                        flow_id=str(uuid.uuid4()), flow_status=FLOW_RUNNING,
                                                        timeout="1440")))
    if hsuid is not None:
        headers.append(build_hsuid(hsuid))
    addressing = Addressing(action=action, message_id=message_id or new_message_id(),
                            reply_to="http://www.w3.org/2005/08/addressing/anonymous")
    return serialize(build_envelope(version, body, addressing=addressing, extra_headers=headers))


def post(client: Any, path: str, data: bytes, content_type: str = "text/xml; charset=utf-8") -> Any:
    """POST a SOAP message as a vendor does."""
    return client.post(path, content=data, headers={"Content-Type": content_type})


def answer(response: Any) -> SoapMessage:
    """The answer as a SOAP message (plain or MTOM)."""
    return parse_message(response.headers["content-type"], response.content)


def payload(response: Any) -> etree._Element:
    """The element inside the answer's ``soap:Body`` (asserting HTTP 200)."""
    assert response.status_code == 200, response.text
    return answer(response).envelope().payload


def dgws_fault(response: Any) -> DgwsFault:
    """The DGWS fault of an answer (asserting HTTP 500 and FlowStatus = the code)."""
    assert response.status_code == 500, response.text
    fault = read_fault(response.content)
    assert fault is not None, response.text
    header = find_header(etree.fromstring(response.content))
    assert header is not None and parse_medcom_header(header).flow_status == fault.code
    return fault


def registry_errors(element: etree._Element) -> list[tuple[str, str, str]]:
    """``(errorCode, severity local part, codeContext)`` of every ``rs:RegistryError`` in ``element``."""
    return [(e.get("errorCode", ""), e.get("severity", "").rsplit(":", 1)[-1], e.get("codeContext", ""))
            for e in element.iter(f"{{{ns.RS}}}RegistryError")]


def status_word(element: etree._Element) -> str:
    """Success / Failure / PartialSuccess of a response element's ``status``."""
    status = element.get("status")
    if status is None:
        inner = element.find(f"{{{ns.RS}}}RegistryResponse")
        status = inner.get("status", "") if inner is not None else ""
    return status.rsplit(":", 1)[-1]


# ---- ITI-18 / ITI-43 bodies ----------------------------------------------------------------------

CPR_OID = "1.2.208.176.1.2"


def cx(cpr: str) -> str:
    """A CPR number as the XDS patient id (CX.1 and CX.4)."""
    return f"{cpr}^^^&{CPR_OID}&ISO"


def quoted(*values: str) -> str:
    """An ITI-18 list value: ``('a','b')``."""
    return "(" + ",".join(f"'{value}'" for value in values) + ")"


def adhoc(query: str, slots: dict[str, list[str]], return_type: str = "LeafClass") -> etree._Element:
    """A ``query:AdhocQueryRequest`` for the stored query named ``query`` with these parameter slots."""
    from nsp_sandbox.xds.query import AdhocQueryRequest, QuerySlot, write_adhoc_query_request
    from nsp_sandbox.xds.vocabulary import STORED_QUERIES_BY_NAME

    query_id = STORED_QUERIES_BY_NAME[query].uuid if query in STORED_QUERIES_BY_NAME else query
    return write_adhoc_query_request(AdhocQueryRequest(query_id, [QuerySlot(name, values)
                                                                  for name, values in slots.items()], return_type))


def find_documents(cpr: str, statuses: tuple[str, ...] = ("Approved",), return_type: str = "LeafClass",
                   **more: list[str]) -> etree._Element:
    """FindDocuments for ``cpr`` with these statuses (short names) and more ``$XDSDocumentEntry…`` slots."""
    slots = {"$XDSDocumentEntryPatientId": [f"'{cx(cpr)}'"],
             "$XDSDocumentEntryStatus": [quoted(*(f"urn:oasis:names:tc:ebxml-regrep:StatusType:{s}"
                                                  for s in statuses))]}
    slots.update({f"$XDSDocumentEntry{name}": values for name, values in more.items()})
    return adhoc("FindDocuments", slots, return_type)


def retrieve(*unique_ids: str, repository: str = "1.2.208.176.43210.8.10.11") -> etree._Element:
    """An ``xdsb:RetrieveDocumentSetRequest`` for documents of one repository."""
    from nsp_sandbox.xds.retrieve import DocumentRequest, RetrieveDocumentSetRequest, write_retrieve_request

    return write_retrieve_request(RetrieveDocumentSetRequest([DocumentRequest(repository, u) for u in unique_ids]))


def objects(element: etree._Element, local: str) -> list[etree._Element]:
    """The ``rim:<local>`` objects in the ``RegistryObjectList`` of an AdhocQueryResponse."""
    return element.findall(f"{{{ns.RIM}}}RegistryObjectList/{{{ns.RIM}}}{local}")


def slot(obj: etree._Element, name: str) -> list[str]:
    """The values of slot ``name`` of a registry object."""
    return [v.text or "" for v in obj.findall(f"{{{ns.RIM}}}Slot[@name='{name}']/{{{ns.RIM}}}ValueList/"
                                             f"{{{ns.RIM}}}Value")]


def external_id(obj: etree._Element, scheme: str) -> str | None:
    found = obj.find(f"{{{ns.RIM}}}ExternalIdentifier[@identificationScheme='{scheme}']")
    return found.get("value") if found is not None else None


def unique_ids(element: etree._Element) -> list[str]:
    """The uniqueIds of the DocumentEntries in an AdhocQueryResponse."""
    from nsp_sandbox.xds.vocabulary import DE_UNIQUE_ID

    return [external_id(o, DE_UNIQUE_ID) or "" for o in objects(element, "ExtrinsicObject")]


def documents(response: Any) -> dict[str, bytes]:
    """The documents of an ITI-43 answer by DocumentUniqueId (MTOM parts resolved)."""
    from nsp_sandbox.xds.retrieve import parse_retrieve_response

    message = answer(response)
    parsed = parse_retrieve_response(message.envelope().payload, message.attachments)
    return {d.document_unique_id: d.content for d in parsed.documents}
