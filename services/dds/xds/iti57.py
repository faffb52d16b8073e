"""ITI-57 Update Document Set on DDS's XDS.b face: "slettemarkering" (ITI TF-3 §4.1.6; dds-nsp.md §3.2, §3.4).

``POST /ddsregistry/metadataupdate`` (and the DROS endpoint) take an ``lcm:SubmitObjectsRequest``
holding a SubmissionSet and ``UpdateAvailabilityStatus`` associations (``OriginalStatus`` →
``NewStatus``, target = the entryUUID of a registered DocumentEntry).

Rules, the same as the MHD face's RMU (``services.dds.mhd.rmu``) through the same registry call:

* Approved → Deprecated only (``Registry.change_status``, atomic per entry, the lifecycle rules
  of ``services.dds.lifecycle``): the entry is kept and shows as ``superseded`` on ITI-67. ITI TF
  also lets a registry take a DocumentEntry from Deprecated back to Approved; DDS's lifecycle keeps
  a deprecated entry deprecated, so that change is refused (``XDSMetadataUpdateOperationError``).
* ``OriginalStatus`` must be the entry's status now (``XDSMetadataUpdateError``); an unknown
  target is ``XDSMissingDocument``.
* Only the source that registered the entry (the card's persona; with access control off its
  author institution) — another source is refused (``XDSMetadataUpdateError``, not a DGWS fault:
  the request itself was authorised, its content is not).
* A metadata update proper (a new DocumentEntry version: ``HasMember`` with ``PreviousVersion``)
  is checked against the entry's version (``XDSMetadataVersionError`` when it is not the latest)
  and then refused (``XDSMetadataUpdateOperationError``): DDS corrects by replacement (ITI-41
  RPLC), as the MHD face does. Nothing is ever deleted.

Every update is checked before any is applied; the first refusal stops the whole request.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from nsp_sandbox.outcome import Issue
from nsp_sandbox.xds import namespaces as ns
from nsp_sandbox.xds import vocabulary as v
from nsp_sandbox.xds.ebrim import StatusUpdate, SubmitObjectsRequest, parse_submit_objects_request
from nsp_sandbox.xds.errors import XdsWireError
from nsp_sandbox.xds.registry_response import RegistryError, RegistryResponse
from services.dds.access import readers
from services.dds.domain import AvailabilityStatus
from services.dds.domain import RegistryError as DomainRegistryError
from services.dds.mhd.deps import Deps
from services.dds.registry import Registry
from services.dds.xds.face import XdsAnswer, XdsCall, soap_router
from services.dds.xds.iti41 import answer

SUBMIT_OBJECTS = f"{{{ns.LCM}}}SubmitObjectsRequest"
UPDATE_ERROR = "XDSMetadataUpdateError"
OPERATION_ERROR = "XDSMetadataUpdateOperationError"
VERSION_ERROR = "XDSMetadataVersionError"
#: XDS availabilityStatus ↔ the stored (FHIR) status.
XDS_STATUS = {v.STATUS_APPROVED: AvailabilityStatus.CURRENT, v.STATUS_DEPRECATED: AvailabilityStatus.SUPERSEDED}
REASON = "ITI-57 UpdateAvailabilityStatus (slettemarkering)"


def _error(code: str, context: str, location: str) -> RegistryError:
    return RegistryError(code, context, location)


def _entry_id(target: str) -> str:
    return target.removeprefix("urn:uuid:").lower()


def _location(update: StatusUpdate) -> str:
    return f"Association[@id='{update.association_id}'] targetObject {update.target}"


def check_update(registry: Registry, update: StatusUpdate) -> RegistryError | None:
    """What refuses one UpdateAvailabilityStatus before anything is changed (None: it may go ahead)."""
    where = _location(update)
    new = XDS_STATUS.get(update.new)
    if new is None or update.original not in XDS_STATUS:
        return _error(UPDATE_ERROR, f"OriginalStatus {update.original} / NewStatus {update.new}: a DocumentEntry "
                      "is Approved or Deprecated", where)
    if new is AvailabilityStatus.CURRENT:
        return _error(OPERATION_ERROR, "DDS keeps a deprecated entry deprecated: Deprecated → Approved is not "
                      "offered (correct by a replacement, ITI-41 with an RPLC association)", where)
    stored = registry.get_entry(_entry_id(update.target))
    if stored is None:
        return _error(v.XDS_MISSING_DOCUMENT, f"{update.target} is not a registered DocumentEntry", where)
    if stored.status is not XDS_STATUS[update.original]:
        return _error(UPDATE_ERROR, f"OriginalStatus is {update.original} but {update.target} is "
                      f"{'Approved' if stored.status is AvailabilityStatus.CURRENT else 'Deprecated'}", where)
    return None


def _version_errors(registry: Registry, request: SubmitObjectsRequest) -> list[RegistryError]:
    """A DocumentEntry metadata update: its PreviousVersion must be the latest; then it is refused."""
    errors: list[RegistryError] = []
    for association in request.associations_of_type(v.ASSOC_HAS_MEMBER):
        previous = association.slot_value(v.SLOT_PREVIOUS_VERSION)
        if previous is None:
            continue
        where = f"Association[@id='{association.id}'] Slot PreviousVersion"
        entry = next((e for e in request.document_entries if e.id == association.target_object), None)
        stored = registry.get_entry(_entry_id(entry.lid or entry.id)) if entry is not None else None
        if stored is None:
            errors.append(_error(v.XDS_MISSING_DOCUMENT, f"the DocumentEntry {association.target_object} updates "
                                 "no registered entry (its lid names none)", where))
        elif previous != str(stored.version):
            errors.append(_error(VERSION_ERROR, f"PreviousVersion is {previous} but the latest version of "
                                 f"{stored.entry_uuid} is {stored.version}", where))
        else:
            errors.append(_error(OPERATION_ERROR, "DDS does not update DocumentEntry metadata in place: "
                                 "replace the entry (ITI-41 with an RPLC association)", where))
    return errors


def update_document_set(call: XdsCall) -> XdsAnswer:
    """Check every update, then apply them (blocking: run it in a thread)."""
    if call.principal is not None:
        readers.require_provider(call.principal)
    registry = call.deps.registry
    try:
        request = parse_submit_objects_request(call.body, "/Envelope/Body/SubmitObjectsRequest")
        request.submission_set  # noqa: B018 (required: raises XdsWireError when absent or repeated)
        updates = request.status_updates
    except XdsWireError as error:
        return answer(RegistryResponse(v.RESPONSE_FAILURE, [RegistryError.from_wire_error(error)]))
    errors = _version_errors(registry, request)
    if not updates and not errors:
        errors.append(_error(UPDATE_ERROR, "the request holds no UpdateAvailabilityStatus association",
                             "SubmitObjectsRequest"))
    errors += [e for e in (check_update(registry, u) for u in updates) if e is not None]
    if errors:
        return answer(RegistryResponse(v.RESPONSE_FAILURE, errors))
    submitter = call.principal.persona if call.principal else None
    now = call.deps.context.clock.now()
    for update in updates:
        try:
            registry.change_status(_entry_id(update.target), XDS_STATUS[update.new], now, expected_version=None,
                                   reason=REASON, expression=_location(update), submitter=submitter,
                                   expected_status=XDS_STATUS[update.original])
        except DomainRegistryError as refused:
            return answer(RegistryResponse(v.RESPONSE_FAILURE, [_from_issue(i) for i in refused.issues]))
    return answer(RegistryResponse(v.RESPONSE_SUCCESS))


def _from_issue(issue: Issue) -> RegistryError:
    code = issue.ihe_code or UPDATE_ERROR
    return _error(code, issue.diagnostics + (f" [{issue.rule}]" if issue.rule else ""), issue.expression or "")


async def handle(call: XdsCall) -> XdsAnswer:
    """ITI-57 handler for :func:`soap_router`."""
    return await run_in_threadpool(update_document_set, call)


def router(deps: Deps) -> APIRouter:
    """``POST /ddsregistry/metadataupdate``: ITI-57 Update Document Set."""
    return soap_router(deps, "/ddsregistry/metadataupdate", {SUBMIT_OBJECTS: handle},
                       summary="ITI-57 Update Document Set (slettemarkering)")
