"""FHIR's two wire formats for what actors exchange: FHIR JSON and FHIR XML.

A body is read by its ``Content-Type`` — ``application/fhir+json`` (and the other JSON types
:mod:`nsp_sandbox.fhir_http` takes) or ``application/fhir+xml`` — and answered in the format it came
in. XML is converted to FHIR JSON by the definitions the conformance engine loads
(:mod:`nsp_sandbox.conformance.xml_json`), read strictly: an element FHIR does not define there, an
element given twice where FHIR allows one, or nesting deeper than the JSON reader allows is refused
with 400 naming its path, as the strict JSON reader refuses duplicate keys and deep nesting.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Literal

from fastapi import Request

from nsp_sandbox.fhir_http import ACCEPTED_JSON_TYPES, FHIR_JSON, read_body, read_fhir_json
from nsp_sandbox.outcome import FhirError, Issue

if TYPE_CHECKING:
    from nsp_sandbox.conformance.structure import StructureLibrary

FHIR_XML = "application/fhir+xml"
XML_TYPES = frozenset({FHIR_XML, "application/xml+fhir"})
Format = Literal["json", "xml"]


def media_type(fhir_format: str) -> str:
    return FHIR_XML if fhir_format == "xml" else FHIR_JSON


def format_of(content_type: str) -> Format | None:
    """``json`` / ``xml`` for a FHIR media type, None for anything else."""
    media = content_type.split(";")[0].strip().lower()
    if media in XML_TYPES:
        return "xml"
    if media in ACCEPTED_JSON_TYPES:
        return "json"
    return None


def parse_xml(raw: bytes, library: StructureLibrary, where: str = "Bundle") -> dict[str, Any]:
    """FHIR XML ``raw`` as FHIR JSON, strictly; 400 naming the element (``where`` for the document)."""
    from nsp_sandbox.conformance.xml_json import XmlError, xml_to_json

    try:
        resource = xml_to_json(raw, library, strict=True)
    except XmlError as exc:
        raise FhirError(400, Issue("error", "structure", f"Body refused: {exc}", expression=exc.path or where,
                                   rule=exc.rule)) from None
    return resource


def serialise(resource: dict[str, Any], fhir_format: str, library: StructureLibrary) -> bytes:
    """``resource`` in ``fhir_format`` (``json`` or ``xml``)."""
    if fhir_format == "xml":
        from nsp_sandbox.conformance.xml_json import json_to_xml

        return json_to_xml(resource, library)
    return json.dumps(resource, ensure_ascii=False).encode("utf-8")


async def read_fhir(request: Request, max_bytes: int, library: StructureLibrary) -> tuple[dict[str, Any], Format]:
    """A FHIR JSON or FHIR XML body and its format; 415 for other media types, 413 / 400 as
    :func:`nsp_sandbox.fhir_http.read_fhir_json` says."""
    content_type = request.headers.get("content-type", "")
    fhir_format = format_of(content_type)
    if fhir_format is None:
        media = content_type.split(";")[0].strip().lower()
        raise FhirError(415, Issue("error", "not-supported", f"Content-Type '{media or '(none)'}' is not supported; "
                                   f"send {FHIR_JSON} or {FHIR_XML}", rule="http-content-type"))
    if fhir_format == "json":
        body, _ = await read_fhir_json(request, max_bytes)
        return body, "json"
    return parse_xml(await read_body(request, max_bytes), library), "xml"
