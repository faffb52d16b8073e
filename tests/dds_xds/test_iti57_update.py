"""ITI-57 Update Document Set on DDS's metadata-update endpoint: Approved → Deprecated
("slettemarkering", stored as the MHD face's retraction: ``entered-in-error``), Deprecated → Approved
only by the registering source and only while no other version of the document is Approved, the
metadata-version rules checked and a metadata update itself refused; never a delete."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from provide_support import capture_request, fresh, provide, replacing, with_uuid_ids
from test_iti41_provide import _registry, _strict, xds  # noqa: F401 (the fixture)
from xds_support import ACTIONS, GP, envelope, idcard, payload, post, registry_errors, status_word

from nsp_sandbox.config import Strictness
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.xds import vocabulary as v
from nsp_sandbox.xds.ebrim import StatusUpdate, SubmitObjectsRequest, write_submit_objects_request
from nsp_sandbox.xds.rim import AnyObject, Association, Classification, RegistryPackage, Slot
from services.dds.domain import AvailabilityStatus
from services.dds.domain import RegistryError as DomainRegistryError
from services.dds.registry import StatusChange
from services.dds.xds import iti57

APPROVED, DEPRECATED = v.STATUS_APPROVED, v.STATUS_DEPRECATED


def _submission_set() -> RegistryPackage:
    set_id = f"urn:uuid:{uuid.uuid4()}"
    return RegistryPackage(id=set_id, classifications=[Classification(
        id=f"urn:uuid:{uuid.uuid4()}", classification_node=v.SUBMISSION_SET_NODE, classified_object=set_id)])


def _send(client: Any, objects: list[AnyObject], persona: str = "system-eoj-aarhus",
          path: str = "/dds/ddsregistry/metadataupdate") -> Any:
    body = write_submit_objects_request(SubmitObjectsRequest(objects))
    return payload(post(client, path, envelope(idcard(client, persona), body, ACTIONS["iti57"])))


def _update(client: Any, target: str, persona: str = "system-eoj-aarhus", new: str = DEPRECATED,
            original: str = APPROVED, path: str = "/dds/ddsregistry/metadataupdate") -> Any:
    package = _submission_set()
    update = StatusUpdate(f"urn:uuid:{uuid.uuid4()}", package.id, target, original, new)
    return _send(client, [package, update.association()], persona, path)


def _provided(client: Any, context: SandboxContext, replaces: str | None = None) -> str:
    _strict(context, Strictness.WARNING)
    request = fresh(capture_request())
    entry_uuid = with_uuid_ids(request)
    if replaces:
        replacing(request, replaces)
    assert status_word(payload(provide(client, request))) == "PartialSuccess"
    return entry_uuid


def _status(client: Any, entry_uuid: str) -> str:
    stored = _registry(client).get_entry(entry_uuid.removeprefix("urn:uuid:"))
    assert stored is not None  # kept, never deleted
    return stored.status.value


def _codes(answer: Any) -> set[str]:
    return {code for code, _, _ in registry_errors(answer)}


def test_source_deprecates_its_entry_as_a_retraction(xds: Any, context: SandboxContext) -> None:  # noqa: F811
    entry_uuid = _provided(xds, context)
    assert status_word(_update(xds, entry_uuid)) == "Success"
    assert _status(xds, entry_uuid) == "entered-in-error"  # what the MHD face's retraction stores
    again = _update(xds, entry_uuid, path="/dds/dros")
    assert status_word(again) == "Failure" and _codes(again) == {"XDSMetadataUpdateError"}  # it is Deprecated now
    same = _update(xds, entry_uuid, new=DEPRECATED, original=DEPRECATED)
    assert status_word(same) == "Failure" and _codes(same) == {"XDSMetadataUpdateError"}


def test_source_takes_a_deprecated_entry_back_to_approved(xds: Any, context: SandboxContext) -> None:  # noqa: F811
    entry_uuid = _provided(xds, context)
    assert status_word(_update(xds, entry_uuid)) == "Success"
    refused = _update(xds, entry_uuid, persona=GP, new=APPROVED, original=DEPRECATED)
    assert status_word(refused) == "Failure" and _codes(refused) == {"XDSMetadataUpdateError"}
    assert "system-eoj-aarhus" in registry_errors(refused)[0][2]  # names who registered it
    assert _status(xds, entry_uuid) == "entered-in-error"
    wrong_original = _update(xds, entry_uuid, new=APPROVED, original=APPROVED)
    assert status_word(wrong_original) == "Failure"
    back = _update(xds, entry_uuid, new=APPROVED, original=DEPRECATED, path="/dds/dros")
    assert status_word(back) == "Success", registry_errors(back)
    assert _status(xds, entry_uuid) == "current"


def test_no_second_approved_version_of_a_replaced_document(xds: Any, context: SandboxContext) -> None:  # noqa: F811
    first = _provided(xds, context)
    second = _provided(xds, context, replaces=first)
    assert _status(xds, first) == "superseded"
    refused = _update(xds, first, new=APPROVED, original=DEPRECATED)
    assert status_word(refused) == "Failure" and _codes(refused) == {"XDSMetadataUpdateError"}
    assert second in registry_errors(refused)[0][2]  # names the Approved version
    assert _status(xds, first) == "superseded"
    # once the replacement is itself deprecated, no version is Approved: the original may come back
    assert status_word(_update(xds, second)) == "Success"
    assert status_word(_update(xds, first, new=APPROVED, original=DEPRECATED)) == "Success"
    assert (_status(xds, first), _status(xds, second)) == ("current", "entered-in-error")
    # and now the replacement cannot come back beside it
    refused = _update(xds, second, new=APPROVED, original=DEPRECATED)
    assert status_word(refused) == "Failure" and first in registry_errors(refused)[0][2]


def test_only_the_source_may_update(xds: Any, context: SandboxContext) -> None:  # noqa: F811
    entry_uuid = _provided(xds, context)
    refused = _update(xds, entry_uuid, persona=GP)
    assert status_word(refused) == "Failure" and _codes(refused) == {"XDSMetadataUpdateError"}
    assert _status(xds, entry_uuid) == "current"


def test_every_update_is_checked_before_any_is_applied(xds: Any, context: SandboxContext) -> None:  # noqa: F811
    entry_uuid = _provided(xds, context)
    package = _submission_set()
    updates = [StatusUpdate(f"urn:uuid:{uuid.uuid4()}", package.id, target, APPROVED, DEPRECATED).association()
               for target in (entry_uuid, f"urn:uuid:{uuid.uuid4()}")]
    refused = _send(xds, [package, *updates])
    assert status_word(refused) == "Failure" and _codes(refused) == {"XDSMissingDocument"}
    assert _status(xds, entry_uuid) == "current"


def test_a_request_whose_later_update_loses_a_race_changes_nothing(
        xds: Any, context: SandboxContext, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """Two updates pass every check; between the checks and the apply a concurrent request
    deprecates the second entry. The second compare-and-set is refused, and the first update,
    applied before it in the same transaction, is rolled back with it."""
    first, second = _provided(xds, context), _provided(xds, context)
    checked = iti57.check_update

    def checked_then_raced(registry: Any, update: StatusUpdate, submitter: str | None) -> Any:
        verdict = checked(registry, update, submitter)
        if update.target == second:  # the concurrent request wins the second entry
            registry.change_status(second.removeprefix("urn:uuid:"), AvailabilityStatus.ENTERED_IN_ERROR,
                                   datetime.now(UTC), expected_version=None, reason="concurrent",
                                   expression="concurrent", submitter=submitter)
        return verdict

    monkeypatch.setattr(iti57, "check_update", checked_then_raced)
    package = _submission_set()
    updates = [StatusUpdate(f"urn:uuid:{uuid.uuid4()}", package.id, target, APPROVED, DEPRECATED).association()
               for target in (first, second)]
    refused = _send(xds, [package, *updates])
    assert status_word(refused) == "Failure" and _codes(refused) == {"XDSMetadataUpdateError"}
    assert [context.split("DocumentReference/")[1].split(" ")[0] for _, _, context in registry_errors(refused)] \
        == [second.removeprefix("urn:uuid:")]  # the second update is the one refused
    assert _status(xds, first) == "current"  # the first update did not stay applied
    assert _status(xds, second) == "entered-in-error"  # the concurrent change's


def test_registry_applies_several_changes_all_or_nothing(xds: Any, context: SandboxContext) -> None:  # noqa: F811
    first, second = (_provided(xds, context).removeprefix("urn:uuid:") for _ in range(2))
    registry = _registry(xds)
    submitter = registry.get_entry(first).submitter
    retract = AvailabilityStatus.ENTERED_IN_ERROR
    with pytest.raises(DomainRegistryError) as refused:
        registry.change_statuses([StatusChange(first, retract, "r", "first", submitter=submitter),
                                  StatusChange(second, retract, "r", "second", submitter="someone-else")],
                                 datetime.now(UTC))
    assert [i.expression for i in refused.value.issues] == ["second"]
    assert registry.get_entry(first).status is AvailabilityStatus.CURRENT
    done = registry.change_statuses([StatusChange(first, retract, "r", "first", submitter=submitter),
                                     StatusChange(second, retract, "r", "second", submitter=submitter)],
                                    datetime.now(UTC))
    assert [e.status for e in done] == [retract, retract]
    assert {registry.get_entry(i).status for i in (first, second)} == {retract}


def test_unknown_target_is_missing_document(xds: Any, context: SandboxContext) -> None:  # noqa: F811
    refused = _update(xds, f"urn:uuid:{uuid.uuid4()}")
    assert status_word(refused) == "Failure"
    assert _codes(refused) == {"XDSMissingDocument"}


def _new_version(lid: str, previous: str) -> list[AnyObject]:
    """A metadata update: a new version of the entry ``lid`` (new id, same lid) with PreviousVersion."""
    entry = fresh(capture_request()).submission.document_entries[0]
    version = replace(entry, id=f"urn:uuid:{uuid.uuid4()}", lid=lid)
    package = _submission_set()
    member = Association(id=f"urn:uuid:{uuid.uuid4()}", association_type=v.ASSOC_HAS_MEMBER,
                         source_object=package.id, target_object=version.id,
                         slots=[Slot(v.SLOT_SUBMISSION_SET_STATUS, ["Original"]),
                                Slot(v.SLOT_PREVIOUS_VERSION, [previous])])
    return [package, version, member]


def test_metadata_update_is_checked_by_version_then_refused(xds: Any, context: SandboxContext) -> None:  # noqa: F811
    entry_uuid = _provided(xds, context)
    stale = _send(xds, _new_version(entry_uuid, "2"))
    assert status_word(stale) == "Failure" and _codes(stale) == {"XDSMetadataVersionError"}
    unknown = _send(xds, _new_version(f"urn:uuid:{uuid.uuid4()}", "1"))
    assert status_word(unknown) == "Failure" and _codes(unknown) == {"XDSMetadataUpdateError"}
    refused = _send(xds, _new_version(entry_uuid, "1"), path="/dds/dros")
    assert status_word(refused) == "Failure" and _codes(refused) == {"XDSMetadataUpdateOperationError"}
    assert "RPLC" in registry_errors(refused)[0][2]
    assert _status(xds, entry_uuid) == "current"  # nothing changed


def test_operations_dds_does_not_offer_are_named(xds: Any, context: SandboxContext) -> None:  # noqa: F811
    entry_uuid = _provided(xds, context)
    package = _submission_set()
    folder_id = f"urn:uuid:{uuid.uuid4()}"
    folder = RegistryPackage(id=folder_id, classifications=[Classification(
        id=f"urn:uuid:{uuid.uuid4()}", classification_node=v.FOLDER_NODE, classified_object=folder_id)])
    apnd = Association(id=f"urn:uuid:{uuid.uuid4()}", association_type=v.ASSOC_APND, source_object=entry_uuid,
                       target_object=entry_uuid)
    update = StatusUpdate(f"urn:uuid:{uuid.uuid4()}", package.id, entry_uuid, APPROVED, DEPRECATED)
    refused = _send(xds, [package, folder, apnd, update.association()])
    errors = registry_errors(refused)
    assert status_word(refused) == "Failure" and {code for code, _, _ in errors} == {"XDSMetadataUpdateOperationError"}
    assert len(errors) == 2 and "Folder" in errors[0][2]
    assert _status(xds, entry_uuid) == "current"
