"""The correction lifecycle of shared documents: replace, deprecate, never delete.

Rules (ITI TF-3 4.2.2 as used in Denmark, see ``docs/dds.md``):

* A new entry may relate to an earlier one (RPLC replaces, APND appends, XFRM transforms,
  signs). The earlier entry must be registered (``XDSMissingDocument``), still current
  (``XDSRegistryDeprecatedDocumentError``) and belong to the same patient
  (``XDSPatientIdDoesNotMatch``).
* RPLC makes the earlier entry ``superseded`` in the same transaction; the other kinds leave it
  as it is. One entry can be replaced only once (``dds-replace-once``); an entry set to
  ``superseded`` in a provide (MHD UpdateDocumentRefs) must be one that submission replaces
  (``dds-update-document-refs``).
* Deprecation without replacement (IHE RMU, ITI-92) changes only the status, from ``current`` to
  ``superseded`` or ``entered-in-error``; every other change is refused, deprecating an entry
  already deprecated too (a no-op is only ``current`` → ``current``) — except that ITI-57 may
  take a deprecated entry back to ``current`` (Deprecated → Approved, ``restore``) once the XDS face
  has checked that no other version of that document is current.
* Every status change (by replacement or deprecation, over any face) is one compare-and-set in the
  registry's storage: of concurrent changes to one entry exactly one wins; the others are refused
  whole, as they would be had they come after it.
* Only the source that registered an entry changes its status (by RMU or by replacing it): the
  same system identity (the persona of its token), or with access control off — or for an entry
  registered without a token — the same author institution (SOR). "MAY be changed to Deprecated
  under the primary responsibility of the creating entity" (DK XDS metadata profile).
* Nothing is deleted: entries, documents and associations are kept for ever.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from nsp_sandbox.outcome import Issue
from services.dds.domain import (
    AssociationKind,
    AvailabilityStatus,
    PatientId,
    Relation,
    StatusUpdate,
    StoredEntry,
    Submission,
    TargetRef,
)
from services.dds.metadata.author import author_institutions

RULE_SOURCE = "IHE ITI TF-3 4.2.2 (associations) / ITI-92 (RMU); MD096 1.3.1.3"
OWNER_SOURCE = ("DK XDS metadata profile: availabilityStatus \"MAY be changed to Deprecated under the primary "
                "responsibility of the creating entity\"")

NEVER_DELETED = (
    "Shared documents are never deleted: replace the entry (ITI-65 with relatesTo 'replaces') "
    "or deprecate it (PUT DocumentReference/{id} with status 'superseded' or 'entered-in-error')"
)

#: Status changes allowed through RMU (ITI-92), from → allowed targets.
ALLOWED_STATUS_CHANGES: dict[AvailabilityStatus, frozenset[AvailabilityStatus]] = {
    AvailabilityStatus.CURRENT: frozenset({AvailabilityStatus.SUPERSEDED, AvailabilityStatus.ENTERED_IN_ERROR}),
    AvailabilityStatus.SUPERSEDED: frozenset(),
    AvailabilityStatus.ENTERED_IN_ERROR: frozenset(),
}


def status_after(kind: AssociationKind) -> AvailabilityStatus | None:
    """The status an association gives its target: RPLC supersedes it, the others leave it."""
    return AvailabilityStatus.SUPERSEDED if kind is AssociationKind.RPLC else None


def check_relation(relation: Relation, patient: PatientId, target: StoredEntry | None) -> list[Issue]:
    """Whether a new entry of ``patient`` may relate to ``target`` (None: not registered)."""
    where = f"{relation.origin}.target"
    if target is None:
        return [Issue(
            "error", "not-found",
            f"relatesTo '{relation.kind.value}' names {relation.target}, which is not in the registry",
            expression=where, source=RULE_SOURCE, rule="dds-relation-target-exists",
            ihe_code="XDSMissingDocument",
        )]
    issues: list[Issue] = []
    if target.status is not AvailabilityStatus.CURRENT:
        issues.append(Issue(
            "error", "business-rule",
            f"relatesTo '{relation.kind.value}' targets DocumentReference/{target.id}, which is "
            f"'{target.status.value}', not 'current'; only a current entry can be "
            f"{'replaced' if relation.kind is AssociationKind.RPLC else 'related to'}",
            expression=where, source=RULE_SOURCE, rule="dds-relation-target-current",
            ihe_code="XDSRegistryDeprecatedDocumentError",
        ))
    if (target.patient.value, target.patient.system) != (patient.value, patient.system):
        issues.append(Issue(
            "error", "business-rule",
            f"relatesTo '{relation.kind.value}' targets DocumentReference/{target.id} of another "
            "patient; an entry can only relate to entries of its own patient",
            expression=where, source=RULE_SOURCE, rule="dds-relation-same-patient",
            ihe_code="XDSPatientIdDoesNotMatch",
        ))
    return issues


#: Statuses ITI-57 may take back to ``current`` (Deprecated → Approved, ITI TF-2b §3.57.4.1.3.3).
RESTORABLE = frozenset({AvailabilityStatus.SUPERSEDED, AvailabilityStatus.ENTERED_IN_ERROR})


def check_status_change(entry: StoredEntry, new_status: AvailabilityStatus, expression: str, *,
                        restore: bool = False) -> Issue | None:
    """Whether ``entry`` may move to ``new_status`` by an explicit update (RMU; with ``restore``
    also ITI-57's Deprecated → Approved)."""
    if new_status in ALLOWED_STATUS_CHANGES[entry.status]:
        return None
    if restore and new_status is AvailabilityStatus.CURRENT and entry.status in RESTORABLE:
        return None
    allowed = ", ".join(sorted(s.value for s in ALLOWED_STATUS_CHANGES[entry.status])) or "none"
    return Issue(
        "error", "business-rule",
        f"DocumentReference/{entry.id} is '{entry.status.value}'; it cannot become "
        f"'{new_status.value}' (allowed: {allowed})",
        expression=expression, source=RULE_SOURCE, rule="dds-status-transition",
        ihe_code="XDSRegistryDeprecatedDocumentError" if entry.status is not AvailabilityStatus.CURRENT
        else "XDSMetadataUpdateError",
    )


def check_expected_status(entry: StoredEntry, expected: Collection[AvailabilityStatus] | None,
                          expression: str) -> Issue | None:
    """Whether ``entry`` has one of the statuses the request says it has (ITI-57 ``OriginalStatus``:
    Deprecated is ``superseded`` or ``entered-in-error``; None: no condition)."""
    if expected is None or entry.status in expected:
        return None
    named = " or ".join(f"'{s.value}'" for s in sorted(expected, key=lambda s: s.value))
    return Issue(
        "error", "conflict",
        f"The request expects DocumentReference/{entry.id} to be {named}; it is '{entry.status.value}'",
        expression=expression, source=RULE_SOURCE, rule="dds-expected-status", ihe_code="XDSMetadataUpdateError",
    )


def check_owner(target: StoredEntry, submitter: str | None, institutions: frozenset[str],
                expression: str) -> Issue | None:
    """Whether the source asking (``submitter``: its token's persona; ``institutions``: the SOR codes
    of the author institutions it sends) may change ``target``'s status: only its registering source."""
    if submitter is not None and target.submitter is not None:
        if submitter == target.submitter:
            return None
        why = f"it was registered by '{target.submitter}', and this request comes from '{submitter}'"
    else:
        registered = author_institutions(target.resource)
        if not registered or registered & institutions:
            return None
        why = (f"its author institution is SOR {', '.join(sorted(registered))}, and this request names "
               f"{'SOR ' + ', '.join(sorted(institutions)) if institutions else 'no author institution'}")
    return Issue(
        "error", "forbidden",
        f"DocumentReference/{target.id} can only change status by the source that registered it: {why}",
        expression=expression, source=OWNER_SOURCE, rule="dds-source-owns-entry",
        ihe_code="XDSMetadataUpdateError",
    )


def check_replace_once(relation: Relation, target: StoredEntry, replaced: dict[str, str]) -> Issue | None:
    """``dds-replace-once``: ``target`` is not replaced by another relation of the same submission
    (``replaced``: target entry id → origin of the relation replacing it, so far)."""
    if target.id not in replaced:
        return None
    return Issue(
        "error", "business-rule",
        f"DocumentReference/{target.id} is replaced twice in this submission (also by {replaced[target.id]})",
        expression=f"{relation.origin}.target", source=RULE_SOURCE,
        rule="dds-replace-once", ihe_code="XDSRegistryDeprecatedDocumentError",
    )


def check_update_document_refs(status_update: StatusUpdate, replaced: dict[str, str]) -> Issue | None:
    """``dds-update-document-refs``: an entry a provide sets to another status is one it replaces
    (deprecation without replacement is ITI-92's)."""
    if status_update.entry_id in replaced:
        return None
    return Issue(
        "error", "business-rule",
        f"DocumentReference/{status_update.entry_id} is set to '{status_update.new_status.value}' "
        "but no DocumentReference in this submission replaces it; deprecate without replacement "
        "with PUT DocumentReference/{id} (ITI-92)",
        expression=status_update.origin, source=RULE_SOURCE,
        rule="dds-update-document-refs", ihe_code="XDSRegistryMetadataError",
    )


def check_submission(submission: Submission, resolve: Callable[[TargetRef], StoredEntry | None]) -> list[Issue]:
    """Every lifecycle rule a submission meets, in order: each relation's target (registered,
    current, same patient), for a replacement its owner and that it is replaced once, then the
    submission's status updates. ``resolve`` finds a relation's target in the registry."""
    issues: list[Issue] = []
    replaced: dict[str, str] = {}  # target entry id -> origin of the relation replacing it
    for entry in submission.entries:
        for relation in entry.relations:
            target = resolve(relation.target)
            issues.extend(check_relation(relation, entry.patient, target))
            if target is None or relation.kind is not AssociationKind.RPLC:
                continue
            for problem in (check_owner(target, submission.submitter, author_institutions(entry.resource),
                                        f"{relation.origin}.target"),
                            check_replace_once(relation, target, replaced)):
                if problem is not None:
                    issues.append(problem)
            replaced[target.id] = relation.origin
    for status_update in submission.status_updates:
        problem = check_update_document_refs(status_update, replaced)
        if problem is not None:
            issues.append(problem)
    return issues
