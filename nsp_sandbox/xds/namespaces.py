"""XML namespaces of the XDS.b wire (SOAP 1.1/1.2, WS-Addressing, XOP, ebRIM/ebRS 3.0, IHE XDS.b)."""

from __future__ import annotations

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://www.w3.org/2005/08/addressing"  # WS-Addressing 1.0 (what IHE ITI TF-2 Appendix V requires)
WSA_2004 = "http://schemas.xmlsoap.org/ws/2004/08/addressing"  # the submission draft, still seen in the wild
XOP = "http://www.w3.org/2004/08/xop/include"
XML = "http://www.w3.org/XML/1998/namespace"

RIM = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"
LCM = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"
QUERY = "urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0"
RS = "urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0"
XDSB = "urn:ihe:iti:xds-b:2007"
RMD = "urn:ihe:iti:rmd:2017"  # ITI-62 Remove Metadata

# Prefixes used when this layer writes XML.
PREFIXES = {"rim": RIM, "lcm": LCM, "query": QUERY, "rs": RS, "xdsb": XDSB, "xop": XOP}


def qname(namespace: str, local: str) -> str:
    """Clark notation ``{namespace}local`` as lxml spells element names."""
    return f"{{{namespace}}}{local}"
