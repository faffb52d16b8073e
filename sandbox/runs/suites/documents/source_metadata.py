"""The Danish XDS metadata of a registered DocumentReference, as the ``document-source`` suite judges it.

DDS itself refuses what breaks its rules at ``reject`` strictness (``docs/dds.md``, validation layers);
these checks say what a vendor's document must look like whatever strictness the sandbox runs at, in
the vendor's terms: the element, the value seen, the value wanted (dds-nsp.md §1.5, MD096, VS097).
Each function answers the problems it found (empty: none).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from sandbox.runs.suites.documents.watch import CPR_SYSTEM, SOR_SYSTEM, coding_of, contained, identifier_values

CLASS_CODES = ("001", "002", "003", "004", "005", "006")  # DK IHE classCodes (1.2.208.184.100.9)
CONFIDENTIALITY = ("http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "urn:oid:2.16.840.1.113883.5.25")
LANGUAGES = ("da", "da-DK")
UNIQUE_ID = re.compile(r"^(urn:uuid:[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}|urn:oid:[0-2](\.\d+)+"
                       r"|[0-2](\.\d+)+(\^[^\s^]{1,64})?)$")
ENTRY_UUID = re.compile(r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\Z")
ZONED_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})\Z", re.ASCII)
CPR = re.compile(r"^\d{10}\Z", re.ASCII)


def _where(dr: dict[str, Any], path: str) -> str:
    return f"DocumentReference/{dr.get('id')}.{path}"


def _coded(dr: dict[str, Any], path: str, element: Any, codes: tuple[str, ...] = ()) -> list[str]:
    coding = coding_of(element)
    if not coding:
        return [f"{_where(dr, path)} is missing"]
    system, code = coding.get("system"), coding.get("code")
    if not system:
        return [f"{_where(dr, path)} has no system: a code means nothing without its code system"]
    if not code or (codes and code not in codes):
        return [f"{_where(dr, path)}.code is {code!r}; wanted {' or '.join(codes) if codes else 'a code'}"]
    return []


def check_codes(dr: dict[str, Any]) -> list[str]:
    """typeCode, classCode, formatCode, facility, practice setting (each coded, with its system; whether the
    code is in the national value set is DDS's verdict, read from its answer), confidentiality N, mime type,
    language."""
    content = (dr.get("content") or [{}])[0]
    attachment = content.get("attachment") or {}
    context = dr.get("context") or {}
    categories = dr.get("category") or []
    problems = [*_coded(dr, "type.coding[0]", dr.get("type")),
                *(_coded(dr, "category[0].coding[0]", categories[0], CLASS_CODES) if categories
                  else [f"{_where(dr, 'category')} (classCode) is missing"]),
                *_coded(dr, "content[0].format", {"coding": [content.get("format")]} if content.get("format")
                        else None),
                *_coded(dr, "context.facilityType.coding[0]", context.get("facilityType")),
                *_coded(dr, "context.practiceSetting.coding[0]", context.get("practiceSetting"))]
    if len(categories) > 1:
        problems.append(f"{_where(dr, 'category')} has {len(categories)} classCodes; exactly one wanted")
    labels = [coding_of(label) for label in dr.get("securityLabel") or []]
    if len(labels) != 1 or labels[0].get("system") not in CONFIDENTIALITY or labels[0].get("code") != "N":
        problems.append(f"{_where(dr, 'securityLabel')} is {[c.get('code') for c in labels]}; exactly one "
                        f"confidentiality code N ({CONFIDENTIALITY[0]}) wanted: Denmark uses N only")
    if not attachment.get("contentType"):
        problems.append(f"{_where(dr, 'content[0].attachment.contentType')} (mimeType) is missing")
    if attachment.get("language") not in LANGUAGES:
        problems.append(f"{_where(dr, 'content[0].attachment.language')} is {attachment.get('language')!r}; "
                        f"wanted {' or '.join(LANGUAGES)}")
    return problems


def check_identifiers(dr: dict[str, Any], cpr: str) -> list[str]:
    """Patient id (CPR in ``urn:oid:1.2.208.176.1.2``), sourcePatientInfo, uniqueId, entryUUID, creation, title."""
    problems: list[str] = []
    context = dr.get("context") or {}
    for path, reference in (("subject", dr.get("subject")), ("context.sourcePatientInfo",
                                                             context.get("sourcePatientInfo"))):
        values = identifier_values(dr, reference, CPR_SYSTEM)
        if not reference:
            problems.append(f"{_where(dr, path)} is missing; the Danish profile requires it")
        elif not values:
            problems.append(f"{_where(dr, path)} names no patient by CPR ({CPR_SYSTEM})")
        elif any(v != cpr or not CPR.match(v) for v in values):
            problems.append(f"{_where(dr, path)} names CPR {', '.join(values)}; wanted the test citizen {cpr}")
    unique_id = str((dr.get("masterIdentifier") or {}).get("value") or "")
    if not UNIQUE_ID.match(unique_id):
        problems.append(f"{_where(dr, 'masterIdentifier.value')} (uniqueId) is {unique_id!r}; wanted an OID, "
                        "OID^extension, urn:oid:… or urn:uuid:…")
    uuids = [i.get("value") for i in dr.get("identifier") or []
             if isinstance(i, dict) and i.get("system") == "urn:ietf:rfc:3986"]
    if not uuids or not all(isinstance(u, str) and ENTRY_UUID.match(u) for u in uuids):
        problems.append(f"{_where(dr, 'identifier')} (entryUUID) is {uuids}; wanted urn:uuid: and a lower-case "
                        "RFC 4122 UUID")
    attachment = ((dr.get("content") or [{}])[0]).get("attachment") or {}
    creation = str(attachment.get("creation") or "")
    if not ZONED_TIME.match(creation):
        problems.append(f"{_where(dr, 'content[0].attachment.creation')} is {creation!r}; wanted a time with a "
                        "time zone")
    title = attachment.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) >= 128:
        problems.append(f"{_where(dr, 'content[0].attachment.title')} is {title!r}; wanted a title under 128 "
                        "characters")
    return problems


def check_document_and_author(dr: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Hash and size (both, of a stable document; neither, of an on-demand one) and the author institution's
    SOR code; answers the problems and the SOR codes to look up."""
    problems: list[str] = []
    attachment = ((dr.get("content") or [{}])[0]).get("attachment") or {}
    size, digest = attachment.get("size"), attachment.get("hash")
    if (size is None) != (digest is None):
        problems.append(f"{_where(dr, 'content[0].attachment')} has {'size' if digest is None else 'hash'} but not "
                        f"{'hash' if digest is None else 'size'}: a stable document has both, an on-demand one neither")
    if size is not None and (not isinstance(size, int) or size <= 0):
        problems.append(f"{_where(dr, 'content[0].attachment.size')} is {size!r}; wanted the document's length")
    if digest is not None:
        try:
            length = len(base64.b64decode(str(digest), validate=True))
        except (binascii.Error, ValueError):
            length = -1
        if length != 20:
            problems.append(f"{_where(dr, 'content[0].attachment.hash')} is {digest!r}; wanted the SHA-1 (Base64)")
    sors: list[str] = []
    for index, author in enumerate(dr.get("author") or []):
        resource = contained(dr, author)
        if resource is None and not (isinstance(author, dict) and author.get("identifier")):
            problems.append(f"{_where(dr, f'author[{index}]')} cannot be resolved in the DocumentReference")
        elif resource is None or resource.get("resourceType") == "Organization":
            sors.extend(identifier_values(dr, author, SOR_SYSTEM))
    if not sors:
        problems.append(f"{_where(dr, 'author')} names no author institution by SOR code ({SOR_SYSTEM})")
    return problems, list(dict.fromkeys(sors))
