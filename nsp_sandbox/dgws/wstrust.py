"""The SOSI STS's WS-Trust exchange (DGWS 1.0.1 "STS"; dds-nsp.md §1.3): a SOAP 1.1
``wst:RequestSecurityToken`` (``Context="www.sosi.dk"``, TokenType SAML 2.0 assertion, RequestType
Issue) whose ``wst:Claims`` hold the ID card the caller signed with its own certificate, answered
by a ``wst:RequestSecurityTokenResponse`` carrying the STS-signed card. The SOSI STS speaks the
2005/02 trust namespace; WS-Trust 1.3's is accepted too and answered in kind."""

from __future__ import annotations

from datetime import datetime

from lxml import etree

from nsp_sandbox.dgws.faults import DgwsFault
from nsp_sandbox.dgws.namespaces import SAML, SOAP, WSA, WSSE, WST, WST13, WSU, q
from nsp_sandbox.dgws.responses import envelope
from nsp_sandbox.dgws.xmltime import format_instant

CONTEXT = "www.sosi.dk"
TOKEN_TYPE = "urn:oasis:names:tc:SAML:2.0:assertion:"
ISSUE = {WST: "http://schemas.xmlsoap.org/ws/2005/02/security/trust/Issue",
         WST13: "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue"}
STATUS_VALID = {WST: "http://schemas.xmlsoap.org/ws/2005/02/trust/status/valid",
                WST13: "http://docs.oasis-open.org/ws-sx/ws-trust/200512/status/valid"}


def build_request(signed_card: etree._Element, issuer: str, now: datetime, trust_ns: str = WST) -> bytes:
    """A whole RequestSecurityToken envelope asking the STS to issue a card for ``signed_card``."""
    security = etree.Element(q(WSSE, "Security"), nsmap={"wsse": WSSE, "wsu": WSU})
    etree.SubElement(etree.SubElement(security, q(WSU, "Timestamp")), q(WSU, "Created")).text = format_instant(now)
    rst = etree.Element(q(trust_ns, "RequestSecurityToken"), nsmap={"wst": trust_ns, "wsa": WSA}, Context=CONTEXT)
    etree.SubElement(rst, q(trust_ns, "TokenType")).text = TOKEN_TYPE
    etree.SubElement(rst, q(trust_ns, "RequestType")).text = ISSUE[trust_ns]
    etree.SubElement(rst, q(trust_ns, "Claims")).append(signed_card)
    etree.SubElement(etree.SubElement(rst, q(trust_ns, "Issuer")), q(WSA, "Address")).text = issuer
    return envelope(rst, [security])


def parse_request(root: etree._Element) -> tuple[etree._Element, str]:
    """The card in a RequestSecurityToken envelope and the trust namespace it used (``syntax_error``
    naming what is missing)."""
    body = root.find(q(SOAP, "Body"))
    rst = next((e for e in (body if body is not None else []) if isinstance(e.tag, str)), None)
    name = etree.QName(rst) if rst is not None else None
    if rst is None or name is None or name.namespace not in ISSUE or name.localname != "RequestSecurityToken":
        raise DgwsFault("syntax_error", "The body must be a wst:RequestSecurityToken", "soap:Body")
    trust_ns = name.namespace
    request_type = (rst.findtext(q(trust_ns, "RequestType")) or "").strip()
    if request_type and request_type != ISSUE[trust_ns]:
        raise DgwsFault("syntax_error", f"Only Issue is supported, not {request_type}", "wst:RequestType")
    card = rst.find(f"{q(trust_ns, 'Claims')}/{q(SAML, 'Assertion')}")
    if card is None:
        raise DgwsFault("syntax_error", "wst:Claims must hold the ID card (saml:Assertion) to issue",
                        "wst:RequestSecurityToken/wst:Claims")
    return card, trust_ns


def build_response(issued: etree._Element, issuer: str, created: datetime, expires: datetime,
                   trust_ns: str = WST) -> bytes:
    """A RequestSecurityTokenResponse envelope carrying the ``issued`` (STS-signed) card."""
    rstr = etree.Element(q(trust_ns, "RequestSecurityTokenResponse"),
                         nsmap={"wst": trust_ns, "wsa": WSA, "wsu": WSU}, Context=CONTEXT)
    etree.SubElement(rstr, q(trust_ns, "TokenType")).text = TOKEN_TYPE
    etree.SubElement(rstr, q(trust_ns, "RequestedSecurityToken")).append(issued)
    etree.SubElement(etree.SubElement(rstr, q(trust_ns, "Status")), q(trust_ns, "Code")).text = \
        STATUS_VALID[trust_ns]
    etree.SubElement(etree.SubElement(rstr, q(trust_ns, "Issuer")), q(WSA, "Address")).text = issuer
    lifetime = etree.SubElement(rstr, q(trust_ns, "Lifetime"))
    etree.SubElement(lifetime, q(WSU, "Created")).text = format_instant(created)
    etree.SubElement(lifetime, q(WSU, "Expires")).text = format_instant(expires)
    return envelope(rstr, [])


def read_response(answer: bytes) -> etree._Element:
    """The issued card in a RequestSecurityTokenResponse (``syntax_error`` when there is none)."""
    try:
        root = etree.fromstring(answer, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise DgwsFault("syntax_error", f"The STS answer is not well-formed XML: {exc}") from exc
    for trust_ns in ISSUE:
        card = root.find(f"{q(SOAP, 'Body')}/{q(trust_ns, 'RequestSecurityTokenResponse')}/"
                         f"{q(trust_ns, 'RequestedSecurityToken')}/{q(SAML, 'Assertion')}")
        if card is not None:
            return card
    raise DgwsFault("syntax_error", "The STS answer carries no RequestedSecurityToken/saml:Assertion", "soap:Body")
