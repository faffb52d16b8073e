"""Rows ↔ the hub's state values (``state.py``): how cards, notes, patients and clinics are kept as JSON
and naive-UTC columns, and read back as the inputs of the document generators."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from services.plsp_hub.models import CardRow, NoteRow
from services.plsp_hub.state import (
    Approval,
    Author,
    Clinic,
    ConditionCard,
    Diagnosis,
    Note,
    Patient,
    Practitioner,
)


def aware(moment: datetime, offset_minutes: int = 0) -> datetime:
    return moment.replace(tzinfo=UTC).astimezone(timezone(timedelta(minutes=offset_minutes)))


def offset_of(moment: datetime) -> int:
    delta = moment.utcoffset() or timedelta(0)
    return int(delta.total_seconds() // 60)


def date_or_time(value: str | None) -> date | datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)


def iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def patient_json(patient: Patient) -> dict[str, Any]:
    return {"cpr": patient.cpr, "given": list(patient.given), "family": patient.family, "gender": patient.gender,
            "birth_date": patient.birth_date.isoformat()}


def patient_of(data: dict[str, Any]) -> Patient:
    return Patient(data["cpr"], tuple(data["given"]), data["family"], data["gender"],
                   date.fromisoformat(data["birth_date"]))


def clinic_json(clinic: Clinic) -> dict[str, Any]:
    return asdict(clinic)


def clinic_of(data: dict[str, Any]) -> Clinic:
    return Clinic(data["sor"], data["name"], data.get("ydernummer"))


def practitioner_json(p: Practitioner) -> dict[str, Any]:
    return {"identifier_system": p.identifier_system, "identifier": p.identifier_value, "given": list(p.given),
            "family": p.family}


def practitioner_of(data: dict[str, Any]) -> Practitioner:
    return Practitioner(data["identifier_system"], data["identifier"], tuple(data["given"]), data["family"])


def diagnosis_json(d: Diagnosis) -> dict[str, Any]:
    return {"key": d.key, "recorded": iso(d.recorded), "status": d.status, "sks": d.sks, "icpc2": d.icpc2,
            "text": d.text, "type": d.kind, "onset": iso(d.onset), "abatement": iso(d.abatement),
            "on_card": d.on_card, "private": d.private, "internal_note": d.internal_note,
            "other_codes": [{"system": system, "code": code} for system, code in d.other_codes]}


def diagnosis_of(data: dict[str, Any]) -> Diagnosis:
    recorded = date_or_time(data["recorded"])
    assert recorded is not None
    return Diagnosis(key=data["key"], recorded=recorded, status=data["status"], sks=data.get("sks"),
                     icpc2=data.get("icpc2"), text=data.get("text"), kind=data.get("type"),
                     onset=date_or_time(data.get("onset")), abatement=date_or_time(data.get("abatement")),
                     on_card=bool(data.get("on_card", True)), private=bool(data.get("private", False)),
                     internal_note=data.get("internal_note"),
                     other_codes=tuple((c.get("system"), c["code"]) for c in data.get("other_codes") or ()))


def approval_json(a: Approval | None) -> dict[str, Any] | None:
    return {"by": practitioner_json(a.by), "at": a.at.isoformat()} if a else None


def approval_of(data: dict[str, Any] | None) -> Approval | None:
    if not data:
        return None
    return Approval(practitioner_of(data["by"]), datetime.fromisoformat(data["at"]))


def author_json(a: Author | None) -> dict[str, Any] | None:
    if a is None:
        return None
    return {"practitioner": practitioner_json(a.practitioner) if a.practitioner else None,
            "role_code": a.role_code, "role_text": a.role_text}


def author_of(data: dict[str, Any] | None) -> Author | None:
    if not data:
        return None
    p = data.get("practitioner")
    return Author(practitioner_of(p) if p else None, data.get("role_code"), data.get("role_text"))


def card_of(row: CardRow) -> ConditionCard:
    return ConditionCard(patient=patient_of(row.patient), clinic=clinic_of(row.clinic),
                         diagnoses=tuple(diagnosis_of(d) for d in row.diagnoses), updated=aware(row.updated),
                         approval=approval_of(row.approval))


def note_of(row: NoteRow) -> Note:
    assert row.body_html is not None and row.patient is not None
    return Note(key=row.key, patient=patient_of(row.patient), clinic=clinic_of(row.clinic),
                created=aware(row.created, row.created_offset), updated=aware(row.updated, row.updated_offset),
                body_html=row.body_html, version=row.version, author=author_of(row.author),
                ended=aware(row.ended, row.created_offset) if row.ended else None)
