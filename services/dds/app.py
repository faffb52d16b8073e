"""DDS — DokumentDelingsServicen: the national document registry and repository, IHE MHD face.

Mounted at ``/dds``; the FHIR R4 base is ``/dds/fhir`` (``application/fhir+json``):

* ``GET  /fhir/metadata``                      CapabilityStatement
* ``POST /fhir``                               ITI-65 Provide Document Bundle (transaction)
* ``GET  /fhir/DocumentReference``             ITI-67 Find Document References (also ``POST …/_search``)
* ``GET  /fhir/DocumentReference/{id}``        read
* ``PUT  /fhir/DocumentReference/{id}``        ITI-92 RMU: status-only update
* ``GET  /fhir/List``                          ITI-66 Find Document Lists (also ``POST …/_search``)
* ``GET  /fhir/List/{id}``                     read
* ``GET  /documents/{id}``                     ITI-68 Retrieve Document (the ``attachment.url``); for an
  on-demand entry DDS asks its source to generate the document (``services.dds.on_demand``)
* ``DELETE`` anything                          405: shared documents are never deleted

Every face but ``metadata`` and ``DELETE`` needs a token from NSP's STS; reads are subject to the
access rules in ``services.dds.access`` (who reads whose documents, treatment relations, blocks,
værdispring, Min Log, name and address protection).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.fhir_http import (
    FhirJSONResponse,
    install_error_handlers,
    read_body,
    read_fhir_json,
    refuse_control_characters,
)
from nsp_sandbox.outcome import FhirError, Issue
from services.dds.access import address_protection, blocking
from services.dds.access.guard import Guard, ReadGrant, patients_named
from services.dds.domain import ObjectType, StoredEntry
from services.dds.lifecycle import NEVER_DELETED
from services.dds.mhd import capability, document_reference, iti66, iti67, iti68, rmu, submission_set
from services.dds.mhd.iti65 import ProvideDocumentBundle
from services.dds.on_demand import OnDemandSources
from services.dds.registry import Registry
from services.dds.validation import ContentValidation

FORM = "application/x-www-form-urlencoded"


class Urls:
    """Absolute URLs of this actor: from ``settings.public_base_url`` or from the request itself."""

    def __init__(self, context: SandboxContext, request: Request) -> None:
        root = str(request.scope.get("root_path", "")).rstrip("/")  # the mount path, e.g. "/dds"
        public = context.settings.public_base_url
        origin = public.rstrip("/") if public else f"{request.url.scheme}://{request.url.netloc}"
        self.actor = f"{origin}{root}"
        # NSP as a client reaches it: its configured URL, else this same sandbox's /nsp.
        self.nsp = (context.settings.nsp_url or f"{origin}/nsp").rstrip("/")
        self.fhir = f"{self.actor}/fhir"

    def document(self, entry_id: str) -> str:
        """The ITI-68 URL of an entry's document (``attachment.url``)."""
        return f"{self.actor}/documents/{entry_id}"

    def resource(self, kind: str) -> Callable[[str], str]:
        """The absolute URL of a resource of ``kind`` by its id (``Bundle.entry.fullUrl``)."""
        return lambda resource_id: f"{self.fhir}/{kind}/{resource_id}"


def _strict(request: Request) -> bool:
    return "handling=strict" in request.headers.get("prefer", "").replace(" ", "").lower()


async def _search_pairs(request: Request, max_bytes: int) -> list[tuple[str, str]]:
    """Parameters of a ``POST …/_search``: the form body plus any in the URL."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    pairs = list(request.query_params.multi_items())
    if content_type == FORM:
        body = await read_body(request, max_bytes)
        try:
            pairs += parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise FhirError(400, Issue("error", "structure", "The form body is not UTF-8",
                                       rule="http-form-body")) from None
    elif content_type:
        raise FhirError(415, Issue("error", "not-supported", f"_search takes {FORM}, not '{content_type}'",
                                   rule="http-content-type"))
    refuse_control_characters(pairs)
    return pairs


def create_app(context: SandboxContext) -> FastAPI:
    """The DDS actor over ``context`` (its tables are created here if missing)."""
    registry = Registry(context.database)
    registry.create_tables()
    provider = ProvideDocumentBundle(registry, ContentValidation(context))
    guard = Guard(context)
    sources = OnDemandSources(context)
    started = context.clock.now()

    app = FastAPI(title="DDS — DokumentDelingsServicen (IHE MHD)", docs_url="/docs", openapi_url="/openapi.json")
    install_error_handlers(app)
    app.state.registry = registry
    fhir = APIRouter(prefix="/fhir")

    @fhir.get("/metadata")
    def metadata(request: Request) -> Response:
        urls = Urls(context, request)
        return FhirJSONResponse(capability.capability_statement(urls.fhir, started, urls.nsp,
                                                                context.settings.dds_access_control))

    @fhir.post("")
    async def provide(request: Request) -> Response:
        principal = await guard.provider(request)
        body, _ = await read_fhir_json(request, context.settings.max_body_bytes)
        urls = Urls(context, request)
        result = await run_in_threadpool(provider.provide, body, context.clock.now(), urls.document,
                                         principal.persona if principal else None)
        return FhirJSONResponse(result)

    def shown_reference(grant: ReadGrant) -> Callable[[dict[str, Any]], dict[str, Any]]:
        def shown(resource: dict[str, Any]) -> dict[str, Any]:
            cpr = _subject_cpr(resource)
            return address_protection.strip_addresses(resource) if cpr in grant.hide_address else resource
        return shown

    async def find_documents(request: Request, pairs: list[tuple[str, str]]) -> Response:
        principal = await guard.authenticate(request)
        parsed, query = iti67.parse(pairs, _strict(request))
        cprs = patients_named(query.patients) if principal is not None else []
        grant = await guard.read(principal, request, cprs)
        query.withheld = grant.withheld
        page = await run_in_threadpool(registry.find_entries, query)
        warnings = []
        if grant.partly_blocked:
            unfiltered = replace(query, withheld=[w for w in query.withheld if w.everything], count=0)
            if (await run_in_threadpool(registry.find_entries, unfiltered)).total > page.total:
                warnings.append(blocking.withheld_warning())
        urls = Urls(context, request)
        bundle = iti67.searchset(parsed, page, f"{urls.fhir}/DocumentReference", urls.resource("DocumentReference"),
                                 urls.document, warnings, shown_reference(grant))
        found = {e.patient.value for e in page.items} if page.items else (set(cprs) if page.total else set())
        await guard.log(grant, [c for c in cprs if c in found], "ITI-67 Find Document References",
                        f"{page.total} DocumentReference(s) found")
        return FhirJSONResponse(bundle)

    @fhir.get("/DocumentReference")
    async def search_documents(request: Request) -> Response:
        return await find_documents(request, list(request.query_params.multi_items()))

    @fhir.post("/DocumentReference/_search")
    async def search_documents_post(request: Request) -> Response:
        pairs = await _search_pairs(request, context.settings.max_body_bytes)
        return await find_documents(request, pairs)

    async def readable_entry(request: Request, entry_id: str, activity: str,
                             metadata_only: bool) -> tuple[StoredEntry, ReadGrant]:
        """The entry, when the caller may see it (404 when unknown or withheld by the citizen's blocks)."""
        principal = await guard.authenticate(request)
        entry = await run_in_threadpool(registry.get_entry, entry_id)
        unknown = iti68.missing(entry_id) if not metadata_only else FhirError(404, Issue(
            "error", "not-found", f"DocumentReference/{entry_id} is not known", rule="dds-entry-exists"))
        if entry is None:
            raise unknown
        if principal is not None and principal.is_system and metadata_only:
            return entry, ReadGrant(None)  # a source reads what it updates (ITI-92), nothing else
        grant = await guard.read(principal, request, [entry.patient.value] if principal else [])
        withheld = await run_in_threadpool(registry.withheld_entry_ids, grant.withheld)
        if entry.id in withheld:
            raise unknown  # blocked by the citizen: as if there were nothing, and nothing is logged
        await guard.log(grant, [entry.patient.value], activity, f"DocumentReference/{entry.id}")
        return entry, grant

    @fhir.get("/DocumentReference/{entry_id}")
    async def read_document_reference(entry_id: str, request: Request) -> Response:
        entry, grant = await readable_entry(request, entry_id, "Read DocumentReference", metadata_only=True)
        resource = shown_reference(grant)(document_reference.to_fhir(entry, Urls(context, request).document(entry.id)))
        return FhirJSONResponse(resource, headers={"ETag": f'W/"{entry.version}"',
                                                   "Last-Modified": _http_date(entry.updated_at)})

    @fhir.put("/DocumentReference/{entry_id}")
    async def update_document_reference(entry_id: str, request: Request) -> Response:
        principal = await guard.provider(request)
        body, _ = await read_fhir_json(request, context.settings.max_body_bytes)
        urls = Urls(context, request)
        resource = await run_in_threadpool(rmu.update_status, registry, context.clock, entry_id, body,
                                           request.headers.get("if-match"), urls.document(entry_id),
                                           principal.persona if principal else None)
        return FhirJSONResponse(resource, headers={"ETag": f'W/"{resource["meta"]["versionId"]}"'})

    def shown_list(withheld_ids: set[str]) -> Callable[[dict[str, Any]], dict[str, Any]]:
        def shown(resource: dict[str, Any]) -> dict[str, Any]:
            if withheld_ids:
                resource["entry"] = [e for e in resource.get("entry", [])
                                     if e["item"]["reference"].split("/")[-1] not in withheld_ids]
            return resource
        return shown

    async def find_lists(request: Request, pairs: list[tuple[str, str]]) -> Response:
        principal = await guard.authenticate(request)
        parsed, query = iti66.parse(pairs, _strict(request))
        cprs = patients_named(query.patients) if principal is not None else []
        grant = await guard.read(principal, request, cprs)
        query.excluded_patients = grant.fully_blocked
        page = await run_in_threadpool(registry.find_submission_sets, query)
        withheld = await run_in_threadpool(registry.withheld_entry_ids, grant.withheld)
        members = {m for s in page.items for m in s.member_ids}
        warnings = [blocking.withheld_warning()] if members & withheld else []
        urls = Urls(context, request)
        bundle = iti66.searchset(parsed, page, f"{urls.fhir}/List", urls.resource("List"), shown_list(withheld),
                                 warnings)
        found = {s.patient.value for s in page.items} if page.items else (set(cprs) if page.total else set())
        await guard.log(grant, [c for c in cprs if c in found], "ITI-66 Find Document Lists",
                        f"{page.total} SubmissionSet(s) found")
        return FhirJSONResponse(bundle)

    @fhir.get("/List")
    async def search_lists(request: Request) -> Response:
        return await find_lists(request, list(request.query_params.multi_items()))

    @fhir.post("/List/_search")
    async def search_lists_post(request: Request) -> Response:
        pairs = await _search_pairs(request, context.settings.max_body_bytes)
        return await find_lists(request, pairs)

    @fhir.get("/List/{set_id}")
    async def read_list(set_id: str, request: Request) -> Response:
        principal = await guard.authenticate(request)
        found = await run_in_threadpool(registry.get_submission_set, set_id)
        if found is None:
            raise FhirError(404, Issue("error", "not-found", f"List/{set_id} is not known", rule="dds-list-exists"))
        grant = await guard.read(principal, request, [found.patient.value] if principal else [])
        if found.patient.value in grant.fully_blocked:
            raise FhirError(404, Issue("error", "not-found", f"List/{set_id} is not known", rule="dds-list-exists"))
        withheld = await run_in_threadpool(registry.withheld_entry_ids, grant.withheld)
        await guard.log(grant, [found.patient.value], "Read SubmissionSet", f"List/{found.id}")
        return FhirJSONResponse(shown_list(withheld)(submission_set.to_fhir(found)))

    @fhir.delete("")
    @fhir.delete("/{path:path}")
    def delete(path: str = "") -> Response:
        raise FhirError(405, Issue("error", "not-supported", NEVER_DELETED, rule="dds-never-delete",
                                   source="DESIGN: nothing shared is ever deleted; IHE ITI TF-3 4.2.2"),
                        headers={"Allow": "GET, PUT" if path.startswith("DocumentReference/") else "GET, POST"})

    app.include_router(fhir)

    @app.get("/documents/{entry_id}")
    async def retrieve(entry_id: str, request: Request) -> Response:
        entry, grant = await readable_entry(request, entry_id, "ITI-68 Retrieve Document", metadata_only=False)

        def shown(entry: StoredEntry, content: bytes) -> bytes:
            if entry.patient.value in grant.hide_address:
                return address_protection.strip_document(content, entry.mime_type)
            return content

        if_none_match = request.headers.get("if-none-match")
        if entry.object_type is ObjectType.ON_DEMAND:
            generated = await sources.generate(entry)
            return iti68.respond(entry, generated.content, generated.media_type, if_none_match, shown)
        return await run_in_threadpool(iti68.retrieve, registry, entry_id, if_none_match, shown)

    @app.delete("/documents/{entry_id}")
    def delete_document(entry_id: str) -> Response:
        raise FhirError(405, Issue("error", "not-supported", NEVER_DELETED, rule="dds-never-delete"),
                        headers={"Allow": "GET"})

    return app


def _subject_cpr(resource: dict[str, Any]) -> str | None:
    """The CPR of a DocumentReference's contained subject Patient (or its subject identifier)."""
    subject = resource.get("subject", {})
    if "identifier" in subject:
        return subject["identifier"].get("value")
    ref = subject.get("reference", "").lstrip("#")
    patient = next((c for c in resource.get("contained", []) if c.get("id") == ref), {})
    return next((i.get("value") for i in patient.get("identifier", [])), None)


def _http_date(moment: datetime) -> str:
    """An HTTP date (``Last-Modified``) from a naive-UTC timestamp."""
    return format_datetime(moment.replace(tzinfo=UTC), usegmt=True)
