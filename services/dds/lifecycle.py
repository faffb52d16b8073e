"""The correction lifecycle of shared documents: replace, deprecate, never delete.

Rules (ITI TF-3 4.2.2 as used in Denmark, see ``docs/dds.md``):

* A new entry may relate to an earlier one (RPLC replaces, APND appends, XFRM transforms,
  signs). The earlier entry must be registered (``XDSMissingDocument``), still current
  (``XDSRegistryDeprecatedDocumentError``) and belong to the same patient
  (``XDSPatientIdDoesNotMatch``).
* RPLC makes the earlier entry ``superseded`` in the same transaction; the other kinds leave it
  as it is. One entry can be replaced only once.
* Deprecation without replacement (IHE RMU, ITI-92) changes only the status, from ``current`` to
  ``superseded`` or ``entered-in-error``; every other change is refused.
* Only the source that registered an entry changes its status (by RMU or by replacing it): the
  same system identity (the persona of its token), or with access control off — or for an entry
  registered without a token — the same author institution (SOR). "MAY be changed to Deprecated
  under the primary responsibility of the creating entity" (DK XDS metadata profile).
* Nothing is deleted: entries, documents and associations are kept for ever.
"""

from __future__ import annotations

from nsp_sandbox.outcome import Issue
from services.dds.domain import AssociationKind, AvailabilityStatus, PatientId, Relation, StoredEntry
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


def check_status_change(entry: StoredEntry, new_status: AvailabilityStatus, expression: str) -> Issue | None:
    """Whether ``entry`` may move to ``new_status`` by an explicit update (RMU)."""
    if new_status in ALLOWED_STATUS_CHANGES[entry.status]:
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
