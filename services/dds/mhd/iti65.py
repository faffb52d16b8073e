"""ITI-65 Provide Document Bundle: a transaction Bundle in, a transaction-response Bundle out.

The Bundle holds one SubmissionSet ``List``, one or more new ``DocumentReference`` entries (POST),
their documents as ``Binary`` entries (referenced from ``attachment.url`` by ``fullUrl``) or inline
``attachment.data``, and optionally earlier DocumentReferences set to ``superseded`` (PUT, the MHD
UpdateDocumentRefs form of a replacement).

An **on-demand** entry (XDS objectType On-Demand) has no document yet: its ``attachment.url`` is
the absolute http(s) URL where its source generates the document when DDS retrieves it, with
``contentType`` and without ``data``, ``hash`` or ``size`` (XDS prohibits hash and size for
On-Demand; IHE MHD 4.2 carries such entries the same way). Everything else about it is checked
as for a stable entry. Processing is all or nothing:

1. the shape of the transaction (400 when it is not an ITI-65 request at all);
2. per DocumentReference: its document, size and hash, the profile layer, the Danish metadata
   rules, the mapping to a DocumentEntry; the SubmissionSet likewise; patients and ids consistent
   within the message;
3. the registry checks and stores it in one database transaction (duplicates, associations).

Warnings come back in the transaction-response, in ``response.outcome`` of the entry they concern.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from nsp_sandbox.fhir_http import FhirJSONResponse, read_fhir_json
from nsp_sandbox.outcome import FhirError, Issue, operation_outcome
from services.dds.domain import (
    AvailabilityStatus,
    Document,
    DocumentEntry,
    PatientId,
    RegistryError,
    StatusUpdate,
    Submission,
)
from services.dds.mhd import document_reference, submission_set
from services.dds.mhd.deps import Deps
from services.dds.mhd.errors import malformed, refuse
from services.dds.mhd.references import entry_id_from_reference, patient_of
from services.dds.mhd.status_only import only_status_changes
from services.dds.registry import Registry
from services.dds.validation import ContentValidation

SOURCE = "IHE MHD ITI-65 (Provide Document Bundle)"
_ENTRY_INDEX = re.compile(r"^Bundle\.entry\[(\d+)\]")


@dataclass
class _Parsed:
    """The transaction's entries sorted by role, with their indices in the Bundle."""

    submission_set: tuple[int, dict[str, Any]] | None = None
    new_references: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    updated_references: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)  # index, id, resource
    binaries: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)  # fullUrl -> (index, Binary)
    full_urls: dict[int, str] = field(default_factory=dict)


def _issue(expression: str, message: str, rule: str, ihe_code: str | None = "XDSRegistryMetadataError",
           code: str = "invalid") -> Issue:
    return Issue("error", code, message, expression=expression, source=SOURCE, rule=rule, ihe_code=ihe_code)


def _unreadable(origin: str, what: str, exc: Exception) -> Issue:
    return Issue("error", "structure", f"{origin} cannot be read as a {what} ({type(exc).__name__}: {exc}); "
                 "check it against the FHIR R4 structure", expression=origin, source=SOURCE,
                 rule="iti65-readable", ihe_code="XDSRegistryMetadataError")


def parse_transaction(bundle: dict[str, Any]) -> _Parsed:
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
    parsed = _Parsed()
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
                raise FhirError(422, _issue(f"{where}.resource.code", "Folders are not supported by this "
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
        return base64.b64decode("".join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        raise malformed("The document content is not valid Base64", expression, "iti65-document-data",
                        "invalid") from None


class ProvideDocumentBundle:
    """The ITI-65 Document Recipient of DDS."""

    def __init__(self, registry: Registry, validation: ContentValidation) -> None:
        self.registry = registry
        self.validation = validation

    def provide(self, bundle: dict[str, Any], now: datetime, document_url: Callable[[str], str],
                submitter: str | None = None) -> dict[str, Any]:
        """Register the transaction; answer the transaction-response, or raise ``FhirError``.

        ``submitter`` is the persona of the providing token (None with access control off): the
        source that may later change the status of the entries registered here.
        """
        try:
            return self._provide(bundle, now, document_url, submitter)
        except (TypeError, AttributeError, KeyError, ValueError, IndexError) as exc:
            # Only reachable with the structure layer weakened (validation_structure off / log / warning):
            # whatever the mapping cannot read is refused, never a server error.
            raise refuse([_unreadable("Bundle", "ITI-65 transaction", exc)]) from None

    def _provide(self, bundle: dict[str, Any], now: datetime, document_url: Callable[[str], str],
                 submitter: str | None) -> dict[str, Any]:
        parsed = parse_transaction(bundle)
        issues: list[Issue] = []
        used_binaries: set[str] = set()
        entries: list[DocumentEntry] = []
        binary_owner: dict[int, str] = {}  # Binary entry index -> id of the entry whose document it is

        for index, resource in parsed.new_references:
            origin = f"Bundle.entry[{index}].resource"
            structure = self.validation.check_structure(resource, origin)
            issues.extend(structure)
            if any(i.is_error for i in structure):
                continue  # not a readable DocumentReference: the other layers would only echo this
            found = self._document(parsed, resource, origin, used_binaries)
            if isinstance(found, Issue):
                issues.append(found)
                continue
            document, mime_type, where, binary_index = found
            if document is not None:
                issues.extend(self.validation.check_document(document.content, mime_type, where, entry=resource,
                                                             entry_origin=origin))
            issues.extend(self.validation.check_resource(resource, origin))
            issues.extend(self.validation.check_document_reference(resource, origin))
            source_url = source_url_of(resource) if document is None else None
            entry, problems = document_reference.to_entry(resource, origin, document, mime_type, now,
                                                          source_url=source_url)
            issues.extend(problems)
            if entry is not None:
                entries.append(entry)
                if binary_index is not None:
                    binary_owner[binary_index] = entry.id

        for full_url, (index, _) in parsed.binaries.items():
            if full_url not in used_binaries:
                issues.append(_issue(f"Bundle.entry[{index}]", f"Binary '{full_url}' is referenced by no "
                                     "DocumentReference (attachment.url)", "iti65-binary-referenced",
                                     ihe_code="XDSMissingDocumentMetadata"))

        set_index, list_resource = parsed.submission_set  # type: ignore[misc]
        set_origin = f"Bundle.entry[{set_index}].resource"
        structure = self.validation.check_structure(list_resource, set_origin)
        if any(i.is_error for i in structure):
            raise refuse(issues + structure)
        issues.extend(structure)
        issues.extend(self.validation.check_resource(list_resource, set_origin))
        issues.extend(self.validation.check_submission_set(list_resource, set_origin))
        issues.extend(_check_members(parsed, list_resource, set_origin))
        patient = _submission_patient(list_resource, set_origin, entries, issues)
        issues.extend(_check_unique_in_message(entries))
        status_updates = self._status_updates(parsed, document_url, issues)

        if patient is None:
            raise refuse(issues)
        sset, problems = submission_set.to_submission_set(
            list_resource, set_origin, patient, [e.id for e in entries], now)
        issues.extend(problems)
        submission = Submission(sset, entries, status_updates, submitter)
        if any(i.is_error for i in issues):
            # Refused already: add what the registry would say too, so the client sees everything at once.
            raise refuse(self.registry.check(submission) + issues)
        try:
            self.registry.register(submission, now)
        except RegistryError as exc:
            raise refuse(exc.issues + issues) from None
        return _response(bundle, parsed, sset.id, entries, binary_owner, status_updates, issues, now,
                         document_url)

    def _document(self, parsed: _Parsed, resource: dict[str, Any], origin: str,
                  used: set[str]) -> tuple[Document | None, str, str, int | None] | Issue:
        """The document a DocumentReference describes: (document, mime type, where it sits, Binary index).

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
                return _issue(f"{where}.contentType", f"attachment.contentType '{declared}' differs from the "
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
                return _issue(f"{where}.contentType", "An on-demand entry needs the mime type of the document "
                              "its source generates (attachment.contentType)", "iti65-content-type",
                              code="required")
            return None, declared, f"{where}.url", None
        else:
            hint = (" (an on-demand entry, whose source generates the document when it is retrieved, has an "
                    "absolute http(s) attachment.url and neither hash nor size)" if is_source_url(url) else "")
            return _issue(f"{where}.url", f"The document is missing: attachment.url '{url}' names no Binary "
                          f"entry's fullUrl and there is no attachment.data{hint}", "iti65-document-present",
                          ihe_code="XDSMissingDocument", code="required")
        if not isinstance(mime_type, str) or not mime_type:
            return _issue(f"{where}.contentType", "The document's mime type is missing (attachment.contentType)",
                          "iti65-content-type", code="required")
        return Document.of(content), mime_type, location, binary_index

    def _status_updates(self, parsed: _Parsed, document_url: Callable[[str], str],
                        issues: list[Issue]) -> list[StatusUpdate]:
        updates: list[StatusUpdate] = []
        for index, entry_id, resource in parsed.updated_references:
            origin = f"Bundle.entry[{index}].resource"
            if resource.get("status") != AvailabilityStatus.SUPERSEDED.value:
                issues.append(_issue(f"{origin}.status", "A DocumentReference updated in ITI-65 "
                                     "(UpdateDocumentRefs) must be set to 'superseded'", "iti65-update-superseded",
                                     code="value"))
                continue
            stored = self.registry.get_entry(entry_id)
            if stored is None:
                issues.append(_issue(f"Bundle.entry[{index}].request.url", f"DocumentReference/{entry_id} "
                                     "is not in the registry", "dds-entry-exists", ihe_code="XDSMissingDocument",
                                     code="not-found"))
                continue
            served = document_reference.to_fhir(stored, document_url(entry_id))
            issues.extend(only_status_changes(served, {**resource, "id": entry_id}, origin))
            updates.append(StatusUpdate(entry_id, AvailabilityStatus.SUPERSEDED, origin))
        return updates


def is_source_url(url: object) -> bool:
    """Whether ``url`` is an absolute http(s) URL: where an on-demand source generates its document."""
    if not isinstance(url, str) or any(c.isspace() for c in url):
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def source_url_of(resource: dict[str, Any]) -> str:
    """``content[0].attachment.url`` of a DocumentReference already found to be an on-demand one."""
    return str(resource["content"][0]["attachment"]["url"])


def _check_members(parsed: _Parsed, list_resource: dict[str, Any], origin: str) -> list[Issue]:
    """The SubmissionSet lists exactly the new DocumentReferences (by fullUrl)."""
    issues: list[Issue] = []
    new_urls = {parsed.full_urls[index]: index for index, _ in parsed.new_references}
    listed: set[str] = set()
    for position, item in enumerate(list_resource.get("entry") or []):
        reference = ((item or {}).get("item") or {}).get("reference") if isinstance(item, dict) else None
        if reference in new_urls:
            listed.add(reference)
        else:
            issues.append(_issue(f"{origin}.entry[{position}].item", f"SubmissionSet entry '{reference}' is not "
                                 "the fullUrl of a DocumentReference in this transaction", "iti65-members"))
    for url, index in new_urls.items():
        if url not in listed:
            issues.append(_issue(f"Bundle.entry[{index}].resource", f"DocumentReference '{url}' is not listed "
                                 "in the SubmissionSet (List.entry.item)", "iti65-members"))
    return issues


def _submission_patient(list_resource: dict[str, Any], origin: str, entries: list[DocumentEntry],
                        issues: list[Issue]) -> PatientId | None:
    """The patient of the submission; every entry must be that patient's."""
    patient = patient_of(list_resource)
    if patient is None and entries:
        patient = entries[0].patient
    if patient is None:
        issues.append(_issue(f"{origin}.subject", "The SubmissionSet does not identify its patient",
                             "dds-patient-present", code="required"))
        return None
    for entry in entries:
        if (entry.patient.system, entry.patient.value) != (patient.system, patient.value):
            issues.append(Issue(
                "error", "business-rule",
                f"The DocumentReference's patient ({entry.patient}) is not the SubmissionSet's ({patient})",
                expression=f"{entry.origin}.subject", source="IHE ITI TF-3 4.2.2.1.1 (one patient per submission)",
                rule="dds-same-patient", ihe_code="XDSPatientIdDoesNotMatch"))
    return patient


def _check_unique_in_message(entries: list[DocumentEntry]) -> list[Issue]:
    issues: list[Issue] = []
    seen_unique: dict[str, str] = {}
    seen_uuid: dict[str, str] = {}
    for entry in entries:
        if entry.unique_id in seen_unique:
            issues.append(Issue(
                "error", "duplicate", f"uniqueId '{entry.unique_id}' is also used by {seen_unique[entry.unique_id]}",
                expression=f"{entry.origin}.masterIdentifier", source=SOURCE, rule="dds-unique-id",
                ihe_code="XDSRegistryDuplicateUniqueIdInMessage"))
        seen_unique.setdefault(entry.unique_id, entry.origin)
        if entry.entry_uuid in seen_uuid:
            issues.append(Issue(
                "error", "duplicate", f"entryUUID '{entry.entry_uuid}' is also used by {seen_uuid[entry.entry_uuid]}",
                expression=f"{entry.origin}.identifier", source=SOURCE, rule="dds-unique-id",
                ihe_code="XDSRegistryDuplicateUniqueIdInMessage"))
        seen_uuid.setdefault(entry.entry_uuid, entry.origin)
    return issues


def _response(bundle: dict[str, Any], parsed: _Parsed, set_id: str, entries: list[DocumentEntry],
              binary_owner: dict[int, str], updates: list[StatusUpdate], warnings: list[Issue], now: datetime,
              document_url: Callable[[str], str]) -> dict[str, Any]:
    """The transaction-response: one entry per request entry, in request order."""
    modified = document_reference.fhir_instant(now)
    by_origin = {e.origin: e for e in entries}
    updated = {u.origin: u.entry_id for u in updates}
    notes: dict[int, list[Issue]] = {}
    set_index = parsed.submission_set[0] if parsed.submission_set else 0
    for issue in warnings:
        match = _ENTRY_INDEX.match(issue.expression or "")
        notes.setdefault(int(match.group(1)) if match else set_index, []).append(issue)

    out: list[dict[str, Any]] = []
    for index, _ in enumerate(bundle["entry"]):
        origin = f"Bundle.entry[{index}].resource"
        if index == set_index:
            response = {"status": "201 Created", "location": f"List/{set_id}", "etag": 'W/"1"'}
        elif origin in by_origin:
            response = {"status": "201 Created", "location": f"DocumentReference/{by_origin[origin].id}",
                        "etag": 'W/"1"'}
        elif origin in updated:
            response = {"status": "200 OK", "location": f"DocumentReference/{updated[origin]}", "etag": 'W/"2"'}
        else:
            response = {"status": "201 Created", "location": document_url(binary_owner[index])}
        response["lastModified"] = modified
        if notes.get(index):
            response["outcome"] = operation_outcome(notes[index])
        out.append({"response": response})
    return {
        "resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "transaction-response",
        "meta": {"lastUpdated": modified}, "entry": out,
    }



def router(deps: Deps) -> APIRouter:
    """``POST /fhir``: a source provides a transaction Bundle."""
    fhir = APIRouter(prefix="/fhir")
    provider = ProvideDocumentBundle(deps.registry, deps.validation)

    @fhir.post("")
    async def provide(request: Request) -> Response:
        principal = await deps.guard.provider(request)
        body, _ = await read_fhir_json(request, deps.max_body_bytes)
        urls = deps.urls(request)
        result = await run_in_threadpool(provider.provide, body, deps.context.clock.now(), urls.document,
                                         principal.persona if principal else None)
        return FhirJSONResponse(result)

    return fhir
