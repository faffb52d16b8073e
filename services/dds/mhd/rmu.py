"""IHE RMU (ITI-92 Restricted Update Document Manifest) on the MHD face: status-only updates.

``PUT [base]/DocumentReference/{id}`` with the entry as served, changed only in ``status``:
``current`` → ``superseded`` or ``entered-in-error`` (the lifecycle rules decide). Any other
difference is refused (``status_only``), except that a deprecation (→ ``entered-in-error``) may say
why in ``description`` (XDS DocumentEntry.comments, e.g. a retracted HomeCareObservation's reason),
which the entry then carries for its readers. ``If-Match: W/"{versionId}"`` is honoured. The change is
one compare-and-set in the registry: of concurrent updates of one entry exactly one wins, the others
get 409 (an entry already deprecated is not deprecated again; ``current`` → ``current`` is a no-op).
Only the source that registered the entry may change it (``lifecycle.check_owner``): any other
caller gets 403. Stable and on-demand entries alike: an on-demand source deprecates the entry of a
document it no longer provides this way.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from nsp_sandbox import openapi_description as oa
from nsp_sandbox.clock import Clock
from nsp_sandbox.fhir_http import FhirJSONResponse, read_fhir_json
from nsp_sandbox.outcome import FhirError, Issue
from services.dds.domain import AvailabilityStatus, RegistryError
from services.dds.metadata.author import author_institutions
from services.dds.mhd import document_reference
from services.dds.mhd.deps import Deps
from services.dds.mhd.errors import refuse
from services.dds.mhd.status_only import only_status_changes
from services.dds.registry import Registry

_IF_MATCH = re.compile(r'^\s*(?:W/)?"(?P<version>\d+)"\s*\Z', re.ASCII)


def expected_version(if_match: str | None) -> int | None:
    """The version ``If-Match`` names (None: no condition); 400 when it is no version ETag."""
    if if_match is None:
        return None
    match = _IF_MATCH.match(if_match)
    if match is None:
        raise FhirError(400, Issue("error", "value", f"If-Match '{if_match}' is not a version ETag (W/\"n\")",
                                   rule="http-if-match"))
    return int(match["version"])


MAX_COMMENT = 1000


def deprecation_comment(served: dict[str, Any], received: dict[str, Any], new_status: AvailabilityStatus) -> str | None:
    """The new ``description`` a deprecation gives (None: none given, unchanged, or not a deprecation —
    then a changed description is refused like any other element)."""
    text = received.get("description")
    if (new_status is not AvailabilityStatus.ENTERED_IN_ERROR or not isinstance(text, str) or not text.strip()
            or text == served.get("description") or len(text) > MAX_COMMENT):
        return None
    return text


def update_status(registry: Registry, clock: Clock, entry_id: str, received: dict[str, Any],
                  if_match: str | None, document_url: str, submitter: str | None = None) -> dict[str, Any]:
    """Apply a status-only PUT; answer the entry as now served, or raise ``FhirError``."""
    if received.get("resourceType") != "DocumentReference":
        raise FhirError(400, Issue("error", "invalid",
                                   f"The body is a {received.get('resourceType')}, not a DocumentReference",
                                   expression="DocumentReference", rule="fhir-resource-type"))
    if received.get("id") != entry_id:
        raise FhirError(400, Issue("error", "invalid",
                                   f"The body's id '{received.get('id')}' is not the id in the URL ('{entry_id}')",
                                   expression="DocumentReference.id", rule="fhir-update-id"))
    version = expected_version(if_match)
    stored = registry.get_entry(entry_id)
    if stored is None:
        raise FhirError(404, Issue("error", "not-found", f"DocumentReference/{entry_id} is not known",
                                   expression="DocumentReference.id", rule="dds-entry-exists"))
    try:
        new_status = AvailabilityStatus(received.get("status"))
    except ValueError:
        raise FhirError(422, Issue(
            "error", "value", f"status '{received.get('status')}' is not one of "
            + ", ".join(s.value for s in AvailabilityStatus),
            expression="DocumentReference.status", rule="dds-status-value")) from None
    served = document_reference.to_fhir(stored, document_url)
    comment = deprecation_comment(served, received, new_status)
    if comment is not None:
        received = {**received, "description": served.get("description")}
        if received["description"] is None:
            del received["description"]
    problems = only_status_changes(served, received, "DocumentReference")
    if problems:
        raise refuse(problems)
    try:
        updated = registry.change_status(entry_id, new_status, clock.now(), expected_version=version,
                                         reason="status update (ITI-92)", expression="DocumentReference.status",
                                         submitter=submitter, institutions=author_institutions(received),
                                         comment=comment)
    except RegistryError as exc:
        if any(i.rule == "http-if-match" for i in exc.issues):
            raise FhirError(412, exc.issues) from None
        raise refuse(exc.issues) from None
    return document_reference.to_fhir(updated, document_url)


def router(deps: Deps) -> APIRouter:
    """``PUT /fhir/DocumentReference/{id}``: a source's status-only update of its own entry."""
    fhir = APIRouter(prefix="/fhir", responses=oa.errors(401, 403, 503))

    @fhir.put("/DocumentReference/{entry_id}", response_class=FhirJSONResponse, responses={
        **oa.answer("The updated DocumentReference", {oa.FHIR_JSON: oa.fhir_resource("DocumentReference")}),
        **oa.errors(404, 409, 412, 413, 415, 422)},
        openapi_extra=oa.fhir_body("DocumentReference", xml=False, description="Status-only update (ITI-92)"))
    async def update_document_reference(entry_id: str, request: Request) -> Response:
        principal = await deps.guard.provider(request)
        body, _ = await read_fhir_json(request, deps.max_body_bytes)
        resource = await deps.context.cpu_lane.run(update_status, deps.registry, deps.context.clock, entry_id, body,
                                                   request.headers.get("if-match"),
                                                   deps.urls(request).document(entry_id),
                                                   principal.persona if principal else None)
        return FhirJSONResponse(resource, headers={"ETag": f'W/"{resource["meta"]["versionId"]}"'})

    return fhir
