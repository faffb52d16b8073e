"""The parse step of ITI-65: a transaction Bundle sorted by role, and each entry's document found.

400 when the request is not an ITI-65 transaction at all (not a transaction Bundle, entries
without ``request`` or ``fullUrl``, undecodable Base64, more or less than one SubmissionSet, no
new DocumentReference). The DocumentReference's document is a ``Binary`` entry (referenced from
``attachment.url`` by ``fullUrl``), inline ``attachment.data``, or, for an on-demand entry, none:
its absolute http(s) ``attachment.url`` is where its source generates it.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from nsp_sandbox import base64_data
from nsp_sandbox.outcome import FhirError, Issue
from services.dds.domain import Document
from services.dds.mhd import submission_set
from services.dds.mhd.errors import malformed
from services.dds.mhd.references import entry_id_from_reference

SOURCE = "IHE MHD ITI-65 (Provide Document Bundle)"


@dataclass
class ParsedTransaction:
    """The transaction's entries sorted by role, with their indices in the Bundle."""

    submission_set: tuple[int, dict[str, Any]] | None = None
    new_references: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    updated_references: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)  # index, id, resource
    binaries: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)  # fullUrl -> (index, Binary)
    full_urls: dict[int, str] = field(default_factory=dict)


def iti65_issue(expression: str, message: str, rule: str, ihe_code: str | None = "XDSRegistryMetadataError",
                code: str = "invalid") -> Issue:
    """An error of the ITI-65 transaction (``XDSRegistryMetadataError`` unless told)."""
    return Issue("error", code, message, expression=expression, source=SOURCE, rule=rule, ihe_code=ihe_code)


def parse_transaction(bundle: dict[str, Any]) -> ParsedTransaction:
    """Sort the entries of an ITI-65 transaction; raise 400 when it is not one."""
    if bundle.get("resourceType") != "Bundle":
        raise malformed(f"ITI-65 takes a Bundle, not a {bundle.get('resourceType')}", "Bundle",
                        "fhir-resource-type", code="invalid")
    if bundle.get("type") != "transaction":
        raise malformed(f"Bundle.type is '{bundle.get('type')}'; ITI-65 takes a 'transaction' Bundle",
                        "Bundle.type", "iti65-transaction", code="invalid")
    entries = bundle.get("entry")
    if not isinstance(entries, list) or not entries:
        raise malformed("The transaction Bundle has no entries", "Bundle.entry", "iti65-entries", code="required")
    parsed = ParsedTransaction()
    seen_urls: dict[str, int] = {}
    for index, entry in enumerate(entries):
        where = f"Bundle.entry[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
            raise malformed("Every entry needs a resource", f"{where}.resource", "iti65-entry-resource", "required")
        resource = entry["resource"]
        kind = resource.get("resourceType")
        request = entry.get("request")
        method = request.get("method") if isinstance(request, dict) else None
        url = request.get("url") if isinstance(request, dict) else None
        full_url = entry.get("fullUrl")
        if not isinstance(full_url, str) or not full_url:
            raise malformed("Every entry needs a fullUrl (the references between List, DocumentReference "
                            "and Binary use it)", f"{where}.fullUrl", "iti65-full-url", "required")
        if full_url in seen_urls:
            raise malformed(f"fullUrl '{full_url}' is also used by Bundle.entry[{seen_urls[full_url]}]",
                            f"{where}.fullUrl", "iti65-full-url-unique", "invalid")
        seen_urls[full_url] = index
        parsed.full_urls[index] = full_url
        if method not in ("POST", "PUT") or not isinstance(url, str):
            raise malformed("Every entry needs request.method POST (or PUT for a superseded "
                            "DocumentReference) and request.url", f"{where}.request", "iti65-entry-request",
                            "required")
        if kind == "DocumentReference" and method == "PUT":
            target = entry_id_from_reference(url)
            if target is None:
                raise malformed(f"request.url '{url}' of a PUT must be DocumentReference/{{id}}",
                                f"{where}.request.url", "iti65-entry-request", "invalid")
            parsed.updated_references.append((index, target, resource))
        elif method != "POST":
            raise malformed(f"A {kind} is provided with POST, not {method}", f"{where}.request.method",
                            "iti65-entry-request", "invalid")
        elif kind == "DocumentReference":
            parsed.new_references.append((index, resource))
        elif kind == "Binary":
            parsed.binaries[full_url] = (index, resource)
        elif kind == "List":
            list_kind = submission_set.list_kind(resource)
            if list_kind == "folder":
                raise FhirError(422, iti65_issue(f"{where}.resource.code", "Folders are not supported by this "
                                                 "registry (the Danish XDS domain uses none)", "iti65-folder",
                                                 ihe_code=None, code="not-supported"))
            if list_kind != "submissionset":
                raise malformed("A List in ITI-65 must be the SubmissionSet (code 'submissionset' from "
                                f"{submission_set.LIST_TYPES})", f"{where}.resource.code",
                                "iti65-submission-set-code", "invalid")
            if parsed.submission_set is not None:
                raise malformed("The transaction holds more than one SubmissionSet", f"{where}.resource",
                                "iti65-one-submission-set", "invalid")
            parsed.submission_set = (index, resource)
        else:
            raise malformed(f"A {kind} entry is not part of ITI-65 here (List, DocumentReference and Binary "
                            "are)", f"{where}.resource", "iti65-resource-types", "not-supported")
    if parsed.submission_set is None:
        raise malformed("The transaction has no SubmissionSet List", "Bundle.entry", "iti65-one-submission-set",
                        "required")
    if not parsed.new_references:
        raise malformed("The transaction has no new DocumentReference", "Bundle.entry",
                        "iti65-document-reference", "required")
    return parsed


def _decode(data: object, expression: str) -> bytes:
    if not isinstance(data, str):
        raise malformed("The document content (base64Binary) is missing", expression, "iti65-document-data",
                        "required")
    try:
        return base64_data.decode(data, whitespace=True)
    except (binascii.Error, ValueError):
        raise malformed("The document content is not valid Base64", expression, "iti65-document-data",
                        "invalid") from None


def document_of(parsed: ParsedTransaction, resource: dict[str, Any], origin: str,
              used: set[str]) -> tuple[Document | None, str, str, int | None] | Issue:
    """The document a DocumentReference describes: (document, mime type, where it sits, Binary index),
    or the issue why there is none; 400 for content that is not Base64. ``used`` collects the
    ``fullUrl`` of each Binary read.

    The document is None for an on-demand entry (its source generates it when retrieved).
    """
    contents = resource.get("content")
    first = contents[0] if isinstance(contents, list) and contents and isinstance(contents[0], dict) else {}
    attachment = first.get("attachment") if isinstance(first.get("attachment"), dict) else {}
    where = f"{origin}.content[0].attachment"
    url = attachment.get("url")
    declared = attachment.get("contentType")
    if isinstance(url, str) and url in parsed.binaries:
        index, binary = parsed.binaries[url]
        used.add(url)
        content = _decode(binary.get("data"), f"Bundle.entry[{index}].resource.data")
        binary_type = binary.get("contentType")
        if isinstance(declared, str) and isinstance(binary_type, str) and declared != binary_type:
            return iti65_issue(f"{where}.contentType", f"attachment.contentType '{declared}' differs from the "
                               f"Binary's contentType '{binary_type}'", "iti65-content-type")
        mime_type = declared if isinstance(declared, str) else binary_type
        location = f"Bundle.entry[{index}].resource.data"
        binary_index: int | None = index
    elif attachment.get("data") is not None:
        content = _decode(attachment.get("data"), f"{where}.data")
        mime_type = declared
        location = f"{where}.data"
        binary_index = None
    elif is_source_url(url) and attachment.get("hash") is None and attachment.get("size") is None:
        if not isinstance(declared, str) or not declared:
            return iti65_issue(f"{where}.contentType", "An on-demand entry needs the mime type of the document "
                               "its source generates (attachment.contentType)", "iti65-content-type",
                               code="required")
        return None, declared, f"{where}.url", None
    else:
        hint = (" (an on-demand entry, whose source generates the document when it is retrieved, has an "
                "absolute http(s) attachment.url and neither hash nor size)" if is_source_url(url) else "")
        return iti65_issue(f"{where}.url", f"The document is missing: attachment.url '{url}' names no Binary "
                           f"entry's fullUrl and there is no attachment.data{hint}", "iti65-document-present",
                           ihe_code="XDSMissingDocument", code="required")
    if not isinstance(mime_type, str) or not mime_type:
        return iti65_issue(f"{where}.contentType", "The document's mime type is missing (attachment.contentType)",
                           "iti65-content-type", code="required")
    return Document.of(content), mime_type, location, binary_index



def is_source_url(url: object) -> bool:
    """Whether ``url`` is an absolute http(s) URL: where an on-demand source generates its document."""
    if not isinstance(url, str) or any(c.isspace() for c in url):
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def source_url_of(resource: dict[str, Any]) -> str:
    """``content[0].attachment.url`` of a DocumentReference already found to be an on-demand one."""
    return str(resource["content"][0]["attachment"]["url"])
