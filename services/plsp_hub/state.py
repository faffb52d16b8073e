"""What the PLSP Health Hub keeps of a GP system's data: the inputs of its document generators.

A GP system (LPS) hands the hub its current diagnosis card and its journal notes; the hub keeps
them as these values, applies its source rules (``sharing_rules``) and, when DDS retrieves an
on-demand entry, renders the current state as a MedCom ConditionList 1.0.1 or Notes 1.0.0
document Bundle (``conditionlist_document``, ``notes_document``).

All datetimes are timezone-aware. Names of a citizen with name and address protection arrive
here already as ``ADRESSEBESKYTTET`` (Document 2.0.2: "the missing field(s) MUST be populated
with ADRESSEBESKYTTET").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

DiagnosisStatus = Literal["current", "relevant"]  # category:status — SCT 15240007 Aktuel | 723506003 Relevant
DiagnosisKind = Literal["problem-list-item", "encounter-diagnosis"]  # category:type — Forløb | Kontakt
DateOrDateTime = date | datetime  # ConditionList allows date-only values; Notes needs a time with offset


@dataclass(frozen=True)
class Clinic:
    """The general practice (author institution): SOR id, name as the practice registers it."""

    sor: str
    name: str
    ydernummer: str | None = None


@dataclass(frozen=True)
class Patient:
    """The citizen as the CPR register knows them (looked up at NSP, never taken from the GP system)."""

    cpr: str
    given: tuple[str, ...]
    family: str
    gender: Literal["male", "female", "other", "unknown"]
    birth_date: date


@dataclass(frozen=True)
class Practitioner:
    """A person at the practice. ``identifier`` is stable across versions (Document 2.0.2)."""

    identifier_system: str
    identifier_value: str
    given: tuple[str, ...]
    family: str


@dataclass(frozen=True)
class Author:
    """Who wrote a note: a practitioner, a role (code from MedCom's PractitionerRolesSKSadministrativ
    code system, e.g. ``speciallaegeipraksis``, ``sygeplejerske``, or free text), or both."""

    practitioner: Practitioner | None = None
    role_code: str | None = None
    role_text: str | None = None


@dataclass(frozen=True)
class Diagnosis:
    """One diagnosis in the GP system, with the practice's choices about sharing it."""

    key: str  # the GP system's own stable id of the diagnosis
    recorded: DateOrDateTime  # registration in the GP system (Condition.recordedDate)
    status: DiagnosisStatus
    sks: str | None = None  # SKS D-code (ICD-10 in SKS), e.g. "DE119"
    icpc2: str | None = None  # ICPC-2-DK code, e.g. "T90"
    text: str | None = None  # diagnosis text (Condition.code.text)
    kind: DiagnosisKind | None = None
    onset: DateOrDateTime | None = None
    abatement: DateOrDateTime | None = None
    on_card: bool = True  # on the diagnosis card (only these are shared)
    private: bool = False  # marked "Privat" (never shared)
    internal_note: str | None = None  # the clinic's "tillægstekst": kept, never shared
    # Codes of other systems, as (system or None, code): SNOMED CT, a code without a system, …
    # (the Condition page: "another code system → new slice"; "code without a system").
    other_codes: tuple[tuple[str | None, str], ...] = ()


@dataclass(frozen=True)
class Approval:
    """The practice's approval of the card: who approved it and when."""

    by: Practitioner
    at: datetime


@dataclass(frozen=True)
class ConditionCard:
    """A clinic's diagnosis card for one patient, as last submitted."""

    patient: Patient
    clinic: Clinic
    diagnoses: tuple[Diagnosis, ...]
    updated: datetime  # last create/update/delete on the card: Composition.date ("senest opdateret")
    approval: Approval | None = None


@dataclass(frozen=True)
class Note:
    """One journal note, in its newest version."""

    key: str  # the GP system's own stable id of the note
    patient: Patient
    clinic: Clinic
    created: datetime  # encounter/creation time: effectiveDateTime = event.period.start; never changes
    updated: datetime  # last update: Composition.date (equal to ``created`` until the note is updated)
    body_html: str  # the note body, already reduced to the allowed simplified-HTML subset
    version: int = 1
    author: Author | None = None
    ended: datetime | None = None  # event.period.end, when known
