"""``medcom:Header`` (DGWS 1.0.1 "medcom:Header"; dds-nsp.md §1.3): on a request ``SecurityLevel``,
``TimeOut``, ``Linking`` (``FlowID``, ``MessageID``), ``FlowStatus`` and
``RequireNonRepudiationReceipt``; on a response ``Linking/InResponseToMessageID`` and
``FlowStatus`` (``flow_finalized_succesfully`` – spelled as the standard spells it – or the fault
code). Read by namespace: the captures use both a ``medcom:`` prefix and a default namespace."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from lxml import etree

from nsp_sandbox.dgws.faults import DgwsFault
from nsp_sandbox.dgws.namespaces import MEDCOM, NSI_SERVICE, q, soap_header_path
from nsp_sandbox.digits import whole_number

FLOW_RUNNING = "flow_running"
FLOW_FINALIZED = "flow_finalized_succesfully"  # sic, DGWS 1.0.1 FlowStatus enumeration
TIMEOUTS = frozenset({"5", "30", "480", "1440", "unbound"})


@dataclass(frozen=True)
class MedcomHeader:
    security_level: int | None = None
    message_id: str | None = None
    flow_id: str | None = None
    in_response_to: str | None = None
    flow_status: str | None = None
    timeout: str | None = None
    require_non_repudiation_receipt: bool = False
    max_age: str | None = None  # urn:dk.nsi.service maxAge on DDS answers


def find_header(envelope: etree._Element) -> etree._Element | None:
    """The ``medcom:Header`` in the envelope's SOAP header (SOAP 1.1 or 1.2), if any."""
    return envelope.find(f"{soap_header_path(envelope)}/{q(MEDCOM, 'Header')}")


def _text(element: etree._Element, path: str) -> str | None:
    value = element.findtext(path)
    return value.strip() if value and value.strip() else None


def parse_medcom_header(header: etree._Element) -> MedcomHeader:
    """The values in ``header``; ``syntax_error`` when ``SecurityLevel`` is not a number 1–5."""
    level = _text(header, q(MEDCOM, "SecurityLevel"))
    if level is not None and whole_number(level) not in (1, 2, 3, 4, 5):
        raise DgwsFault("syntax_error", f"SecurityLevel '{level[:40]}' is not a DGWS security level 1-5",
                        "medcom:Header/medcom:SecurityLevel")
    linking = f"{q(MEDCOM, 'Linking')}/"
    return MedcomHeader(
        security_level=int(level) if level else None,
        message_id=_text(header, linking + q(MEDCOM, "MessageID")),
        flow_id=_text(header, linking + q(MEDCOM, "FlowID")),
        in_response_to=_text(header, linking + q(MEDCOM, "InResponseToMessageID")),
        flow_status=_text(header, q(MEDCOM, "FlowStatus")),
        timeout=_text(header, q(MEDCOM, "TimeOut")),
        require_non_repudiation_receipt=_text(header, q(MEDCOM, "RequireNonRepudiationReceipt")) == "yes",
        max_age=header.get(q(NSI_SERVICE, "maxAge")),
    )


def build_medcom_header(header: MedcomHeader) -> etree._Element:
    """``header`` as a ``medcom:Header`` element, children in the DGWS schema's order."""
    element = etree.Element(q(MEDCOM, "Header"), nsmap={"medcom": MEDCOM})
    if header.max_age is not None:
        element.set(q(NSI_SERVICE, "maxAge"), header.max_age)
    if header.security_level is not None:
        etree.SubElement(element, q(MEDCOM, "SecurityLevel")).text = str(header.security_level)
    if header.timeout is not None:
        etree.SubElement(element, q(MEDCOM, "TimeOut")).text = header.timeout
    linking = etree.SubElement(element, q(MEDCOM, "Linking"))
    for local, value in (("FlowID", header.flow_id), ("MessageID", header.message_id),
                         ("InResponseToMessageID", header.in_response_to)):
        if value is not None:
            etree.SubElement(linking, q(MEDCOM, local)).text = value
    if header.flow_status is not None:
        etree.SubElement(element, q(MEDCOM, "FlowStatus")).text = header.flow_status
    if header.in_response_to is None:  # requests say whether they want a receipt; answers do not
        etree.SubElement(element, q(MEDCOM, "RequireNonRepudiationReceipt")).text = \
            "yes" if header.require_non_repudiation_receipt else "no"
    return element


def response_header(request: MedcomHeader | None, flow_status: str = FLOW_FINALIZED) -> MedcomHeader:
    """The header answering ``request``: a new ``MessageID``, the request's ``FlowID`` and its
    ``MessageID`` as ``InResponseToMessageID``, and ``flow_status`` (a fault code on faults)."""
    return MedcomHeader(message_id=str(uuid.uuid4()), flow_id=request.flow_id if request else None,
                        in_response_to=(request.message_id if request else None) or "", flow_status=flow_status)
