"""ITI-67 Find Document References: ``GET|POST [base]/DocumentReference`` → searchset Bundle; and
the DocumentReference read, ``GET [base]/DocumentReference/{id}`` (with ``ETag`` and ``Last-Modified``).

``patient`` or ``patient.identifier``, and ``status``, are required (MHD 2:3.67.4.1.2.1). The
table ``PARAMETERS`` is the one list of what is supported; the CapabilityStatement is built from
it. Results come newest registration first, paged by keyset (``_page_after`` / ``_page_before``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from nsp_sandbox import openapi_description as oa
from nsp_sandbox.fhir_http import FhirJSONResponse
from nsp_sandbox.outcome import Issue
from services.dds.access import address_protection, blocking
from services.dds.access.consent_override import from_headers
from services.dds.access.guard import ReadGrant
from services.dds.domain import CPR_SYSTEM, AvailabilityStatus
from services.dds.mhd import document_reference, search
from services.dds.mhd.deps import Deps
from services.dds.mhd.described import SEARCHSET, search_form, search_parameters
from services.dds.mhd.entry_read import readable_entry
from services.dds.mhd.http import http_date, search_pairs, strict
from services.dds.mhd.search import SearchParam
from services.dds.mhd.search_steps import SearchSteps
from services.dds.queries import EntryQuery
from services.dds.registry import Page, Registry

_MHD = "https://profiles.ihe.net/ITI/MHD/SearchParameter/"
_R4 = "http://hl7.org/fhir/SearchParameter/"

#: Token parameters matched against the entry's stored codes (see ``document_reference.search_codes``).
CODE_PARAMETERS = ("type", "category", "format", "setting", "facility", "event", "security-label",
                   "author.identifier", "related", "identifier")

PARAMETERS: dict[str, SearchParam] = {p.name: p for p in (
    SearchParam("patient", "reference", "Patient/{CPR} (this registry has no Patient server: the id is the "
                "CPR number)", _R4 + "clinical-patient"),
    SearchParam("patient.identifier", "token", f"The patient's identifier, e.g. {CPR_SYSTEM}|0602631234 "
                "(XDSDocumentEntryPatientId)"),
    SearchParam("status", "token", "current | superseded | entered-in-error (availabilityStatus)",
                _R4 + "DocumentReference-status"),
    SearchParam("_id", "token", "Logical id of the DocumentReference", _R4 + "Resource-id"),
    SearchParam("identifier", "token", "masterIdentifier (uniqueId) or identifier (entryUUID)",
                _R4 + "clinical-identifier"),
    SearchParam("date", "date", "DocumentReference.date: when the entry was registered (or the date sent)",
                _R4 + "DocumentReference-date"),
    SearchParam("creation", "date", "content.attachment.creation (creationTime)",
                _MHD + "DocumentReference-Creation"),
    SearchParam("period", "date", "context.period overlaps (serviceStartTime / serviceStopTime)",
                _R4 + "DocumentReference-period"),
    SearchParam("type", "token", "type (typeCode)", _R4 + "clinical-type"),
    SearchParam("category", "token", "category (classCode)", _R4 + "DocumentReference-category"),
    SearchParam("format", "token", "content.format (formatCode)", _R4 + "DocumentReference-format"),
    SearchParam("setting", "token", "context.practiceSetting (practiceSettingCode)",
                _R4 + "DocumentReference-setting"),
    SearchParam("facility", "token", "context.facilityType (healthcareFacilityTypeCode)",
                _R4 + "DocumentReference-facility"),
    SearchParam("event", "token", "context.event (eventCodeList)", _R4 + "DocumentReference-event"),
    SearchParam("security-label", "token", "securityLabel (confidentialityCode)",
                _R4 + "DocumentReference-security-label"),
    SearchParam("author.identifier", "token", "identifier of an author (e.g. the SOR code of the institution)"),
    SearchParam("related", "token", "context.related identifier (system|value) or reference (referenceIdList)",
                _R4 + "DocumentReference-related"),
)}

ALIASES = {"patient:identifier": "patient.identifier", "subject.identifier": "patient.identifier",
           "author:identifier": "author.identifier"}
STATUSES = frozenset(s.value for s in AvailabilityStatus)


def statuses(parsed: search.ParsedSearch) -> list[str] | None:
    allowed: set[str] | None = None
    for raw in parsed.values.get("status", []):
        values = set()
        for token in search.tokens("status", raw):
            if token.system or token.code not in STATUSES:
                raise search.bad_value("status", f"'{raw}' is not one of {', '.join(sorted(STATUSES))} "
                                       "(without a system)")
            values.add(token.code)
        allowed = values if allowed is None else allowed & values
    return sorted(allowed) if allowed is not None else None


def to_query(parsed: search.ParsedSearch) -> EntryQuery:
    """The registry query for an ITI-67 request (400 for a missing or malformed parameter)."""
    search.require(parsed, "patient", "patient.identifier")
    search.require(parsed, "status")
    groups = search.patient_tokens(parsed)
    query = EntryQuery(patients=groups, statuses=statuses(parsed), count=parsed.count,
                       after_pk=parsed.after_pk, before_pk=parsed.before_pk)
    ids: set[str] | None = None
    for raw in parsed.values.get("_id", []):
        found = {t.code for t in search.tokens("_id", raw) if t.code}
        ids = found if ids is None else ids & found
    query.ids = sorted(ids) if ids is not None else None
    for name in CODE_PARAMETERS:
        for raw in parsed.values.get(name, []):
            query.tokens.append((name, search.tokens(name, raw)))
    for name in ("date", "creation"):
        for raw in parsed.values.get(name, []):
            query.dates.append((name, search.dates(name, raw)))
    for raw in parsed.values.get("period", []):
        query.periods.append(search.dates("period", raw))
    return query


def parse(pairs: list[tuple[str, str]], strict: bool) -> tuple[search.ParsedSearch, EntryQuery]:
    """The parsed parameters and the registry query of an ITI-67 request (400 when malformed)."""
    parsed = search.parse(pairs, PARAMETERS, ALIASES, strict)
    return parsed, to_query(parsed)


def searchset(parsed: search.ParsedSearch, page: Page, search_url: str, resource_url: Callable[[str], str],
              document_url: Callable[[str], str], warnings: list[Issue] | None = None,
              shown: Callable[[dict[str, Any]], dict[str, Any]] = lambda r: r) -> dict[str, Any]:
    """The searchset Bundle of one page; ``shown`` adapts each resource to who is looking."""
    resources = [shown(document_reference.to_fhir(e, document_url(e.id))) for e in page.items]
    return search.searchset(search_url, parsed, resources, [resource_url(e.id) for e in page.items],
                            page.total, page.has_next, page.has_prev, page.first_pk, page.last_pk, warnings)


def find(registry: Registry, pairs: list[tuple[str, str]], strict: bool, search_url: str,
         resource_url: Callable[[str], str], document_url: Callable[[str], str]) -> dict[str, Any]:
    """Run an ITI-67 search without access control; answer the searchset Bundle."""
    parsed, query = parse(pairs, strict)
    return searchset(parsed, registry.find_entries(query), search_url, resource_url, document_url)


def subject_cpr(resource: dict[str, Any]) -> str | None:
    """The CPR of a DocumentReference's contained subject Patient (or its subject identifier)."""
    subject = resource.get("subject", {})
    if "identifier" in subject:
        return subject["identifier"].get("value")
    ref = subject.get("reference", "").lstrip("#")
    patient = next((c for c in resource.get("contained", []) if c.get("id") == ref), {})
    return next((i.get("value") for i in patient.get("identifier", [])), None)


def shown_reference(grant: ReadGrant) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A DocumentReference as this grant shows it: without the addresses of protected citizens."""
    def shown(resource: dict[str, Any]) -> dict[str, Any]:
        cpr = subject_cpr(resource)
        return address_protection.strip_addresses(resource) if cpr in grant.hide_address else resource
    return shown


class FindReferences(SearchSteps[EntryQuery]):
    """The guarded-read steps of an ITI-67 search."""

    activity = "ITI-67 Find Document References"
    found_noun = "DocumentReference(s)"

    def parse(self, pairs: list[tuple[str, str]], strict: bool) -> tuple[search.ParsedSearch, EntryQuery]:
        return parse(pairs, strict)

    async def query(self, grant: ReadGrant) -> Page:
        self.search.withheld = grant.withheld
        return await run_in_threadpool(self.registry.find_entries, self.search)

    async def warnings(self, grant: ReadGrant, found: Page) -> list[Issue]:
        if not grant.partly_blocked:
            return []
        unfiltered = replace(self.search, withheld=[w for w in self.search.withheld if w.everything], count=0)
        if (await run_in_threadpool(self.registry.find_entries, unfiltered)).total > found.total:
            return [blocking.withheld_warning()]
        return []



def router(deps: Deps) -> APIRouter:
    """ITI-67 (``GET`` and ``POST _search``) and the read of ``/fhir/DocumentReference``."""
    fhir = APIRouter(prefix="/fhir", responses=oa.errors(401, 403, 503))

    async def find_documents(request: Request, pairs: list[tuple[str, str]]) -> Response:
        steps = FindReferences(deps.registry, pairs, strict(request))
        answer = await deps.guard.guarded_read(lambda: deps.guard.authenticate(request),
                                               from_headers(request.headers), steps)
        urls = deps.urls(request)
        return FhirJSONResponse(searchset(steps.parsed, answer.found, f"{urls.fhir}/DocumentReference",
                                          urls.resource("DocumentReference"), urls.document, answer.warnings,
                                          shown_reference(answer.grant)))

    @fhir.get("/DocumentReference", response_class=FhirJSONResponse, responses=SEARCHSET,
              openapi_extra=oa.parameters(*search_parameters(PARAMETERS)))
    async def search_documents(request: Request) -> Response:
        return await find_documents(request, list(request.query_params.multi_items()))

    @fhir.post("/DocumentReference/_search", response_class=FhirJSONResponse,
               responses={**SEARCHSET, **oa.errors(413, 415)},
               openapi_extra=search_form(PARAMETERS))
    async def search_documents_post(request: Request) -> Response:
        return await find_documents(request, await search_pairs(request, deps.max_body_bytes))

    @fhir.get("/DocumentReference/{entry_id}", response_class=FhirJSONResponse, responses={
        **oa.answer("The DocumentReference", {oa.FHIR_JSON: oa.fhir_resource("DocumentReference")}), **oa.errors(404)})
    async def read_document_reference(entry_id: str, request: Request) -> Response:
        entry, grant = await readable_entry(deps, request, entry_id, "Read DocumentReference")
        resource = shown_reference(grant)(document_reference.to_fhir(entry, deps.urls(request).document(entry.id)))
        return FhirJSONResponse(resource, headers={"ETag": f'W/"{entry.version}"',
                                                   "Last-Modified": http_date(entry.updated_at)})

    return fhir
