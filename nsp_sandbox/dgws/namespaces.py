"""The XML namespaces of DGWS 1.0.1 messages, exactly as the real DDS captures spell them
(dds-nsp.md §1.3), and a helper for Clark names."""

from __future__ import annotations

from lxml import etree

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"  # SOAP 1.1: DGWS is SOAP 1.1 only
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
MEDCOM = "http://www.medcom.dk/dgws/2006/04/dgws-1.0.xsd"
SOSI = "http://www.sosi.dk/sosi/2006/04/sosi-1.0.xsd"
HSUID = "http://www.nsi.dk/hsuid/2016/08/hsuid-1.1.xsd"
WSA = "http://www.w3.org/2005/08/addressing"
WST = "http://schemas.xmlsoap.org/ws/2005/02/trust"  # WS-Trust as the SOSI STS speaks it
WST13 = "http://docs.oasis-open.org/ws-sx/ws-trust/200512"  # WS-Trust 1.3, accepted as well
NSI_SERVICE = "urn:dk.nsi.service"

# The prefixes the captured DGWS envelopes use (serialisation only; parsing goes by namespace).
NSMAP: dict[str | None, str] = {
    "soap": SOAP, "wsse": WSSE, "wsu": WSU, "saml": SAML, "ds": DS, "medcom": MEDCOM, "sosi": SOSI,
}


def soap_header_path(envelope: etree._Element) -> str:
    """The path of an envelope's SOAP header, in the envelope's own SOAP version (1.1 or 1.2): the DGWS
    and HSUID header blocks are the same in both."""
    namespace = etree.QName(envelope).namespace or SOAP
    return f"{{{namespace}}}Header"


def q(namespace: str, local: str) -> str:
    """The Clark name ``{namespace}local`` lxml uses for an element or attribute."""
    return f"{{{namespace}}}{local}"
