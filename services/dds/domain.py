"""The registry's own model: XDS DocumentEntry, SubmissionSet, associations and documents.

The MHD face maps FHIR resources to these objects at the edge (``services.dds.mhd``); the
registry, its correction rules and its storage work on them only. Each object remembers where it
came from in the request (``origin``, a FHIRPath such as ``Bundle.entry[1].resource``) so an error
found deep inside can still name the element the client sent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

# CPR: the Danish civil registration number; re-exported as the patient identifier system indexed by.
from nsp_sandbox.cpr import CPR_SYSTEM as CPR_SYSTEM
from nsp_sandbox.outcome import Issue


class AvailabilityStatus(StrEnum):
    """DocumentEntry availabilityStatus, by its MHD (FHIR DocumentReference.status) code."""

    CURRENT = "current"  # XDS Approved
    SUPERSEDED = "superseded"  # XDS Deprecated
    ENTERED_IN_ERROR = "entered-in-error"  # deprecated as wrong (kept, never served as current)


class ObjectType(StrEnum):
    """XDS DocumentEntry objectType: a stored document, or one its source generates when retrieved."""

    STABLE = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"
    ON_DEMAND = "urn:uuid:34268e47-fdf5-41a6-ba33-82133c465248"


class AssociationKind(StrEnum):
    """XDS association types an entry can have towards an earlier entry (MHD ``relatesTo.code``)."""

    RPLC = "replaces"
    APND = "appends"
    XFRM = "transforms"
    SIGNS = "signs"


@dataclass(frozen=True)
class PatientId:
    """The patient an entry belongs to: an identifier system (CPR for Danish patients) and value."""

    system: str | None
    value: str

    def __str__(self) -> str:
        return f"{self.system or ''}|{self.value}"


@dataclass(frozen=True)
class Code:
    """One coded (or identifier) value, as ``system|code``."""

    system: str | None
    code: str


@dataclass(frozen=True)
class Document:
    """Document content exactly as received, with its SHA-1 (hex) and size in bytes."""

    content: bytes
    hash: str
    size: int

    @classmethod
    def of(cls, content: bytes) -> Document:
        return cls(content, hashlib.sha1(content).hexdigest(), len(content))


@dataclass(frozen=True)
class TargetRef:
    """How a submission names an earlier entry: by logical id, or by uniqueId / entryUUID."""

    entry_id: str | None = None
    identifier: str | None = None

    def __str__(self) -> str:
        return f"DocumentReference/{self.entry_id}" if self.entry_id else f"identifier {self.identifier}"


@dataclass
class Relation:
    """An association from a new entry to an earlier one (``relatesTo`` in MHD)."""

    kind: AssociationKind
    target: TargetRef
    origin: str  # e.g. Bundle.entry[2].resource.relatesTo[0]


@dataclass
class DocumentEntry:
    """A DocumentEntry to register: its searchable metadata, its document and its FHIR form.

    ``codes`` maps ITI-67 parameter names (``type``, ``category``, ``format``, ``setting``,
    ``facility``, ``event``, ``security-label``, ``author.identifier``, ``related``,
    ``identifier``) to the values the entry carries.
    """

    id: str
    entry_uuid: str
    unique_id: str
    patient: PatientId
    mime_type: str
    creation: datetime | None
    date: datetime
    period_start: datetime | None
    period_end: datetime | None
    codes: dict[str, list[Code]]
    document: Document | None  # None: an on-demand entry, whose document its source generates
    resource: dict[str, Any]  # the DocumentReference as it will be stored
    origin: str
    relations: list[Relation] = field(default_factory=list)
    status: AvailabilityStatus = AvailabilityStatus.CURRENT
    source_url: str | None = None  # on-demand: where the source generates the document (its retrieve URL)

    @property
    def object_type(self) -> ObjectType:
        return ObjectType.STABLE if self.document is not None else ObjectType.ON_DEMAND


@dataclass
class SubmissionSet:
    """The SubmissionSet a provide transaction registers its entries under."""

    id: str
    entry_uuid: str
    unique_id: str
    patient: PatientId
    submission_time: datetime | None
    source_id: str | None
    designation: Code | None
    resource: dict[str, Any]
    origin: str


@dataclass
class StatusUpdate:
    """An explicit status change carried in a provide transaction (MHD UpdateDocumentRefs)."""

    entry_id: str
    new_status: AvailabilityStatus
    origin: str


@dataclass
class Submission:
    """Everything one ITI-65 provide transaction asks the registry to do, all or nothing."""

    submission_set: SubmissionSet
    entries: list[DocumentEntry]
    status_updates: list[StatusUpdate] = field(default_factory=list)
    submitter: str | None = None  # who provides it: the persona of the token (None: access control off)


@dataclass(frozen=True)
class StoredEntry:
    """A registered entry as read back from storage."""

    pk: int
    id: str
    entry_uuid: str
    unique_id: str
    patient: PatientId
    status: AvailabilityStatus
    version: int
    mime_type: str
    document_hash: str | None  # None for an on-demand entry (no stored document)
    size: int | None
    date: datetime
    updated_at: datetime
    resource: dict[str, Any]
    object_type: ObjectType = ObjectType.STABLE
    source_url: str | None = None
    submitter: str | None = None  # the persona that registered it (None: registered without a token)


@dataclass(frozen=True)
class StoredSubmissionSet:
    """A registered submission set as read back from storage, with its members' ids."""

    pk: int
    id: str
    patient: PatientId
    status: str
    registered_at: datetime
    resource: dict[str, Any]
    member_ids: tuple[str, ...]


class RegistryError(Exception):
    """A submission or update the registry refuses; ``issues`` name the elements and XDS codes."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        super().__init__("; ".join(i.diagnostics for i in issues))
