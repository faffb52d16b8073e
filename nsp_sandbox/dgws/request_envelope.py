"""A DGWS 1.0.1 request as a client sends it (dds-nsp.md §1.3): ``soap:Header`` with
``wsse:Security`` (``wsu:Timestamp`` and the signed ID card), ``medcom:Header`` and, for ITI-18/43,
the HSUID header; the operation in ``soap:Body``."""

from __future__ import annotations

from datetime import datetime

from lxml import etree

from nsp_sandbox.dgws.hsuid import Hsuid, build_hsuid
from nsp_sandbox.dgws.medcom_header import MedcomHeader, build_medcom_header
from nsp_sandbox.dgws.namespaces import WSSE, WSU, q
from nsp_sandbox.dgws.responses import envelope
from nsp_sandbox.dgws.xmltime import format_instant


def security_header(signed_card: etree._Element, now: datetime) -> etree._Element:
    """``wsse:Security`` with ``wsu:Timestamp/wsu:Created`` = ``now`` and ``signed_card``."""
    security = etree.Element(q(WSSE, "Security"), nsmap={"wsse": WSSE, "wsu": WSU})
    etree.SubElement(etree.SubElement(security, q(WSU, "Timestamp")), q(WSU, "Created")).text = format_instant(now)
    security.append(signed_card)
    return security


def request_envelope(signed_card: etree._Element, header: MedcomHeader, body: etree._Element, now: datetime,
                     hsuid: Hsuid | None = None) -> bytes:
    """The whole SOAP 1.1 request."""
    headers = [security_header(signed_card, now), build_medcom_header(header)]
    if hsuid is not None:
        headers.append(build_hsuid(hsuid))
    return envelope(body, headers)
