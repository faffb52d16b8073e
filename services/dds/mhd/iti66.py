"""ITI-66 Find Document Lists: ``GET|POST [base]/List`` → searchset Bundle of SubmissionSets; and
the List read, ``GET [base]/List/{id}``. Entries the citizen's blocks withhold are left out of the
Lists shown (with a warning in a search); a List of a fully blocked citizen is not found.

``patient`` or ``patient.identifier`` is required. ``code`` ``submissionset`` matches every List
here; ``folder`` matches none (this registry keeps no folders). ``status`` is ``current`` for every
SubmissionSet. ``sourceId`` (also accepted as ``source.identifier``) and ``designationType``
match the SubmissionSet's ``ihe-sourceId`` and ``ihe-designationType`` extensions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from nsp_sandbox import openapi_description as oa
from nsp_sandbox.fhir_http import FhirJSONResponse
from nsp_sandbox.outcome import FhirError, Issue
from nsp_sandbox.tokens import Principal
from services.dds.access import blocking
from services.dds.access.consent_override import from_headers
from services.dds.access.guard import ReadGrant
from services.dds.domain import StoredSubmissionSet
from services.dds.mhd import search, submission_set
from services.dds.mhd.deps import Deps
from services.dds.mhd.described import SEARCHSET, search_form, search_parameters
from services.dds.mhd.http import search_pairs, strict
from services.dds.mhd.search import SearchParam
from services.dds.mhd.search_steps import SearchSteps
from services.dds.queries import SubmissionSetQuery
from services.dds.registry import Page, Registry

_MHD = "https://profiles.ihe.net/ITI/MHD/SearchParameter/"
_R4 = "http://hl7.org/fhir/SearchParameter/"

PARAMETERS: dict[str, SearchParam] = {p.name: p for p in (
    SearchParam("patient", "reference", "Patient/{CPR}", _R4 + "clinical-patient"),
    SearchParam("patient.identifier", "token", "The patient's identifier (XDSSubmissionSetPatientId)"),
    SearchParam("code", "token", "submissionset (folder: none kept)", _R4 + "clinical-code"),
    SearchParam("status", "token", "current (XDSSubmissionSetStatus)", _R4 + "List-status"),
    SearchParam("date", "date", "List.date (submissionTime)", _R4 + "clinical-date"),
    SearchParam("identifier", "token", "uniqueId or entryUUID of the SubmissionSet", _R4 + "clinical-identifier"),
    SearchParam("_id", "token", "Logical id of the List", _R4 + "Resource-id"),
    SearchParam("sourceId", "token", "ihe-sourceId extension (sourceId)", _MHD + "List-SourceId"),
    SearchParam("designationType", "token", "ihe-designationType extension (contentTypeCode)",
                _MHD + "List-DesignationType"),
)}
ALIASES = {"source.identifier": "sourceId", "patient:identifier": "patient.identifier"}


def to_query(parsed: search.ParsedSearch) -> SubmissionSetQuery:
    search.require(parsed, "patient", "patient.identifier")
    query = SubmissionSetQuery(patients=search.patient_tokens(parsed), count=parsed.count,
                               after_pk=parsed.after_pk, before_pk=parsed.before_pk)
    ids: set[str] | None = None
    for raw in parsed.values.get("_id", []):
        found = {t.code for t in search.tokens("_id", raw) if t.code}
        ids = found if ids is None else ids & found
    for raw in parsed.values.get("code", []):
        codes = search.tokens("code", raw)
        if not any(t.code == "submissionset" and t.system in (None, submission_set.LIST_TYPES) for t in codes):
            ids = set()  # only SubmissionSets are kept
    query.ids = sorted(ids) if ids is not None else None
    for raw in parsed.values.get("status", []):
        wanted = {t.code for t in search.tokens("status", raw)}
        query.statuses = sorted(wanted if query.statuses is None else wanted & set(query.statuses))
    query.identifiers = [search.tokens("identifier", raw) for raw in parsed.values.get("identifier", [])]
    query.source_ids = [search.tokens("sourceId", raw) for raw in parsed.values.get("sourceId", [])]
    query.designations = [search.tokens("designationType", raw) for raw in parsed.values.get("designationType", [])]
    for raw in parsed.values.get("date", []):
        query.dates.append(search.dates("date", raw))
    return query


def parse(pairs: list[tuple[str, str]], strict: bool) -> tuple[search.ParsedSearch, SubmissionSetQuery]:
    parsed = search.parse(pairs, PARAMETERS, ALIASES, strict)
    return parsed, to_query(parsed)


def searchset(parsed: search.ParsedSearch, page: Page, search_url: str, resource_url: Callable[[str], str],
              shown: Callable[[dict[str, Any]], dict[str, Any]] = lambda r: r,
              warnings: list[Issue] | None = None) -> dict[str, Any]:
    resources = [shown(submission_set.to_fhir(s)) for s in page.items]
    return search.searchset(search_url, parsed, resources, [resource_url(s.id) for s in page.items],
                            page.total, page.has_next, page.has_prev, page.first_pk, page.last_pk, warnings)


def find(registry: Registry, pairs: list[tuple[str, str]], strict: bool, search_url: str,
         resource_url: Callable[[str], str]) -> dict[str, Any]:
    """Run an ITI-66 search without access control; answer the searchset Bundle."""
    parsed, query = parse(pairs, strict)
    return searchset(parsed, registry.find_submission_sets(query), search_url, resource_url)


def shown_list(withheld_ids: set[str]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A List without the entries the citizen's blocks withhold."""
    def shown(resource: dict[str, Any]) -> dict[str, Any]:
        if withheld_ids:
            resource["entry"] = [e for e in resource.get("entry", [])
                                 if e["item"]["reference"].split("/")[-1] not in withheld_ids]
        return resource
    return shown


class FindLists(SearchSteps[SubmissionSetQuery]):
    """The guarded-read steps of an ITI-66 search."""

    activity = "ITI-66 Find Document Lists"
    found_noun = "SubmissionSet(s)"
    withheld: set[str]  # set by query, read by warnings

    def parse(self, pairs: list[tuple[str, str]], strict: bool) -> tuple[search.ParsedSearch, SubmissionSetQuery]:
        return parse(pairs, strict)

    async def query(self, grant: ReadGrant) -> Page:
        self.search.excluded_patients = grant.fully_blocked
        page = await run_in_threadpool(self.registry.find_submission_sets, self.search)
        self.withheld = await run_in_threadpool(self.registry.withheld_entry_ids, grant.withheld)
        return page

    async def warnings(self, grant: ReadGrant, found: Page) -> list[Issue]:
        members = {m for s in found.items for m in s.member_ids}
        return [blocking.withheld_warning()] if members & self.withheld else []



class ReadList:
    """The guarded-read steps of reading one List (404 when unknown or its citizen blocks everything)."""

    activity = "Read SubmissionSet"
    sources_may_read = False

    def __init__(self, registry: Registry, set_id: str) -> None:
        self.registry = registry
        self.set_id = set_id
        self.found: StoredSubmissionSet | None = None
        self.withheld: set[str] = set()

    def unknown(self) -> FhirError:
        return FhirError(404, Issue("error", "not-found", f"List/{self.set_id} is not known", rule="dds-list-exists"))

    async def subjects(self, principal: Principal | None) -> list[str]:
        self.found = await run_in_threadpool(self.registry.get_submission_set, self.set_id)
        if self.found is None:
            raise self.unknown()
        return [self.found.patient.value] if principal else []

    async def query(self, grant: ReadGrant) -> StoredSubmissionSet:
        assert self.found is not None
        if self.found.patient.value in grant.fully_blocked:
            raise self.unknown()
        self.withheld = await run_in_threadpool(self.registry.withheld_entry_ids, grant.withheld)
        return self.found

    async def warnings(self, grant: ReadGrant, found: StoredSubmissionSet) -> list[Issue]:
        return []

    def logged(self, found: StoredSubmissionSet) -> tuple[list[str], str]:
        return [found.patient.value], f"List/{found.id}"


def router(deps: Deps) -> APIRouter:
    """ITI-66 (``GET`` and ``POST _search``) and the read of ``/fhir/List``."""
    fhir = APIRouter(prefix="/fhir", responses=oa.errors(401, 403, 503))

    async def find_lists(request: Request, pairs: list[tuple[str, str]]) -> Response:
        steps = FindLists(deps.registry, pairs, strict(request))
        answer = await deps.guard.guarded_read(lambda: deps.guard.authenticate(request),
                                               from_headers(request.headers), steps)
        urls = deps.urls(request)
        return FhirJSONResponse(searchset(steps.parsed, answer.found, f"{urls.fhir}/List", urls.resource("List"),
                                          shown_list(steps.withheld), answer.warnings))

    @fhir.get("/List", response_class=FhirJSONResponse, responses=SEARCHSET,
              openapi_extra=oa.parameters(*search_parameters(PARAMETERS)))
    async def search_lists(request: Request) -> Response:
        return await find_lists(request, list(request.query_params.multi_items()))

    @fhir.post("/List/_search", response_class=FhirJSONResponse, responses={**SEARCHSET, **oa.errors(413, 415)},
               openapi_extra=search_form(PARAMETERS))
    async def search_lists_post(request: Request) -> Response:
        return await find_lists(request, await search_pairs(request, deps.max_body_bytes))

    @fhir.get("/List/{set_id}", response_class=FhirJSONResponse, responses={
        **oa.answer("The List", {oa.FHIR_JSON: oa.fhir_resource("List")}), **oa.errors(404)})
    async def read_list(set_id: str, request: Request) -> Response:
        steps = ReadList(deps.registry, set_id)
        answer = await deps.guard.guarded_read(lambda: deps.guard.authenticate(request),
                                               from_headers(request.headers), steps)
        return FhirJSONResponse(shown_list(steps.withheld)(submission_set.to_fhir(answer.found)))

    return fhir
