"""Name and address protection (CPR protection type 00001): a protected citizen's documents are
shown, but their address never is to a user who is not a public authority. Here that is every
citizen user other than the protected citizen themself (relatives, parents, fuldmagt holders);
professionals and systems act for the public health service. DDS strips ``Patient.address`` from
the DocumentReference it serves and from FHIR JSON documents it hands out."""

from __future__ import annotations

import json
from typing import Any

from lxml import etree

from nsp_sandbox.outcome import FhirError, Issue
from nsp_sandbox.tokens import Principal

SOURCE = "CPR name and address protection (type 00001); DESIGN: never exposed to non-authority users"

PROTECTED_TYPES = ("application/fhir+json", "application/json", "application/json+fhir")


def must_hide(principal: Principal, cpr: str, person: dict[str, Any] | None) -> bool:
    protected = bool(person and person.get("name_and_address_protected"))
    return protected and principal.is_citizen and principal.acting_cpr != cpr


def strip_addresses(resource: Any) -> Any:
    """``resource`` with the ``address`` of every Patient inside it removed."""
    if isinstance(resource, dict):
        out = {k: strip_addresses(v) for k, v in resource.items()
               if not (k == "address" and resource.get("resourceType") == "Patient")}
        return out
    if isinstance(resource, list):
        return [strip_addresses(v) for v in resource]
    return resource


def strip_document(content: bytes, mime_type: str) -> bytes:
    """The document without patient addresses: FHIR JSON (``Patient.address``), FHIR XML and CDA
    (``recordTarget``'s ``addr``). A document that cannot be read as one of these is withheld (403)
    rather than handed out with an address in it."""
    kind = mime_type.split(";")[0].strip().lower()
    try:
        if kind in PROTECTED_TYPES:
            return json.dumps(strip_addresses(json.loads(content)), ensure_ascii=False).encode("utf-8")
        if kind.endswith("xml"):
            return _strip_xml(content)
    except (UnicodeDecodeError, ValueError, etree.XMLSyntaxError):
        pass
    raise FhirError(403, Issue("error", "forbidden", "The citizen has name and address protection and this "
                               f"document ({kind}) cannot be shown without the risk of showing the address",
                               rule="dds-address-protection", source=SOURCE))


def _strip_xml(content: bytes) -> bytes:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    root = etree.fromstring(content, parser)
    found = root.xpath("//v3:recordTarget//v3:addr | //f:Patient/f:address",
                       namespaces={"v3": "urn:hl7-org:v3", "f": "http://hl7.org/fhir"})
    for element in found:
        element.getparent().remove(element)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")  # type: ignore[no-any-return]
