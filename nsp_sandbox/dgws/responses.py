"""DGWS answers (DGWS 1.0.1; dds-nsp.md §1.3–1.4): a SOAP 1.1 envelope whose ``soap:Header``
carries the ``medcom:Header`` answering the request (``InResponseToMessageID``, ``FlowStatus``),
with a body (HTTP 200) or a DGWS fault (HTTP 500, ``FlowStatus`` = the fault code)."""

from __future__ import annotations

from fastapi import Response
from lxml import etree

from nsp_sandbox.dgws.faults import CONTENT_TYPE, DgwsFault, fault_response
from nsp_sandbox.dgws.medcom_header import FLOW_FINALIZED, MedcomHeader, build_medcom_header, response_header
from nsp_sandbox.dgws.namespaces import SOAP, q


def envelope(body: etree._Element, headers: list[etree._Element]) -> bytes:
    """A SOAP 1.1 envelope with ``headers`` in ``soap:Header`` and ``body`` in ``soap:Body``."""
    root = etree.Element(q(SOAP, "Envelope"), nsmap={"soap": SOAP})
    soap_header = etree.SubElement(root, q(SOAP, "Header"))
    for header in headers:
        soap_header.append(header)
    etree.SubElement(root, q(SOAP, "Body")).append(body)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def answer(body: etree._Element, request: MedcomHeader | None) -> Response:
    """A successful DGWS answer to ``request``: ``FlowStatus`` ``flow_finalized_succesfully``."""
    header = build_medcom_header(response_header(request, FLOW_FINALIZED))
    return Response(envelope(body, [header]), media_type=CONTENT_TYPE)


def fault_answer(fault: DgwsFault, request: MedcomHeader | None) -> Response:
    """``fault`` answering ``request`` (HTTP 500), its code repeated as ``FlowStatus``."""
    return fault_response(fault, build_medcom_header(response_header(request, fault.code)))
