"""ITI-43 Retrieve Document Set: ``xdsb:RetrieveDocumentSetRequest`` and ``…Response`` (ITI TF-2 §3.43.4).

Each requested document names its RepositoryUniqueId and DocumentUniqueId (HomeCommunityId optional);
each returned document adds its mimeType and bytes. Response documents are written inline (base64);
:func:`nsp_sandbox.xds.mtom.package` moves them into MTOM parts, and :func:`parse_retrieve_response`
resolves ``xop:Include`` against the message's attachments.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field

from lxml import etree

from nsp_sandbox.xds import namespaces as ns
from nsp_sandbox.xds.errors import XdsWireError
from nsp_sandbox.xds.mtom import document_bytes
from nsp_sandbox.xds.registry_response import (
    RegistryResponse,
    parse_registry_response,
    write_registry_response,
)
from nsp_sandbox.xds.xml import child, children, local_name, required_child, step, sub, text_of


@dataclass
class DocumentRequest:
    """One ``xdsb:DocumentRequest``."""

    repository_unique_id: str
    document_unique_id: str
    home_community_id: str | None = None
    path: str = field(default="", compare=False, repr=False)


@dataclass
class RetrieveDocumentSetRequest:
    documents: list[DocumentRequest] = field(default_factory=list)
    path: str = field(default="", compare=False, repr=False)


@dataclass
class RetrievedDocument:
    """One ``xdsb:DocumentResponse``: where it came from, its mime type and its bytes."""

    repository_unique_id: str
    document_unique_id: str
    mime_type: str
    content: bytes
    home_community_id: str | None = None
    path: str = field(default="", compare=False, repr=False)


@dataclass
class RetrieveDocumentSetResponse:
    registry_response: RegistryResponse = field(default_factory=RegistryResponse)
    documents: list[RetrievedDocument] = field(default_factory=list)
    path: str = field(default="", compare=False, repr=False)


def _required_text(parent: etree._Element, name: str, path: str) -> str:
    value = text_of(required_child(parent, ns.XDSB, name, path))
    if not value:
        raise XdsWireError(f"{name} is empty", step(path, name), xds_code="XDSMissingDocument")
    return value


def _optional_text(parent: etree._Element, name: str) -> str | None:
    return text_of(child(parent, ns.XDSB, name)) or None


def parse_retrieve_request(element: etree._Element, path: str = "/Envelope/Body") -> RetrieveDocumentSetRequest:
    """Read an ITI-43 request; at least one DocumentRequest is required."""
    if element.tag != f"{{{ns.XDSB}}}RetrieveDocumentSetRequest":
        raise XdsWireError(f"expected xdsb:RetrieveDocumentSetRequest, found {local_name(element)}", path)
    path = step(path, "RetrieveDocumentSetRequest")
    requests = []
    for index, item in enumerate(children(element, ns.XDSB, "DocumentRequest"), 1):
        where = step(path, "DocumentRequest", index)
        requests.append(DocumentRequest(_required_text(item, "RepositoryUniqueId", where),
                                        _required_text(item, "DocumentUniqueId", where),
                                        _optional_text(item, "HomeCommunityId"), where))  # fmt: skip
    if not requests:
        raise XdsWireError("the request names no DocumentRequest", path)
    return RetrieveDocumentSetRequest(requests, path)


def _ids(parent: etree._Element, home: str | None, repository: str, document: str) -> None:
    if home:
        sub(parent, ns.XDSB, "HomeCommunityId", text=home)
    sub(parent, ns.XDSB, "RepositoryUniqueId", text=repository)
    sub(parent, ns.XDSB, "DocumentUniqueId", text=document)


def write_retrieve_request(request: RetrieveDocumentSetRequest) -> etree._Element:
    element = etree.Element(f"{{{ns.XDSB}}}RetrieveDocumentSetRequest", nsmap={"xdsb": ns.XDSB})
    for item in request.documents:
        _ids(sub(element, ns.XDSB, "DocumentRequest"), item.home_community_id, item.repository_unique_id,
             item.document_unique_id)  # fmt: skip
    return element


def parse_retrieve_response(
    element: etree._Element, attachments: Mapping[str, bytes], path: str = "/Envelope/Body"
) -> RetrieveDocumentSetResponse:
    """Read an ITI-43 response; document bytes come from MTOM attachments or inline base64."""
    if element.tag != f"{{{ns.XDSB}}}RetrieveDocumentSetResponse":
        raise XdsWireError(f"expected xdsb:RetrieveDocumentSetResponse, found {local_name(element)}", path)
    path = step(path, "RetrieveDocumentSetResponse")
    status = required_child(element, ns.RS, "RegistryResponse", path)
    registry_response = parse_registry_response(status, step(path, "RegistryResponse"))
    documents = []
    for index, item in enumerate(children(element, ns.XDSB, "DocumentResponse"), 1):
        where = step(path, "DocumentResponse", index)
        content = document_bytes(required_child(item, ns.XDSB, "Document", where), attachments,
                                 step(where, "Document"))  # fmt: skip
        documents.append(RetrievedDocument(
            _required_text(item, "RepositoryUniqueId", where), _required_text(item, "DocumentUniqueId", where),
            _required_text(item, "mimeType", where), content, _optional_text(item, "HomeCommunityId"), where,
        ))  # fmt: skip
    return RetrieveDocumentSetResponse(registry_response, documents, path)


def write_retrieve_response(response: RetrieveDocumentSetResponse) -> etree._Element:
    """The response element with inline base64 documents (package with MTOM to send them as parts)."""
    element = etree.Element(f"{{{ns.XDSB}}}RetrieveDocumentSetResponse", nsmap={"xdsb": ns.XDSB, "rs": ns.RS})
    write_registry_response(response.registry_response, element)
    for item in response.documents:
        holder = sub(element, ns.XDSB, "DocumentResponse")
        _ids(holder, item.home_community_id, item.repository_unique_id, item.document_unique_id)
        sub(holder, ns.XDSB, "mimeType", text=item.mime_type)
        sub(holder, ns.XDSB, "Document", text=base64.b64encode(item.content).decode("ascii"))
    return element
