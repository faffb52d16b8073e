"""The stored metadata as XDS.b shows it: a DocumentReference → ebRIM ``ExtrinsicObject``, a
SubmissionSet ``List`` → ``RegistryPackage``, relations and memberships → ``Association``.

A DocumentReference becomes a DocumentEntry by the sandbox's one FHIR → ebRIM mapping,
``nsp_sandbox.xds.from_mhd`` (IHE MHD's, dds-nsp.md §4.3 — the one the XDS.b client and the actors'
XDS doors submit with); this module adds what only the registry knows:

* ``status`` → availabilityStatus (``current`` → Approved, ``superseded`` / ``entered-in-error`` →
  Deprecated, ITI TF-3 §4.2.3.2.2); the entry's kind → ``objectType`` (stable / on-demand);
* the ``codingScheme`` of a FHIR code system as an OID: ``urn:oid:`` systems directly, other
  systems by their loaded CodeSystem's ``identifier``, else the known OIDs of :data:`KNOWN_SCHEMES`;
* the stored patient, uniqueId and mimeType; hash (hex SHA-1, not FHIR's base64) and size for a
  stable entry only (prohibited for on-demand, ITI TF-3 Table 4.2.3.2-1); ``repositoryUniqueId``
  and ``home`` from the sandbox settings; ``lid`` = entryUUID, version 1 (DDS keeps no versions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nsp_sandbox.xds import vocabulary as v
from nsp_sandbox.xds.from_mhd import (
    Registered,
    author_classification,
    coded,
    contained,
    document_entry,
    dtm,
    object_id,
    patient_cx,
    xds_oid,
)
from nsp_sandbox.xds.rim import (
    Association,
    Classification,
    ExternalIdentifier,
    ExtrinsicObject,
    LocalizedString,
    RegistryPackage,
    Slot,
)
from services.dds.domain import AssociationKind, AvailabilityStatus, ObjectType, StoredEntry, StoredSubmissionSet

# Code systems whose loaded CodeSystem names no OID, with the OID XDS knows them by (dds-nsp.md §1.5).
KNOWN_SCHEMES = {
    "http://snomed.info/sct": "2.16.840.1.113883.6.96",
    "http://loinc.org": "2.16.840.1.113883.6.1",
    "http://terminology.hl7.org/CodeSystem/v3-Confidentiality": "2.16.840.1.113883.5.25",
    "http://medcomfhir.dk/ig/xdsdocuments/CodeSystem/MedComHCOFormatCodeCS": "1.2.208.184.100.10",
}
STATUS_OF = {AvailabilityStatus.CURRENT: v.STATUS_APPROVED, AvailabilityStatus.SUPERSEDED: v.STATUS_DEPRECATED,
             AvailabilityStatus.ENTERED_IN_ERROR: v.STATUS_DEPRECATED}
_KINDS = {AssociationKind.RPLC: v.ASSOC_RPLC, AssociationKind.APND: v.ASSOC_APND, AssociationKind.XFRM: v.ASSOC_XFRM,
          AssociationKind.SIGNS: v.ASSOC_SIGNS}
# The registry stores a relation's kind by name (RPLC); MHD names it by value (replaces): both map.
ASSOCIATION_OF = {**{k.name: t for k, t in _KINDS.items()}, **{k.value: t for k, t in _KINDS.items()}}


@dataclass
class ViewSettings:
    """What the view needs beyond the entry: the affinity domain's ids and the code-system names."""

    home_community_id: str
    repository_unique_id: str
    system_oids: dict[str, str | None] = field(default_factory=dict)  # FHIR system → OID (cache)
    names: Any = None  # services.dds.metadata.codes.SystemNames, when a terminology is loaded

    def scheme(self, system: str | None) -> str:
        """The XDS ``codingScheme`` of a FHIR code system (an OID when one is known, else the URI)."""
        if not system:
            return ""
        if system.startswith("urn:oid:"):
            return system.removeprefix("urn:oid:")
        if system not in self.system_oids:
            oids = sorted(n for n in (self.names.names(system) if self.names is not None else ()) if
                          n.startswith("urn:oid:"))
            self.system_oids[system] = oids[0].removeprefix("urn:oid:") if oids else KNOWN_SCHEMES.get(system)
        return self.system_oids[system] or system


def extrinsic_object(entry: StoredEntry, settings: ViewSettings) -> ExtrinsicObject:
    """The DocumentEntry of a stored entry (ITI TF-3 §4.2.3.2, as a registry returns it in ITI-18)."""
    stable = entry.object_type is ObjectType.STABLE
    registered = Registered(
        status=STATUS_OF[entry.status], mime_type=entry.mime_type, unique_id=entry.unique_id,
        repository_unique_id=settings.repository_unique_id, home_community_id=settings.home_community_id,
        hash=entry.document_hash if stable else None, size=entry.size if stable else None)
    return document_entry(entry.resource, on_demand=not stable, entry_uuid=entry.entry_uuid,
                          patient=(entry.patient.system, entry.patient.value), scheme=settings.scheme,
                          registered=registered)


def _names(items: list[str | None]) -> list[LocalizedString]:
    return [LocalizedString(text) for text in items if text]


def submission_set_ids(stored: StoredSubmissionSet) -> tuple[str, str]:
    """(entryUUID, uniqueId) of a stored SubmissionSet: its ``official`` and ``usual`` identifiers."""
    found = {i.get("use"): i.get("value") for i in stored.resource.get("identifier") or [] if isinstance(i, dict)}
    entry_uuid = found.get("official") or f"urn:uuid:{stored.id}"
    return str(entry_uuid), xds_oid(str(found.get("usual") or entry_uuid))


def _extension(resource: dict[str, Any], suffix: str) -> dict[str, Any]:
    return next((e for e in resource.get("extension") or [] if isinstance(e, dict)
                 and str(e.get("url", "")).endswith(suffix)), {})


def registry_package(stored: StoredSubmissionSet, settings: ViewSettings) -> RegistryPackage:
    """The SubmissionSet of a stored SubmissionSet ``List`` (ITI TF-3 §4.2.3.3; MHD ``submissionSet.fsh``)."""
    resource = stored.resource
    owner, unique_id = submission_set_ids(stored)
    classifications = [Classification(id=object_id(owner, "node"), classified_object=owner,
                                      classification_node=v.SUBMISSION_SET_NODE,
                                      object_type=v.OBJECT_TYPE_CLASSIFICATION)]
    source = contained(resource, (resource.get("source") or {}).get("reference")) \
        if isinstance(resource.get("source"), dict) else None
    if source is not None:
        author = author_classification({**resource, "author": [resource["source"]]}, owner, v.SS_AUTHOR)
        classifications += [author] if author is not None else []
    designation = _extension(resource, "ihe-designationType").get("valueCodeableConcept")
    classifications += coded(settings.scheme, owner, v.SS_CONTENT_TYPE_CODE, [designation] if designation else [])
    source_id = _extension(resource, "ihe-sourceId").get("valueIdentifier") or {}
    identifiers = [(v.SS_UNIQUE_ID, unique_id), (v.SS_SOURCE_ID, xds_oid(str(source_id.get("value") or ""))),
                   (v.SS_PATIENT_ID, patient_cx(stored.patient.value, stored.patient.system))]
    return RegistryPackage(
        id=owner, lid=owner, object_type=v.OBJECT_TYPE_REGISTRY_PACKAGE, status=v.STATUS_APPROVED,
        home=settings.home_community_id,
        slots=[Slot("submissionTime", [t])] if (t := dtm(resource.get("date")) or dtm(stored.registered_at)) else [],
        name=_names([resource.get("title") if isinstance(resource.get("title"), str) else None]),
        classifications=classifications,
        external_identifiers=[ExternalIdentifier(
            id=object_id(owner, scheme), identification_scheme=scheme, registry_object=owner, value=value,
            object_type=v.OBJECT_TYPE_EXTERNAL_IDENTIFIER, name=_names([v.EXTERNAL_IDENTIFIER_NAMES[scheme]]))
            for scheme, value in identifiers if value])


def has_member(set_uuid: str, entry_uuid: str) -> Association:
    """SubmissionSet → DocumentEntry ``HasMember`` (``SubmissionSetStatus`` Original, ITI TF-3 §4.2.2.1)."""
    return Association(id=object_id(set_uuid, "HasMember", entry_uuid), association_type=v.ASSOC_HAS_MEMBER,
                       source_object=set_uuid, target_object=entry_uuid, status=v.STATUS_APPROVED,
                       object_type=v.OBJECT_TYPE_ASSOCIATION,
                       slots=[Slot(v.SLOT_SUBMISSION_SET_STATUS, ["Original"])])


def relation(source_uuid: str, kind: str, target_uuid: str) -> Association:
    """An entry's relation to an earlier entry (MHD ``relatesTo``) as its XDS association (RPLC, …)."""
    association_type = ASSOCIATION_OF.get(kind, kind)
    return Association(id=object_id(source_uuid, association_type, target_uuid), association_type=association_type,
                       source_object=source_uuid, target_object=target_uuid, status=v.STATUS_APPROVED,
                       object_type=v.OBJECT_TYPE_ASSOCIATION)
