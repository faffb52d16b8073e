"""ITI-66 Find Document Lists: ``GET|POST [base]/List`` → searchset Bundle of SubmissionSets.

``patient`` or ``patient.identifier`` is required. ``code`` ``submissionset`` matches every List
here; ``folder`` matches none (this registry keeps no folders). ``status`` is ``current`` for every
SubmissionSet. ``sourceId`` (also accepted as ``source.identifier``) and ``designationType``
match the SubmissionSet's ``ihe-sourceId`` and ``ihe-designationType`` extensions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nsp_sandbox.outcome import Issue
from services.dds.mhd import search, submission_set
from services.dds.mhd.iti67 import patient_tokens
from services.dds.mhd.search import SearchParam
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
    query = SubmissionSetQuery(patients=patient_tokens(parsed), count=parsed.count,
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
