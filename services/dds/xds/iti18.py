"""ITI-18 Registry Stored Query at ``POST /ddsregistry`` (ITI TF-2 §3.18; dds-nsp.md §1.2), DGWS + HSUID.

``query:AdhocQueryRequest`` → ``query:AdhocQueryResponse``. Every one of the 14 stored queries is
implemented (``services.dds.xds.stored_queries``); which ones the registry *accepts* is the setting
``NSP_SANDBOX_XDS_STORED_QUERIES`` (comma-separated names, or ``all``), by default the ones observed
against the real DDS: FindDocuments and GetDocuments. A query not accepted answers Failure with
``XDSRegistryError`` "not supported"; an unknown query id ``XDSUnknownStoredQuery``; parameters that
do not fit the query ``XDSStoredQueryParamNumber`` / ``XDSStoredQueryMissingParam``; any other
malformed value ``XDSRegistryError`` — never ``XDSRegistryMetadataError``, which ITI TF-3 reserves
for submissions (oehf/ipf#306).

The look-up goes through the one guarded read (``Guard.guarded_read``) exactly as ITI-67 does:
the citizen's full block gives a silent empty Success (nothing logged), a data-period block a
filtered result with a warning in the ``RegistryErrorList`` (PartialSuccess), and Min Log gets
the same entries. ebRIM carries no patient address (DK sourcePatientInfo has PID-5/7/8 only), so
name and address protection has nothing to strip here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from nsp_sandbox.outcome import Issue
from nsp_sandbox.tokens import Principal
from nsp_sandbox.xds import namespaces as ns
from nsp_sandbox.xds import vocabulary as v
from nsp_sandbox.xds.errors import XdsWireError
from nsp_sandbox.xds.query import (
    AdhocQueryRequest,
    AdhocQueryResponse,
    parse_adhoc_query_request,
    write_adhoc_query_response,
)
from nsp_sandbox.xds.registry_response import RegistryError
from nsp_sandbox.xds.rim import AnyObject, ObjectRef
from services.dds.access import blocking
from services.dds.access.guard import ReadGrant
from services.dds.metadata.codes import SystemNames, system_names
from services.dds.mhd.deps import Deps
from services.dds.xds import ebrim_view as view
from services.dds.xds.face import XdsAnswer, XdsCall, soap_router
from services.dds.xds.stored_queries import Found, StoredQuery, check_values

PATH = "/ddsregistry"
SETTING = "NSP_SANDBOX_XDS_STORED_QUERIES"
DEFAULT_QUERIES = ("FindDocuments", "GetDocuments")  # observed against DDS (dds-nsp.md §1.2)
ACTIVITY = "ITI-18 Registry Stored Query"
WITHHELD_LOCATION = "Min Spærring (dds-consent-filtered)"


def accepted_queries(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """The stored queries this registry accepts: ``NSP_SANDBOX_XDS_STORED_QUERIES`` (names, or
    ``all``); unknown names are ignored; unset or empty: :data:`DEFAULT_QUERIES`."""
    raw = (os.environ if environ is None else environ).get(SETTING, "")
    names = {name.strip() for name in raw.split(",") if name.strip()}
    if "all" in {n.lower() for n in names}:
        return frozenset(v.STORED_QUERIES_BY_NAME)
    return frozenset(names & set(v.STORED_QUERIES_BY_NAME)) if names else frozenset(DEFAULT_QUERIES)


def view_settings(deps: Deps) -> view.ViewSettings:
    """The affinity domain's ids from the settings, and the loaded code systems' names (OIDs)."""
    settings = deps.context.settings
    names: SystemNames | None
    try:
        names = system_names(deps.context.validator.terminology)
    except Exception:  # no packages loaded: codingSchemes fall back to the known OIDs
        names = None
    return view.ViewSettings(settings.home_community_id, settings.repository_unique_id, names=names)


def registry_error(error: XdsWireError) -> RegistryError:
    """A wire error as ITI-18 reports it: metadata-error codes become ``XDSRegistryError``."""
    code = v.XDS_REGISTRY_ERROR if error.xds_code == v.XDS_REGISTRY_METADATA_ERROR else error.xds_code
    return RegistryError(code, error.message, error.location or None)


def failure(errors: list[RegistryError]) -> XdsAnswer:
    return XdsAnswer(write_adhoc_query_response(AdhocQueryResponse(v.RESPONSE_FAILURE, errors=errors)))


class QuerySteps:
    """The guarded-read steps of an ITI-18 look-up (cf. ``services.dds.mhd.iti67.FindReferences``)."""

    sources_may_read = False

    def __init__(self, deps: Deps, query: StoredQuery) -> None:
        self.deps = deps
        self.stored = query
        self.activity = f"{ACTIVITY} ({query.name})"
        self.cprs: list[str] = []
        self.hidden = False

    async def subjects(self, principal: Principal | None) -> list[str]:
        self.cprs = await run_in_threadpool(self.stored.patients)
        return list(self.cprs) if principal is not None else []

    def _look_up(self, grant: ReadGrant) -> Found:
        found = self.stored.run(self.stored.world(grant.withheld, grant.fully_blocked))
        if grant.partly_blocked:  # what the data-period blocks hid: the same look-up without them
            full_only = [w for w in grant.withheld if w.everything]
            unfiltered = self.stored.run(self.stored.world(full_only, grant.fully_blocked))
            self.hidden = len(unfiltered.entries) > len(found.entries) or \
                len(unfiltered.associations) > len(found.associations)
        return found

    async def query(self, grant: ReadGrant) -> Found:
        return await run_in_threadpool(self._look_up, grant)

    async def warnings(self, grant: ReadGrant, found: Found) -> list[Issue]:
        return [blocking.withheld_warning()] if self.hidden else []

    def logged(self, found: Found) -> tuple[list[str], str]:
        shown = {e.patient.value for e in found.entries} | {s.patient.value for s in found.sets}
        return [c for c in self.cprs if c in shown], f"{len(found.entries)} DocumentEntry(s) found"


def objects(found: Found, request: AdhocQueryRequest, settings: view.ViewSettings) -> list[AnyObject]:
    """The answer's registry objects: SubmissionSets, DocumentEntries, Associations (or their ObjectRefs)."""
    if request.return_type == v.RETURN_OBJECT_REF:  # the ids only: no view is built
        return [*(ObjectRef(view.submission_set_ids(s)[0]) for s in found.sets),
                *(ObjectRef(e.entry_uuid) for e in found.entries), *(ObjectRef(a.id) for a in found.associations)]
    return [*(view.registry_package(s, settings) for s in found.sets),
            *(view.extrinsic_object(e, settings) for e in found.entries), *found.associations]


async def handle(call: XdsCall) -> XdsAnswer:
    """One ITI-18 request (see the module docstring for the answers)."""
    try:
        request = parse_adhoc_query_request(call.body)
    except XdsWireError as error:
        return failure([registry_error(error)])
    problems = request.problems()
    if problems:
        return failure([registry_error(p) for p in problems])
    query = request.stored_query
    assert query is not None
    if query.name not in accepted_queries():
        return failure([RegistryError(v.XDS_REGISTRY_ERROR, f"Stored query {query.name} ({query.uuid}) is not "
                                      f"supported by this registry (accepted: {', '.join(sorted(accepted_queries()))}"
                                      f"; setting {SETTING})", request.query_id)])
    if request.return_type not in (v.RETURN_LEAF_CLASS, v.RETURN_OBJECT_REF):
        return failure([RegistryError(v.XDS_REGISTRY_ERROR, f"returnType {request.return_type!r} is neither "
                                      "LeafClass nor ObjectRef", "ResponseOption/@returnType")])
    settings = view_settings(call.deps)
    try:
        check_values(request)
        steps = QuerySteps(call.deps, StoredQuery(call.deps.registry, request, settings))
        answer = await call.deps.guard.guarded_read(call.authenticate, call.consent_override, steps)
    except XdsWireError as error:
        return failure([registry_error(error)])
    found = objects(answer.found, request, settings)
    warnings = [RegistryError(v.XDS_REGISTRY_ERROR, w.diagnostics, WITHHELD_LOCATION, v.SEVERITY_WARNING)
                for w in answer.warnings]
    status = v.RESPONSE_PARTIAL_SUCCESS if warnings else v.RESPONSE_SUCCESS
    return XdsAnswer(write_adhoc_query_response(AdhocQueryResponse(status, found, warnings, len(found))))


def router(deps: Deps) -> APIRouter:
    """``POST /ddsregistry``: ITI-18, with HSUID."""
    return soap_router(deps, PATH, {f"{{{ns.QUERY}}}AdhocQueryRequest": handle},
                       summary="ITI-18 Registry Stored Query (DGWS + HSUID)", hsuid=True)
