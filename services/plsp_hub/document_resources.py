"""The parts the hub's two document generators share: stable ids, Danish times, the common resources.

Identity (Document 2.0.2: resources "representing the same entity … MUST retain their
identifier"; "Bundle.identifier … can never be reused"): a Bundle gets fresh v4 UUIDs on every
generation, while Patient, Organization and Practitioner ids are v5 UUIDs of their business
identifiers (CPR, SOR, the practitioner's identifier), so they are the same in every document and
version. Times are written with the Europe/Copenhagen offset of the instant, to the second.

Narratives are generated from the data only, XHTML-escaped, in the FHIR narrative subset.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from html import escape
from typing import Any

from nsp_sandbox.cpr import CPR_SYSTEM
from nsp_sandbox.protected_names import shared_name
from services.plsp_hub.state import Clinic, DateOrDateTime, Patient, Practitioner

SOR_SYSTEM = "urn:oid:1.2.208.176.1.1"
YDERNUMMER_SYSTEM = "urn:oid:1.2.208.176.1.4"
URI_SYSTEM = "urn:ietf:rfc:3986"
XHTML_NS = "http://www.w3.org/1999/xhtml"

# The namespace of every name-based (v5) UUID the hub derives.
HUB_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:nsp-sandbox:plsp-hub")

_GENDER_DA = {"male": "Mand", "female": "Kvinde", "other": "Andet", "unknown": "Ukendt"}


def stable_uuid(*parts: str) -> str:
    """A v5 UUID of ``parts``: the same parts always give the same id."""
    return str(uuid.uuid5(HUB_NAMESPACE, "|".join(parts)))


def fresh_uuid() -> str:
    return str(uuid.uuid4())


def patient_id(patient: Patient) -> str:
    return stable_uuid("patient", patient.cpr)


def organization_id(clinic: Clinic) -> str:
    return stable_uuid("organization", clinic.sor)


def practitioner_id(practitioner: Practitioner) -> str:
    return stable_uuid("practitioner", practitioner.identifier_system, practitioner.identifier_value)


def full_url(resource_id: str) -> str:
    return f"urn:uuid:{resource_id}"


def reference(resource_id: str) -> dict[str, str]:
    return {"reference": full_url(resource_id)}


# ---- times --------------------------------------------------------------------------------------

def _copenhagen() -> tzinfo | None:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Europe/Copenhagen")
    except Exception:  # no time-zone database on this machine: use the EU rule below
        return None


_CPH = _copenhagen()


def _last_sunday(year: int, month: int) -> datetime:
    day = datetime(year, month + 1, 1, 1, tzinfo=UTC) - timedelta(days=1)
    return day - timedelta(days=(day.weekday() + 1) % 7)


def danish_time(moment: datetime) -> datetime:
    """``moment`` (timezone-aware) at the Danish offset in force at that instant."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no time zone")
    if _CPH is not None:
        return moment.astimezone(_CPH)
    utc = moment.astimezone(UTC)
    summer = _last_sunday(utc.year, 3) <= utc < _last_sunday(utc.year, 10)
    return utc.astimezone(timezone(timedelta(hours=2 if summer else 1)))


def danish_midnight(day: date) -> datetime:
    """The start of ``day`` in Denmark (the clocks change at 02:00/03:00, never at midnight)."""
    if _CPH is not None:
        return datetime.combine(day, time(0), tzinfo=_CPH)
    offset = danish_time(datetime.combine(day - timedelta(days=1), time(12), tzinfo=UTC)).utcoffset()
    return datetime.combine(day, time(0), tzinfo=timezone(offset or timedelta(hours=1)))


def fhir_datetime(moment: datetime) -> str:
    """A FHIR dateTime/instant with seconds and the Danish offset, e.g. ``2026-05-05T10:11:00+02:00``."""
    return danish_time(moment).isoformat(timespec="seconds")


def fhir_date_or_datetime(value: DateOrDateTime) -> str:
    """A date-only value stays a date; a datetime gets seconds and the Danish offset."""
    if isinstance(value, datetime):
        return fhir_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not a date or datetime: {value!r}")


# ---- narrative ----------------------------------------------------------------------------------

def narrative(rows: Iterable[tuple[str, str | None]], *, heading: str | None = None,
              extra: str = "") -> dict[str, str]:
    """A generated narrative: an optional heading and one ``<p><b>label</b>: value</p>`` per row.

    Values are escaped here; ``extra`` is already-built XHTML (escaped by its builder).
    """
    parts = [f'<div xmlns="{XHTML_NS}">']
    if heading:
        parts.append(f"<p><b>{escape(heading)}</b></p>")
    for label, value in rows:
        if value is None or value == "":
            continue
        parts.append(f"<p><b>{escape(label)}</b>: {escape(value)}</p>")
    parts.append(extra)
    parts.append("</div>")
    return {"status": "generated", "div": "".join(parts)}


def name_text(given: Iterable[str], family: str) -> str:
    return " ".join([*given, family]).strip()


# ---- common resources ---------------------------------------------------------------------------

def patient_resource(patient: Patient, profile: str) -> dict[str, Any]:
    """The citizen; a missing given or family name is ``ADRESSEBESKYTTET`` (Document 2.0.2)."""
    names, family = shared_name(patient.given, patient.family)
    given = list(names)
    pid = patient_id(patient)
    gender = _GENDER_DA.get(patient.gender, patient.gender)
    return {
        "resourceType": "Patient",
        "id": pid,
        "meta": {"profile": [profile]},
        "text": narrative([
            ("Navn", name_text(given, family)),
            ("CPR", f"{CPR_SYSTEM}#{patient.cpr}"),
            ("Køn", gender),
            ("Fødselsdato", patient.birth_date.isoformat()),
        ], heading="Patient"),
        "identifier": [{"system": CPR_SYSTEM, "value": patient.cpr}],
        "name": [{"use": "official", "family": family, "given": given}],
        "gender": patient.gender,
        "birthDate": patient.birth_date.isoformat(),
    }


def organization_resource(clinic: Clinic, profile: str) -> dict[str, Any]:
    """The practice, identified by SOR (and its Ydernummer when known)."""
    identifiers = [{"system": SOR_SYSTEM, "value": clinic.sor}]
    if clinic.ydernummer:
        identifiers.append({"system": YDERNUMMER_SYSTEM, "value": clinic.ydernummer})
    return {
        "resourceType": "Organization",
        "id": organization_id(clinic),
        "meta": {"profile": [profile]},
        "text": narrative([
            ("Navn", clinic.name),
            ("SOR", f"{SOR_SYSTEM}#{clinic.sor}"),
            ("Ydernummer", f"{YDERNUMMER_SYSTEM}#{clinic.ydernummer}" if clinic.ydernummer else None),
        ], heading="Organisation"),
        "identifier": identifiers,
        "name": clinic.name,
    }


def practitioner_resource(practitioner: Practitioner, profile: str) -> dict[str, Any]:
    """A person at the practice, with the identifier that is stable across versions."""
    names, family = shared_name(practitioner.given, practitioner.family)
    given = list(names)
    return {
        "resourceType": "Practitioner",
        "id": practitioner_id(practitioner),
        "meta": {"profile": [profile]},
        "text": narrative([
            ("Navn", name_text(given, family)),
            ("Identifikator", f"{practitioner.identifier_system}#{practitioner.identifier_value}"),
        ], heading="Sundhedsperson"),
        "identifier": [{"system": practitioner.identifier_system, "value": practitioner.identifier_value}],
        "name": [{"use": "official", "family": family, "given": given}],
    }


def entry(resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": full_url(resource["id"]), "resource": resource}


def document_bundle(resources: list[dict[str, Any]], *, profile: str, assembled: datetime) -> dict[str, Any]:
    """A document Bundle of ``resources`` (the Composition first) with a fresh id and a fresh, different
    identifier: a generated document never reuses a Bundle identifier."""
    bundle_id = fresh_uuid()
    identifier = fresh_uuid()
    while identifier == bundle_id:  # pragma: no cover - astronomically unlikely
        identifier = fresh_uuid()
    return {
        "resourceType": "Bundle",
        "id": bundle_id,
        "meta": {"profile": [profile]},
        "identifier": {"system": URI_SYSTEM, "value": f"urn:uuid:{identifier}"},
        "type": "document",
        "timestamp": fhir_datetime(assembled),
        "entry": [entry(r) for r in resources],
    }
