"""The LPS → PLSP interface's request and response bodies (JSON), with the examples the OpenAPI
document shows. MedCom publishes no interface between GP systems and PLSP; this one is the sandbox's.

Times carry a time zone (``2026-05-05T10:11:00+02:00``); diagnosis dates may be dates only
(``2024-05-06``), as ConditionList allows.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nsp_sandbox.outcome import Issue
from services.plsp_hub.state import Approval, Author, Diagnosis, Practitioner

AUTHORISATION_SYSTEM = "https://autregweb.sst.dk"  # the Danish authorisation register (autorisations-id)

DateOrTime = date | datetime


def _aware(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        raise ValueError("a time needs a time zone offset, e.g. 2026-05-05T10:11:00+02:00")
    return value


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PractitionerIn(_Body):
    """A person at the practice; ``identifier`` stays the same across versions (e.g. the authorisation id)."""

    identifier: str = Field(min_length=1, max_length=64, examples=["SK7T1"])
    identifier_system: str = Field(default=AUTHORISATION_SYSTEM, max_length=200)
    given: list[str] = Field(min_length=1, examples=[["Lars"]])
    family: str = Field(min_length=1, max_length=200, examples=["Lund"])

    def to_state(self) -> Practitioner:
        return Practitioner(self.identifier_system, self.identifier, tuple(self.given), self.family)


class ApprovalIn(_Body):
    """The practice's approval of the card: who approved it and when (at or after the card's last change)."""

    by: PractitionerIn
    at: datetime

    _tz = field_validator("at")(_aware)

    def to_state(self) -> Approval:
        return Approval(self.by.to_state(), self.at)


class DiagnosisIn(_Body):
    """One diagnosis as the GP system holds it, with the practice's sharing choices."""

    key: str = Field(min_length=1, max_length=200, description="the GP system's own stable id of the diagnosis")
    icpc2: str | None = Field(default=None, max_length=64, description="ICPC-2-DK code, e.g. T90")
    sks: str | None = Field(default=None, max_length=64, description="SKS D-code (ICD-10 in SKS), e.g. DE119")
    text: str | None = Field(default=None, max_length=2000, description="diagnosis text (Condition.code.text)")
    status: Literal["current", "relevant"] = Field(description="Aktuel (current) or Relevant (resolved)")
    type: Literal["problem-list-item", "encounter-diagnosis"] | None = Field(
        default=None, description="Forløbsdiagnose (problem-list-item) or Kontaktdiagnose (encounter-diagnosis)")
    onset: DateOrTime | None = None
    abatement: DateOrTime | None = Field(default=None, description="given → clinicalStatus resolved")
    recorded: DateOrTime = Field(description="registration in the GP system (Condition.recordedDate)")
    on_card: bool = Field(default=True, description="on the diagnosis card: only these are shared")
    private: bool = Field(default=False, description="marked 'Privat': never shared")
    internal_note: str | None = Field(default=None, max_length=4000,
                                      description="the clinic's tillægstekst: kept by the hub, never shared")

    _tz = field_validator("onset", "abatement", "recorded")(_aware)

    def to_state(self) -> Diagnosis:
        return Diagnosis(key=self.key, recorded=self.recorded, status=self.status, sks=self.sks, icpc2=self.icpc2,
                         text=self.text, kind=self.type, onset=self.onset, abatement=self.abatement,
                         on_card=self.on_card, private=self.private, internal_note=self.internal_note)


CARD_EXAMPLE = {
    "updated": "2026-05-06T11:15:00+02:00",
    "approval": {"by": {"identifier": "SK7T1", "given": ["Lars"], "family": "Lund"},
                 "at": "2026-05-06T11:20:00+02:00"},
    "diagnoses": [
        {"key": "dx-1", "sks": "DE119a", "icpc2": "T90", "text": "Type 2-diabetes", "status": "current",
         "type": "problem-list-item", "onset": "2019-03-01", "recorded": "2019-03-04T09:00:00+01:00"},
        {"key": "dx-2", "sks": "DJ449", "icpc2": "R95", "text": "Kronisk obstruktiv lungesygdom",
         "status": "relevant", "onset": "2003-01-01", "abatement": "2023-03-03", "recorded": "2003-02-01",
         "internal_note": "Rygning og asbest"},
        {"key": "dx-3", "sks": "DF339", "icpc2": "P76", "text": "Depression", "status": "current",
         "recorded": "2024-05-06", "private": True},
    ],
}


class CardIn(_Body):
    """The clinic's whole current diagnosis card for the patient (it replaces the previous one)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [CARD_EXAMPLE]})

    diagnoses: list[DiagnosisIn] = Field(description="every diagnosis; an empty list empties the card")
    approval: ApprovalIn | None = Field(default=None, description="without it the card is kept but not shared")
    updated: datetime | None = Field(default=None, description="the card's last change (Composition.date); "
                                     "default: when the hub receives it")

    _tz = field_validator("updated")(_aware)


class AuthorIn(_Body):
    """Who wrote the note: a practitioner, a role (code from MedCom's PractitionerRolesSKSadministrativ,
    e.g. ``speciallaegeipraksis``, ``sygeplejerske``, or free text), or both."""

    practitioner: PractitionerIn | None = None
    role_code: str | None = Field(default=None, max_length=64, examples=["speciallaegeipraksis"])
    role_text: str | None = Field(default=None, max_length=200)

    def to_state(self) -> Author:
        return Author(self.practitioner.to_state() if self.practitioner else None, self.role_code, self.role_text)


NOTE_EXAMPLE = {
    "key": "note-2026-05-05-1011",
    "created": "2026-05-05T10:11:00+02:00",
    "author": {"practitioner": {"identifier": "SK7T1", "given": ["Lars"], "family": "Lund"},
               "role_code": "speciallaegeipraksis"},
    "format": "text",
    "body": "Årskontrol.\r\nBT 138/82 mmHg. Fortsætter uændret behandling.",
    "do_not_share": False,
}


class NoteIn(_Body):
    """A new journal note."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [NOTE_EXAMPLE]})

    key: str = Field(min_length=1, max_length=200, description="the GP system's own stable id of the note")
    created: datetime = Field(description="encounter/creation time: never changes across versions")
    updated: datetime | None = Field(default=None, description="default: equal to created")
    ended: datetime | None = Field(default=None, description="end of the encounter, when known")
    author: AuthorIn | None = None
    format: Literal["text", "html"] = Field(default="text", description="plain text (line breaks kept) or "
                                            "simplified HTML (p, br, b, i, em, u, tt; x: prefixes accepted)")
    body: str = Field(max_length=1_000_000)
    do_not_share: bool = False

    _tz = field_validator("created", "updated", "ended")(_aware)


class NoteUpdate(_Body):
    """A new version of a note: its body and times; the creation time, when sent, must be unchanged."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "updated": "2026-05-06T07:32:00+02:00", "format": "html",
        "body": "<p>Årskontrol.<br/>BT 138/82 mmHg.</p><p><b>Plan:</b> kontrol om 3 måneder.</p>"}]})

    created: datetime | None = Field(default=None, description="if sent: must equal the note's creation time")
    updated: datetime | None = Field(default=None, description="default: when the hub receives it; after the "
                                     "creation time and the previous version")
    ended: datetime | None = None
    author: AuthorIn | None = Field(default=None, description="default: the previous version's")
    format: Literal["text", "html"] = "text"
    body: str = Field(max_length=1_000_000)
    do_not_share: bool | None = Field(default=None, description="default: unchanged")

    _tz = field_validator("created", "updated", "ended")(_aware)


# ---- responses ---------------------------------------------------------------------------------

class IssueOut(BaseModel):
    severity: str
    rule: str | None
    path: str | None
    text: str


def issue_json(issue: Issue) -> dict[str, Any]:
    """An issue as the answers carry it (:class:`IssueOut`)."""
    return {"severity": issue.severity, "rule": issue.rule, "path": issue.expression, "text": issue.diagnostics}


class DdsOut(BaseModel):
    """The document's on-demand entry in DDS."""

    state: Literal["none", "pending", "registered", "withdrawing", "deprecated"] = Field(
        description="pending: DDS was not reached yet, the hub retries")
    entry: str | None = Field(default=None, description="the DocumentReference id in DDS")
    retrieve_url: str | None = Field(default=None, description="where DDS fetches the document from the hub")
    last_error: str | None = None


class CardOut(BaseModel):
    cpr: str
    clinic: dict[str, Any]
    updated: datetime
    version: int
    approved: bool
    shared: bool = Field(description="this clinic's card is what DDS serves as the patient's ConditionList")
    shared_diagnoses: list[str]
    withheld_diagnoses: list[dict[str, Any]]
    issues: list[IssueOut]
    dds: DdsOut


class NoteOut(BaseModel):
    key: str
    cpr: str
    clinic: dict[str, Any]
    version: int
    created: datetime
    updated: datetime
    state: Literal["active", "cancelled", "purged"]
    do_not_share: bool
    available_from: datetime
    shared: bool = Field(description="served to DDS now")
    body_html: str | None = Field(description="the body as shared (None once purged)")
    issues: list[IssueOut]
    dds: DdsOut


class EventOut(BaseModel):
    at: datetime
    kind: Literal["submitted", "refused", "shared", "unshared", "cancelled", "purged", "served", "dds-retry"]
    subject: str = Field(description="conditionlist or note:<key>")
    version: int | None
    rule: str | None
    path: str | None
    text: str
    details: dict[str, Any] | None


class DocumentOut(BaseModel):
    """What a ready-made document became: the clinic's card or note."""

    kind: Literal["conditionlist", "note"]
    card: CardOut | None = None
    note: NoteOut | None = None
    warnings: list[IssueOut]
