"""ITI-57 Update Document Set on DDS's XDS.b face (ITI TF-2b §3.57; ITI TF-3 §4.1.6; dds-nsp.md §3.2, §3.4).

``POST /ddsregistry/metadataupdate`` (and the DROS endpoint) take an ``lcm:SubmitObjectsRequest``
holding a SubmissionSet and ``UpdateAvailabilityStatus`` associations (``OriginalStatus`` →
``NewStatus``, target = the entryUUID of a registered DocumentEntry).

Rules (the registry's status change, ``Registry.change_status``, shared with the MHD face's RMU):

* **Approved → Deprecated** ("slettemarkering": the document "still exists but should be regarded
  as deleted", dds-nsp.md §3.2): the entry is kept and stored as ``entered-in-error`` — what the MHD
  face's retraction (ITI-92 ``entered-in-error``) stores, so one act ends in one state whichever
  door it came through; both faces then show it the same (XDS Deprecated, MHD ``entered-in-error``).
  A replacement (RPLC) deprecates as ``superseded`` on both doors.
* **Deprecated → Approved** (ITI TF-2b §3.57.4.1.3.3): only by the registering source, and only
  while no other version of that document is Approved — DDS's versions of a document are its
  replacement chain (``services.dds.xds.versions``) — else ``XDSMetadataUpdateError`` naming it.
* ``OriginalStatus`` must be the entry's status now, and differ from ``NewStatus``
  (``XDSMetadataUpdateError``); an unknown target is ``XDSMissingDocument``.
* Only the source that registered the entry (the card's persona; with access control off its
  author institution) — another source is refused (``XDSMetadataUpdateError``, not a DGWS fault:
  the request itself was authorised, its content is not).
* **A metadata update proper** (a new DocumentEntry version: its ``lid`` the entry's, a
  ``HasMember`` with ``PreviousVersion``) is checked — the ``lid`` must name a registered entry
  (``XDSMetadataUpdateError``), ``PreviousVersion`` must be its latest version, which in DDS is
  always 1 (``XDSMetadataVersionError``) — and then refused with ``XDSMetadataUpdateOperationError``:
  DDS keeps no versions of an entry (neither face maps lid/version, dds-nsp.md §3.4) and corrects
  by replacement (ITI-41 RPLC). So are the other ITI-57 operations DDS does not offer: new
  DocumentEntries without a previous version, Folders, and association submissions.

Every update is checked before any is applied; the first refusal stops the whole request. The
updates are then applied together in one registry transaction (``Registry.change_statuses``), each
by its compare-and-set: if one loses a race to a concurrent change, none of the request's stays
applied.
Nothing is ever deleted.
"""

from __future__ import annotations

from fastapi import APIRouter

from nsp_sandbox.outcome import Issue
from nsp_sandbox.xds import namespaces as ns
from nsp_sandbox.xds import vocabulary as v
from nsp_sandbox.xds.ebrim import StatusUpdate, SubmitObjectsRequest, parse_submit_objects_request
from nsp_sandbox.xds.errors import XdsWireError
from nsp_sandbox.xds.registry_response import RegistryError, RegistryResponse
from services.dds import lifecycle
from services.dds.access import readers
from services.dds.domain import AvailabilityStatus, StoredEntry
from services.dds.domain import RegistryError as DomainRegistryError
from services.dds.metadata.author import author_institutions
from services.dds.mhd.deps import Deps
from services.dds.registry import Registry, StatusChange
from services.dds.xds import versions
from services.dds.xds.ebrim_view import STATUS_OF
from services.dds.xds.face import XdsAnswer, XdsCall, soap_router
from services.dds.xds.iti41 import answer

SUBMIT_OBJECTS = f"{{{ns.LCM}}}SubmitObjectsRequest"
UPDATE_ERROR = "XDSMetadataUpdateError"
OPERATION_ERROR = "XDSMetadataUpdateOperationError"
VERSION_ERROR = "XDSMetadataVersionError"
#: What an ITI-57 NewStatus stores: Deprecated is a withdrawal without replacement, stored as the
#: MHD face's retraction is (``entered-in-error``); Approved is ``current`` again.
STORED_STATUS = {v.STATUS_APPROVED: AvailabilityStatus.CURRENT,
                 v.STATUS_DEPRECATED: AvailabilityStatus.ENTERED_IN_ERROR}
#: The registry statuses an XDS availability status stands for (ITI-57's OriginalStatus condition).
XDS_CLASS = {v.STATUS_APPROVED: frozenset({AvailabilityStatus.CURRENT}),
             v.STATUS_DEPRECATED: frozenset({AvailabilityStatus.SUPERSEDED, AvailabilityStatus.ENTERED_IN_ERROR})}
REASONS = {v.STATUS_DEPRECATED: "ITI-57 UpdateAvailabilityStatus Approved → Deprecated (slettemarkering)",
           v.STATUS_APPROVED: "ITI-57 UpdateAvailabilityStatus Deprecated → Approved"}
REPLACE_INSTEAD = "DDS corrects a document by replacement: ITI-41 with an RPLC association"


def _error(code: str, context: str, location: str) -> RegistryError:
    return RegistryError(code, context, location)


def _entry_id(target: str) -> str:
    return target.removeprefix("urn:uuid:").lower()


def _location(update: StatusUpdate) -> str:
    return f"Association[@id='{update.association_id}'] targetObject {update.target}"


def _word(status: str) -> str:
    return status.rsplit(":", 1)[-1]


def check_update(registry: Registry, update: StatusUpdate, submitter: str | None) -> RegistryError | None:
    """What refuses one UpdateAvailabilityStatus before anything is changed (None: it may go ahead)."""
    where = _location(update)
    if update.new not in STORED_STATUS or update.original not in STORED_STATUS:
        return _error(UPDATE_ERROR, f"OriginalStatus {update.original} / NewStatus {update.new}: a DocumentEntry "
                      "is Approved or Deprecated", where)
    if update.new == update.original:
        return _error(UPDATE_ERROR, f"OriginalStatus and NewStatus are both {_word(update.new)}: nothing to change",
                      where)
    stored = registry.get_entry(_entry_id(update.target))
    if stored is None:
        return _error(v.XDS_MISSING_DOCUMENT, f"{update.target} is not a registered DocumentEntry", where)
    if STATUS_OF[stored.status] != update.original:
        return _error(UPDATE_ERROR, f"OriginalStatus is {_word(update.original)} but {update.target} is "
                      f"{_word(STATUS_OF[stored.status])}", where)
    owner = lifecycle.check_owner(stored, submitter, author_institutions(stored.resource), where)
    if owner is not None:
        return _error(UPDATE_ERROR, f"{owner.diagnostics} [{owner.rule}]", where)
    if update.new == v.STATUS_APPROVED:
        return _second_approved(registry, stored, where)
    return None


def _second_approved(registry: Registry, stored: StoredEntry, where: str) -> RegistryError | None:
    """ITI TF-2b §3.57.4.1.3.3: Deprecated → Approved only while no other version is Approved."""
    approved = versions.current_versions(registry, stored)
    if not approved:
        return None
    names = ", ".join(sorted(e.entry_uuid for e in approved))
    return _error(UPDATE_ERROR, f"{stored.entry_uuid} cannot become Approved again: another version of the "
                  f"document (its replacement chain) is Approved: {names}", where)


def _version_errors(registry: Registry, request: SubmitObjectsRequest) -> list[RegistryError]:
    """A DocumentEntry metadata update (a new version): checked as ITI-57 says, then refused."""
    errors: list[RegistryError] = []
    versioned: set[str] = set()
    for association in request.associations_of_type(v.ASSOC_HAS_MEMBER):
        previous = association.slot_value(v.SLOT_PREVIOUS_VERSION)
        if previous is None:
            continue
        versioned.add(association.target_object)
        where = f"Association[@id='{association.id}'] Slot PreviousVersion"
        entry = next((e for e in request.document_entries if e.id == association.target_object), None)
        if entry is None or not entry.lid or entry.lid == entry.id:
            errors.append(_error(UPDATE_ERROR, f"{association.target_object} is no new version of a DocumentEntry "
                                 "(one in this request whose lid is the logicalID of the entry it updates)", where))
            continue
        stored = registry.get_entry(_entry_id(entry.lid))
        if stored is None:
            errors.append(_error(UPDATE_ERROR, f"the lid {entry.lid} of DocumentEntry {entry.id} names no "
                                 "registered DocumentEntry", where))
        elif previous != versions.ENTRY_VERSION:
            errors.append(_error(VERSION_ERROR, f"PreviousVersion is {previous} but the latest version of "
                                 f"{stored.entry_uuid} is {versions.ENTRY_VERSION}", where))
        else:
            errors.append(_error(OPERATION_ERROR, "DDS does not update DocumentEntry metadata (no new versions of "
                                 f"{stored.entry_uuid}): {REPLACE_INSTEAD}", where))
    return errors + _unsupported(request, versioned)


def _unsupported(request: SubmitObjectsRequest, versioned: set[str]) -> list[RegistryError]:
    """The ITI-57 operations DDS does not offer: new entries, Folders, association submissions."""
    errors = [_error(OPERATION_ERROR, f"DocumentEntry {e.id} is no new version (no HasMember with PreviousVersion): "
                     "ITI-57 registers no new documents (ITI-41 / ITI-61 do)", f"ExtrinsicObject[@id='{e.id}']")
              for e in request.document_entries if e.id not in versioned]
    errors += [_error(OPERATION_ERROR, f"Folder {f.id}: DDS has no Folders, so none is submitted or updated",
                      f"RegistryPackage[@id='{f.id}']") for f in request.folders]
    allowed = {v.ASSOC_HAS_MEMBER, v.ASSOC_UPDATE_AVAILABILITY_STATUS}
    errors += [_error(OPERATION_ERROR, f"an association {a.association_type} is not an update DDS makes "
                      f"through ITI-57: {REPLACE_INSTEAD}", f"Association[@id='{a.id}']")
               for a in request.associations if a.association_type not in allowed]
    return errors


def _twice(updates: list[StatusUpdate]) -> list[RegistryError]:
    seen: set[str] = set()
    errors = []
    for update in updates:
        if _entry_id(update.target) in seen:
            errors.append(_error(UPDATE_ERROR, f"{update.target} is updated twice in this request", _location(update)))
        seen.add(_entry_id(update.target))
    return errors


def update_document_set(call: XdsCall) -> XdsAnswer:
    """Check every update, then apply them (blocking: run it in a thread)."""
    if call.principal is not None:
        readers.require_provider(call.principal)
    registry = call.deps.registry
    submitter = call.principal.persona if call.principal else None
    try:
        request = parse_submit_objects_request(call.body, "/Envelope/Body/SubmitObjectsRequest")
        request.submission_set  # noqa: B018 (required: raises XdsWireError when absent or repeated)
        updates = request.status_updates
    except XdsWireError as error:
        return answer(RegistryResponse(v.RESPONSE_FAILURE, [RegistryError.from_wire_error(error)]))
    errors = _version_errors(registry, request) + _twice(updates)
    if not updates and not errors:
        errors.append(_error(UPDATE_ERROR, "the request holds no UpdateAvailabilityStatus association",
                             "SubmitObjectsRequest"))
    errors += [e for e in (check_update(registry, u, submitter) for u in updates) if e is not None]
    if errors:
        return answer(RegistryResponse(v.RESPONSE_FAILURE, errors))
    changes = [StatusChange(_entry_id(u.target), STORED_STATUS[u.new], REASONS[u.new], _location(u),
                            submitter=submitter, expected_status=XDS_CLASS[u.original],
                            restore=u.new == v.STATUS_APPROVED) for u in updates]
    try:  # all or nothing: one transaction, rolled back at the first refusal
        registry.change_statuses(changes, call.deps.context.clock.now())
    except DomainRegistryError as refused:
        return answer(RegistryResponse(v.RESPONSE_FAILURE, [_from_issue(i) for i in refused.issues]))
    return answer(RegistryResponse(v.RESPONSE_SUCCESS))


def _from_issue(issue: Issue) -> RegistryError:
    code = issue.ihe_code or UPDATE_ERROR
    return _error(code, issue.diagnostics + (f" [{issue.rule}]" if issue.rule else ""), issue.expression or "")


async def handle(call: XdsCall) -> XdsAnswer:
    """ITI-57 handler for :func:`soap_router`."""
    return await call.deps.context.cpu_lane.run(update_document_set, call)


def router(deps: Deps) -> APIRouter:
    """``POST /ddsregistry/metadataupdate``: ITI-57 Update Document Set."""
    return soap_router(deps, "/ddsregistry/metadataupdate", {SUBMIT_OBJECTS: handle},
                       summary="ITI-57 Update Document Set (slettemarkering)")
