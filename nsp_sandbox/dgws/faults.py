"""DGWS faults (DGWS 1.0.1 fault table; dds-nsp.md §1.4): a :class:`DgwsFault` value naming the
``medcom:FaultCode``, and the SOAP 1.1 fault envelope that carries it, answered with HTTP 500 as
SOAP 1.1 §6.2 and DGWS require. The response's ``medcom:Header`` repeats the code as ``FlowStatus``."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Response
from lxml import etree

from nsp_sandbox.dgws.namespaces import MEDCOM, SOAP, q

FAULT_CODES = frozenset({
    "syntax_error", "missing_required_header", "security_level_failed", "invalid_username_password",
    "invalid_signature", "invalid_idcard", "invalid_certificate", "expired_idcard", "not_authorized",
    "illegal_http_method", "processing_problem", "nonrepudiation_not_supported",
})
SERVER_SIDE = frozenset({"processing_problem"})  # every other code blames the request (soap:Client)
HTTP_STATUS = 500
CONTENT_TYPE = "text/xml; charset=utf-8"


@dataclass(eq=False)
class DgwsFault(Exception):
    """A DGWS fault: ``code`` is a ``medcom:FaultCode``, ``message`` says what is wrong and
    ``where`` names the element or attribute concerned (empty when the whole message is)."""

    code: str
    message: str
    where: str = ""

    def __post_init__(self) -> None:
        if self.code not in FAULT_CODES:
            raise ValueError(f"'{self.code}' is no DGWS fault code")

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" + (f" ({self.where})" if self.where else "")


def fault_element(fault: DgwsFault) -> etree._Element:
    """The ``soap:Fault`` body element: ``faultcode`` (Client/Server), ``faultstring`` and
    ``detail/medcom:FaultCode``."""
    element = etree.Element(q(SOAP, "Fault"), nsmap={"soap": SOAP, "medcom": MEDCOM})
    code = etree.SubElement(element, "faultcode")
    code.text = "soap:Server" if fault.code in SERVER_SIDE else "soap:Client"
    etree.SubElement(element, "faultstring").text = str(fault)
    detail = etree.SubElement(element, "detail")
    etree.SubElement(detail, q(MEDCOM, "FaultCode")).text = fault.code
    return element


def fault_envelope(fault: DgwsFault, header: etree._Element | None = None) -> bytes:
    """A whole SOAP 1.1 envelope carrying ``fault``, with ``header`` (a ``medcom:Header``) if given."""
    envelope = etree.Element(q(SOAP, "Envelope"), nsmap={"soap": SOAP})
    soap_header = etree.SubElement(envelope, q(SOAP, "Header"))
    if header is not None:
        soap_header.append(header)
    etree.SubElement(envelope, q(SOAP, "Body")).append(fault_element(fault))
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")


def read_fault(envelope: bytes) -> DgwsFault | None:
    """The DGWS fault an answer carries, or ``None`` when it is no DGWS fault (for clients and tests)."""
    try:
        root = etree.fromstring(envelope, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return None
    code = root.find(f".//{q(SOAP, 'Fault')}/detail/{q(MEDCOM, 'FaultCode')}")
    if code is None or (code.text or "") not in FAULT_CODES:
        return None
    text = root.findtext(f".//{q(SOAP, 'Fault')}/faultstring") or ""
    return DgwsFault(code.text or "", text)


def fault_response(fault: DgwsFault, header: etree._Element | None = None) -> Response:
    """``fault`` as the HTTP answer: a SOAP 1.1 fault envelope with status 500."""
    return Response(fault_envelope(fault, header), status_code=HTTP_STATUS, media_type=CONTENT_TYPE)
