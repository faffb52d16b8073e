"""The lifecycle rules a provide meets (``services.dds.lifecycle``) and the status-only update rule,
as pure functions over domain objects: what any face (MHD ITI-65, ITI-92) gets refused for."""

from __future__ import annotations

from datetime import datetime

from services.dds import lifecycle
from services.dds.domain import (
    CPR_SYSTEM,
    AssociationKind,
    AvailabilityStatus,
    DocumentEntry,
    PatientId,
    Relation,
    StatusUpdate,
    StoredEntry,
    Submission,
    SubmissionSet,
    TargetRef,
)
from services.dds.mhd.status_only import only_status_changes

PATIENT = PatientId(CPR_SYSTEM, "0602631234")
NOW = datetime(2026, 1, 1)


def _stored(entry_id: str, status: AvailabilityStatus = AvailabilityStatus.CURRENT) -> StoredEntry:
    return StoredEntry(pk=1, id=entry_id, entry_uuid=f"urn:uuid:{entry_id}", unique_id=entry_id, patient=PATIENT,
                       status=status, version=1, mime_type="text/plain", document_hash=None, size=None, date=NOW,
                       updated_at=NOW, resource={}, submitter="source")


def _entry(index: int, relations: list[Relation]) -> DocumentEntry:
    return DocumentEntry(id=f"new-{index}", entry_uuid=f"urn:uuid:new-{index}", unique_id=f"u-{index}",
                         patient=PATIENT, mime_type="text/plain", creation=None, date=NOW, period_start=None,
                         period_end=None, codes={}, document=None, resource={},
                         origin=f"Bundle.entry[{index}].resource", relations=relations)


def _submission(entries: list[DocumentEntry], updates: list[StatusUpdate] | None = None) -> Submission:
    sset = SubmissionSet(id="s", entry_uuid="urn:uuid:s", unique_id="s", patient=PATIENT, submission_time=None,
                         source_id=None, designation=None, resource={}, origin="Bundle.entry[0].resource")
    return Submission(sset, entries, updates or [], submitter="source")


def _replaces(index: int, target: str) -> Relation:
    return Relation(AssociationKind.RPLC, TargetRef(entry_id=target), f"Bundle.entry[{index}].resource.relatesTo[0]")


def _rules(submission: Submission, registered: dict[str, StoredEntry]) -> list[tuple[str | None, str | None]]:
    issues = lifecycle.check_submission(submission, lambda ref: registered.get(ref.entry_id or ""))
    return [(i.rule, i.expression) for i in issues]


def test_a_replacement_of_a_current_entry_by_its_source_passes() -> None:
    old = _stored("old")
    submission = _submission([_entry(1, [_replaces(1, "old")])],
                             [StatusUpdate("old", AvailabilityStatus.SUPERSEDED, "Bundle.entry[2].resource")])
    assert _rules(submission, {"old": old}) == []


def test_an_entry_replaced_twice_in_one_submission_is_refused_at_the_second_relation() -> None:
    submission = _submission([_entry(1, [_replaces(1, "old")]), _entry(2, [_replaces(2, "old")])])
    assert _rules(submission, {"old": _stored("old")}) == [
        ("dds-replace-once", "Bundle.entry[2].resource.relatesTo[0].target")]


def test_a_status_update_without_a_replacement_is_refused() -> None:
    update = StatusUpdate("other", AvailabilityStatus.SUPERSEDED, "Bundle.entry[2].resource")
    submission = _submission([_entry(1, [_replaces(1, "old")])], [update])
    assert _rules(submission, {"old": _stored("old"), "other": _stored("other")}) == [
        ("dds-update-document-refs", "Bundle.entry[2].resource")]


def test_relation_rules_come_before_the_replacement_rules() -> None:
    submission = _submission([_entry(1, [_replaces(1, "gone")])],
                             [StatusUpdate("gone", AvailabilityStatus.SUPERSEDED, "Bundle.entry[2].resource")])
    assert [rule for rule, _ in _rules(submission, {})] == ["dds-relation-target-exists", "dds-update-document-refs"]


def test_an_update_may_change_only_the_status() -> None:
    served = {"resourceType": "DocumentReference", "status": "current", "meta": {"versionId": "1"},
              "description": "a", "content": [{"attachment": {"title": "x"}}]}
    received = {**served, "status": "superseded", "meta": {}, "content": [{"attachment": {"title": "y"}}]}
    issues = only_status_changes(served, received, "Bundle.entry[3].resource")
    assert [(i.rule, i.expression) for i in issues] == [
        ("dds-update-status-only", "Bundle.entry[3].resource.content[0].attachment.title")]
    assert only_status_changes(served, {**served, "status": "entered-in-error"}, "DocumentReference") == []
