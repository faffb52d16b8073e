"""DDS — DokumentDelingsServicen: the national document registry and repository, IHE MHD face.

Mounted at ``/dds``; the FHIR R4 base is ``/dds/fhir`` (``application/fhir+json``):

* ``GET  /fhir/metadata``                      CapabilityStatement
* ``POST /fhir``                               ITI-65 Provide Document Bundle (transaction)
* ``GET  /fhir/DocumentReference``             ITI-67 Find Document References (also ``POST …/_search``)
* ``GET  /fhir/DocumentReference/{id}``        read
* ``PUT  /fhir/DocumentReference/{id}``        ITI-92 RMU: status-only update
* ``GET  /fhir/List``                          ITI-66 Find Document Lists (also ``POST …/_search``)
* ``GET  /fhir/List/{id}``                     read
* ``GET  /documents/{id}``                     ITI-68 Retrieve Document (the ``attachment.url``)
* ``DELETE`` anything                          405: shared documents are never deleted
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import parse_qsl

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.fhir_http import FhirJSONResponse, install_error_handlers, read_fhir_json, refuse_control_characters
from nsp_sandbox.outcome import FhirError, Issue
from services.dds.lifecycle import NEVER_DELETED
from services.dds.mhd import capability, document_reference, iti66, iti67, iti68, rmu, submission_set
from services.dds.mhd.iti65 import ProvideDocumentBundle
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
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_bytes:
                raise FhirError(413, Issue("error", "too-costly", f"Request body exceeds {max_bytes} bytes",
                                           rule="http-body-size"))
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
    started = context.clock.now()

    app = FastAPI(title="DDS — DokumentDelingsServicen (IHE MHD)", docs_url="/docs", openapi_url="/openapi.json")
    install_error_handlers(app)
    app.state.registry = registry
    fhir = APIRouter(prefix="/fhir")

    @fhir.get("/metadata")
    def metadata(request: Request) -> Response:
        return FhirJSONResponse(capability.capability_statement(Urls(context, request).fhir, started))

    @fhir.post("")
    async def provide(request: Request) -> Response:
        body, _ = await read_fhir_json(request, context.settings.max_body_bytes)
        urls = Urls(context, request)
        result = await run_in_threadpool(provider.provide, body, context.clock.now(), urls.document)
        return FhirJSONResponse(result)

    def find_documents(request: Request, pairs: list[tuple[str, str]]) -> Response:
        urls = Urls(context, request)
        bundle = iti67.find(registry, pairs, _strict(request), f"{urls.fhir}/DocumentReference",
                            urls.resource("DocumentReference"), urls.document)
        return FhirJSONResponse(bundle)

    @fhir.get("/DocumentReference")
    def search_documents(request: Request) -> Response:
        return find_documents(request, list(request.query_params.multi_items()))

    @fhir.post("/DocumentReference/_search")
    async def search_documents_post(request: Request) -> Response:
        pairs = await _search_pairs(request, context.settings.max_body_bytes)
        return await run_in_threadpool(find_documents, request, pairs)

    @fhir.get("/DocumentReference/{entry_id}")
    def read_document_reference(entry_id: str, request: Request) -> Response:
        entry = registry.get_entry(entry_id)
        if entry is None:
            raise FhirError(404, Issue("error", "not-found", f"DocumentReference/{entry_id} is not known",
                                       rule="dds-entry-exists"))
        resource = document_reference.to_fhir(entry, Urls(context, request).document(entry.id))
        return FhirJSONResponse(resource, headers={"ETag": f'W/"{entry.version}"',
                                                   "Last-Modified": _http_date(entry.updated_at)})

    @fhir.put("/DocumentReference/{entry_id}")
    async def update_document_reference(entry_id: str, request: Request) -> Response:
        body, _ = await read_fhir_json(request, context.settings.max_body_bytes)
        urls = Urls(context, request)
        resource = await run_in_threadpool(rmu.update_status, registry, context.clock, entry_id, body,
                                           request.headers.get("if-match"), urls.document(entry_id))
        return FhirJSONResponse(resource, headers={"ETag": f'W/"{resource["meta"]["versionId"]}"'})

    def find_lists(request: Request, pairs: list[tuple[str, str]]) -> Response:
        urls = Urls(context, request)
        return FhirJSONResponse(iti66.find(registry, pairs, _strict(request), f"{urls.fhir}/List",
                                           urls.resource("List")))

    @fhir.get("/List")
    def search_lists(request: Request) -> Response:
        return find_lists(request, list(request.query_params.multi_items()))

    @fhir.post("/List/_search")
    async def search_lists_post(request: Request) -> Response:
        pairs = await _search_pairs(request, context.settings.max_body_bytes)
        return await run_in_threadpool(find_lists, request, pairs)

    @fhir.get("/List/{set_id}")
    def read_list(set_id: str) -> Response:
        found = registry.get_submission_set(set_id)
        if found is None:
            raise FhirError(404, Issue("error", "not-found", f"List/{set_id} is not known", rule="dds-list-exists"))
        return FhirJSONResponse(submission_set.to_fhir(found))

    @fhir.delete("")
    @fhir.delete("/{path:path}")
    def delete(path: str = "") -> Response:
        raise FhirError(405, Issue("error", "not-supported", NEVER_DELETED, rule="dds-never-delete",
                                   source="DESIGN: nothing shared is ever deleted; IHE ITI TF-3 4.2.2"),
                        headers={"Allow": "GET, PUT" if path.startswith("DocumentReference/") else "GET, POST"})

    app.include_router(fhir)

    @app.get("/documents/{entry_id}")
    def retrieve(entry_id: str, request: Request) -> Response:
        return iti68.retrieve(registry, entry_id, request.headers.get("if-none-match"))

    @app.delete("/documents/{entry_id}")
    def delete_document(entry_id: str) -> Response:
        raise FhirError(405, Issue("error", "not-supported", NEVER_DELETED, rule="dds-never-delete"),
                        headers={"Allow": "GET"})

    return app


def _http_date(moment: datetime) -> str:
    """An HTTP date (``Last-Modified``) from a naive-UTC timestamp."""
    return format_datetime(moment.replace(tzinfo=UTC), usegmt=True)
