"""Ready-made ConditionList and Notes documents read back into the hub's state.

Some vendors generate their own MedCom documents and ``POST`` them to the hub instead of using
its card and note interface. The caller has already validated the Bundle against its profile;
these functions take what the hub keeps from it — and refuse, with an :class:`IntakeError` that
names the element, what they cannot keep:

- ConditionList → :class:`ConditionCard`: the patient from the Patient resource, the clinic from
  ``author:institution`` (which must be the submitting clinic's SOR), the approval from an
  ``official`` attester (its party, else ``author:person``; attester.time, else Composition.date),
  one :class:`Diagnosis` per Condition of the section (key from ``Condition.identifier``, else its
  id; the internal note read from ``Condition.note`` — kept, never shared), ``updated`` from
  ``Composition.date``. Displays are not kept (they are never shared).
- Notes → :class:`Note`: creation from ``Observation.effectiveDateTime`` (else event.period.start),
  update from ``Composition.date``, the body decoded from base64 (and, by default, reduced to the
  allowed HTML subset), the author from the practitioner and PractitionerRole it names. The note
  key, unless the caller gives one, is derived from clinic, patient and creation time — the only
  things that tie versions of one note together (Notes IG, updated-note examples).

A date-time without a time zone or a partial date (``2003``, ``2003-05``) cannot be kept as the
hub's values and is refused; a date-only ``Composition.date`` counts as midnight Danish time.
"""

from __future__ import annotations

import binascii
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from nsp_sandbox import base64_data
from nsp_sandbox.outcome import Issue
from nsp_sandbox.simplified_html import clean_note_html
from services.plsp_hub.conditionlist_document import ICPC2_SYSTEM, SKS_D_SYSTEM, STATUS_CODES
from services.plsp_hub.document_resources import (
    CPR_SYSTEM,
    SOR_SYSTEM,
    URI_SYSTEM,
    YDERNUMMER_SYSTEM,
    danish_midnight,
    danish_time,
    stable_uuid,
)
from services.plsp_hub.notes_document import ROLE_SYSTEM, VALUE_ATTACHMENT_EXTENSION
from services.plsp_hub.state import (
    Approval,
    Author,
    Clinic,
    ConditionCard,
    DateOrDateTime,
    Diagnosis,
    Note,
    Patient,
    Practitioner,
)

CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
SNOMED = "http://snomed.info/sct"
_STATUS_BY_CODE = {code: status for status, code in STATUS_CODES.items()}
_KINDS = ("problem-list-item", "encounter-diagnosis")
_GENDERS = ("male", "female", "other", "unknown")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}\Z", re.ASCII)
_PARTIAL_DATE = re.compile(r"^\d{4}(-\d{2})?\Z", re.ASCII)


class IntakeError(Exception):
    """A ready-made document the hub cannot take: ``path`` names the element, ``message`` says why."""

    def __init__(self, path: str, message: str, *, code: str = "invalid") -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message
        self.code = code

    def issue(self) -> Issue:
        return Issue("error", self.code, self.message, expression=self.path, rule="plsp-document-intake",
                     source="PLSP hub: ready-made documents (POST /plsp/documents)")


@dataclass(frozen=True)
class _Located:
    resource: dict[str, Any]
    path: str  # FHIRPath of the resource in the Bundle, e.g. Bundle.entry[2].resource


class _Document:
    """A document Bundle with its references resolvable the way FHIR resolves them in a Bundle."""

    def __init__(self, bundle: dict[str, Any]) -> None:
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            raise IntakeError("Bundle", "a document Bundle is expected")
        entries = bundle.get("entry")
        if not isinstance(entries, list) or not entries:
            raise IntakeError("Bundle.entry", "the document has no entries")
        self.by_full_url: dict[str, _Located] = {}
        self.by_type_id: dict[tuple[str, str], _Located] = {}
        self.located: list[_Located] = []
        for i, entry in enumerate(entries):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict):
                continue
            located = _Located(resource, f"Bundle.entry[{i}].resource")
            self.located.append(located)
            if isinstance(entry.get("fullUrl"), str):
                self.by_full_url[entry["fullUrl"]] = located
            if isinstance(resource.get("resourceType"), str) and isinstance(resource.get("id"), str):
                self.by_type_id[(resource["resourceType"], resource["id"])] = located
        first = self.located[0] if self.located else None
        if (first is None or first.resource.get("resourceType") != "Composition"
                or first.path != "Bundle.entry[0].resource"):
            raise IntakeError("Bundle.entry[0].resource", "the first entry of a document is its Composition")
        self.composition = first

    def resolve(self, ref: Any, path: str, *, expected: str | tuple[str, ...] | None = None,
                required: bool = True) -> _Located | None:
        value = ref.get("reference") if isinstance(ref, dict) else None
        found: _Located | None = None
        if isinstance(value, str):
            found = self.by_full_url.get(value)
            if found is None:
                parts = value.rstrip("/").split("/")
                if len(parts) >= 2:
                    found = self.by_type_id.get((parts[-2], parts[-1]))
        if found is None:
            if required:
                raise IntakeError(path, f"the reference {value!r} does not resolve to an entry of the document",
                                  code="not-found")
            return None
        kinds = (expected,) if isinstance(expected, str) else expected
        if kinds and found.resource.get("resourceType") not in kinds:
            if required:
                raise IntakeError(path, f"refers to a {found.resource.get('resourceType')}, "
                                        f"expected {' or '.join(kinds)}")
            return None
        return found

    def first_of(self, resource_type: str) -> _Located | None:
        return next((x for x in self.located if x.resource.get("resourceType") == resource_type), None)


# ---- ConditionList ------------------------------------------------------------------------------

def card_from_document(bundle: dict[str, Any], *, clinic_sor: str) -> ConditionCard:
    """The clinic's diagnosis card as the ConditionList ``bundle`` states it."""
    doc = _Document(bundle)
    comp, cpath = doc.composition.resource, doc.composition.path
    patient = _patient(doc, comp, cpath)
    clinic, person = _authors(doc, comp, cpath, clinic_sor)
    updated = _composition_date(comp, cpath)
    approval = None
    for i, attester in enumerate(_list(comp.get("attester"))):
        if attester.get("mode") != "official":
            continue
        by = person
        if attester.get("party") is not None:
            party = doc.resolve(attester["party"], f"{cpath}.attester[{i}].party", expected="Practitioner")
            by = _practitioner(party)  # type: ignore[arg-type]
        if by is None:
            continue
        at = (_datetime(attester["time"], f"{cpath}.attester[{i}].time") if attester.get("time") else updated)
        approval = Approval(by=by, at=at)
        break
    diagnoses = []
    for s, section in enumerate(_list(comp.get("section"))):
        for e, ref in enumerate(_list(section.get("entry"))):
            located = doc.resolve(ref, f"{cpath}.section[{s}].entry[{e}]", expected="Condition")
            diagnoses.append(_diagnosis(located))  # type: ignore[arg-type]
    if not diagnoses:
        raise IntakeError(f"{cpath}.section", "the ConditionList names no Condition", code="required")
    keys = [d.key for d in diagnoses]
    duplicate = next((k for k in keys if keys.count(k) > 1), None)
    if duplicate is not None:
        raise IntakeError(f"{cpath}.section", f"two Conditions have the key {duplicate!r} (identifier or id)")
    return ConditionCard(patient=patient, clinic=clinic, diagnoses=tuple(diagnoses), updated=updated,
                         approval=approval)


def _diagnosis(located: _Located) -> Diagnosis:
    condition, path = located.resource, located.path
    identifiers = [i for i in _list(condition.get("identifier")) if isinstance(i.get("value"), str)]
    key = identifiers[0]["value"] if identifiers else condition.get("id")
    if not isinstance(key, str) or not key:
        raise IntakeError(f"{path}.id", "a Condition needs an identifier or an id to be kept as a diagnosis",
                          code="required")
    status = kind = None
    for c, category in enumerate(_list(condition.get("category"))):
        for coding in _list(category.get("coding")):
            if coding.get("system") == SNOMED and coding.get("code") in _STATUS_BY_CODE:
                status = _STATUS_BY_CODE[coding["code"]]
            elif coding.get("system") == CONDITION_CATEGORY and coding.get("code") in _KINDS:
                kind = coding["code"]
            elif coding.get("system") == SNOMED:
                raise IntakeError(f"{path}.category[{c}]", f"unknown diagnosis status {coding.get('code')!r}: "
                                  "15240007 (Aktuel) or 723506003 (Relevant)", code="code-invalid")
    if status is None:
        raise IntakeError(f"{path}.category", "category:status (SNOMED CT 15240007 or 723506003) is missing",
                          code="required")
    code = condition.get("code") if isinstance(condition.get("code"), dict) else {}
    sks = icpc2 = None
    others: list[tuple[str | None, str]] = []
    for coding in _list(code.get("coding")):
        value = coding.get("code")
        if not isinstance(value, str):
            continue
        system = coding.get("system") if isinstance(coding.get("system"), str) else None
        if system == SKS_D_SYSTEM and sks is None:
            sks = value
        elif system == ICPC2_SYSTEM and icpc2 is None:
            icpc2 = value
        else:
            others.append((system, value))
    if "recordedDate" not in condition:
        raise IntakeError(f"{path}.recordedDate", "recordedDate (registration in the GP system) is missing",
                          code="required")
    notes = [n["text"] for n in _list(condition.get("note")) if isinstance(n.get("text"), str)]
    return Diagnosis(
        key=key,
        recorded=_date_or_datetime(condition["recordedDate"], f"{path}.recordedDate"),
        status=status,  # type: ignore[arg-type]
        sks=sks,
        icpc2=icpc2,
        text=code.get("text") if isinstance(code.get("text"), str) else None,
        kind=kind,  # type: ignore[arg-type]
        onset=_optional_date(condition, "onsetDateTime", path),
        abatement=_optional_date(condition, "abatementDateTime", path),
        internal_note="\n".join(notes) or None,
        other_codes=tuple(others),
    )


# ---- Notes --------------------------------------------------------------------------------------

def note_from_document(bundle: dict[str, Any], *, clinic_sor: str, key: str | None = None, version: int = 1,
                       clean: bool = True) -> Note:
    """The journal note the Notes ``bundle`` carries.

    ``key``: the hub's key of the note (default: derived from clinic, patient and creation time);
    ``version``: the version the hub gives it; ``clean=False`` keeps the decoded body as sent, for
    a caller that applies :func:`~nsp_sandbox.simplified_html.clean_note_html` itself.
    """
    doc = _Document(bundle)
    comp, cpath = doc.composition.resource, doc.composition.path
    patient = _patient(doc, comp, cpath)
    clinic, person = _authors(doc, comp, cpath, clinic_sor)
    observation = None
    for s, section in enumerate(_list(comp.get("section"))):
        for e, ref in enumerate(_list(section.get("entry"))):
            observation = doc.resolve(ref, f"{cpath}.section[{s}].entry[{e}]", expected="Observation")
            break
        if observation:
            break
    if observation is None:
        raise IntakeError(f"{cpath}.section", "the note (an Observation in section.entry) is missing",
                          code="required")
    obs, opath = observation.resource, observation.path
    events = _list(comp.get("event"))
    period = events[0].get("period") if events and isinstance(events[0].get("period"), dict) else {}
    if obs.get("effectiveDateTime"):
        created = _datetime(obs["effectiveDateTime"], f"{opath}.effectiveDateTime")
    elif period.get("start"):
        created = _datetime(period["start"], f"{cpath}.event[0].period.start")
    else:
        raise IntakeError(f"{opath}.effectiveDateTime", "the creation time of the note is missing", code="required")
    ended = _datetime(period["end"], f"{cpath}.event[0].period.end") if period.get("end") else None
    updated = _composition_date(comp, cpath)
    body = _note_body(obs, opath)
    practitioner = person
    role_code = role_text = None
    for p, ref in enumerate(_list(obs.get("performer"))):
        found = doc.resolve(ref, f"{opath}.performer[{p}]", required=False)
        if found is None:
            continue
        if found.resource.get("resourceType") == "Practitioner" and practitioner is None:
            practitioner = _practitioner(found)
        elif found.resource.get("resourceType") == "PractitionerRole":
            role_code, role_text = _role(found.resource)
            if practitioner is None and found.resource.get("practitioner") is not None:
                linked = doc.resolve(found.resource["practitioner"], f"{found.path}.practitioner",
                                     expected="Practitioner", required=False)
                practitioner = _practitioner(linked) if linked else None
    author = (Author(practitioner=practitioner, role_code=role_code, role_text=role_text)
              if practitioner or role_code or role_text else None)
    note_key = key or f"urn:uuid:{stable_uuid('note-key', clinic.sor, patient.cpr, danish_time(created).isoformat())}"
    return Note(key=note_key, patient=patient, clinic=clinic, created=created, updated=updated,
                body_html=clean_note_html(body).html if clean else body, version=version, author=author,
                ended=ended)


def _note_body(obs: dict[str, Any], opath: str) -> str:
    for x, ext in enumerate(_list(obs.get("extension"))):
        if ext.get("url") != VALUE_ATTACHMENT_EXTENSION:
            continue
        attachment = ext.get("valueAttachment") if isinstance(ext.get("valueAttachment"), dict) else {}
        where = f"{opath}.extension[{x}].valueAttachment.data"
        data = attachment.get("data")
        if not isinstance(data, str):
            raise IntakeError(where, "the note text (base64) is missing", code="required")
        try:
            raw = base64_data.decode(data)
        except (binascii.Error, ValueError) as exc:
            raise IntakeError(where, f"the note text is not valid base64: {exc}") from exc
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise IntakeError(where, f"the note text is not UTF-8: {exc}") from exc
    raise IntakeError(f"{opath}.extension", "the note text (medcom-observation-value-attachment-extension) "
                      "is missing", code="required")


def _role(role: dict[str, Any]) -> tuple[str | None, str | None]:
    for concept in _list(role.get("code")):
        for coding in _list(concept.get("coding")):
            if coding.get("system") == ROLE_SYSTEM and isinstance(coding.get("code"), str):
                return coding["code"], None
        text = concept.get("text")
        if isinstance(text, str) and text.strip():
            return None, text
        for coding in _list(concept.get("coding")):
            label = coding.get("display") or coding.get("code")
            if isinstance(label, str) and label.strip():
                return None, label
    return None, None


# ---- shared parts -------------------------------------------------------------------------------

def _patient(doc: _Document, comp: dict[str, Any], cpath: str) -> Patient:
    located = doc.resolve(comp.get("subject"), f"{cpath}.subject", expected="Patient")
    patient, path = located.resource, located.path  # type: ignore[union-attr]
    cprs = [i["value"] for i in _list(patient.get("identifier"))
            if i.get("system") == CPR_SYSTEM and isinstance(i.get("value"), str)]
    if not cprs:
        raise IntakeError(f"{path}.identifier", f"the patient's CPR number ({CPR_SYSTEM}) is missing",
                          code="required")
    names = _list(patient.get("name"))
    name = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    gender = patient.get("gender")
    if gender not in _GENDERS:
        raise IntakeError(f"{path}.gender", "the patient's gender is missing", code="required")
    birth = patient.get("birthDate")
    if not isinstance(birth, str) or not _DATE.match(birth):
        raise IntakeError(f"{path}.birthDate", "the patient's full birth date is missing", code="required")
    return Patient(cpr=cprs[0], given=tuple(g for g in name.get("given", []) if isinstance(g, str)),
                   family=name.get("family") if isinstance(name.get("family"), str) else "",
                   gender=gender, birth_date=date.fromisoformat(birth))


def _authors(doc: _Document, comp: dict[str, Any], cpath: str,
             clinic_sor: str) -> tuple[Clinic, Practitioner | None]:
    clinic = person = None
    for i, ref in enumerate(_list(comp.get("author"))):
        found = doc.resolve(ref, f"{cpath}.author[{i}]")
        kind = found.resource.get("resourceType")  # type: ignore[union-attr]
        if kind == "Organization" and clinic is None:
            clinic = _clinic(found, f"{cpath}.author[{i}]", clinic_sor)  # type: ignore[arg-type]
        elif kind == "Practitioner" and person is None:
            person = _practitioner(found)  # type: ignore[arg-type]
    if clinic is None:
        raise IntakeError(f"{cpath}.author", "author:institution (the clinic's Organization) is missing",
                          code="required")
    return clinic, person


def _clinic(located: _Located, author_path: str, clinic_sor: str) -> Clinic:
    org, path = located.resource, located.path
    identifiers = _list(org.get("identifier"))
    sors = [i["value"] for i in identifiers if i.get("system") == SOR_SYSTEM and isinstance(i.get("value"), str)]
    if not sors:
        raise IntakeError(f"{path}.identifier", f"the author institution has no SOR code ({SOR_SYSTEM})",
                          code="required")
    if clinic_sor not in sors:
        raise IntakeError(author_path, f"the author institution is SOR {sors[0]}, not the submitting clinic "
                          f"(SOR {clinic_sor}): a clinic submits only its own documents", code="business-rule")
    yder = next((i["value"] for i in identifiers
                 if i.get("system") == YDERNUMMER_SYSTEM and isinstance(i.get("value"), str)), None)
    name = org.get("name") if isinstance(org.get("name"), str) else ""
    return Clinic(sor=clinic_sor, name=name, ydernummer=yder)


def _practitioner(located: _Located) -> Practitioner:
    resource = located.resource
    identifiers = [i for i in _list(resource.get("identifier"))
                   if isinstance(i.get("system"), str) and isinstance(i.get("value"), str)]
    names = _list(resource.get("name"))
    name = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    given = tuple(g for g in name.get("given", []) if isinstance(g, str))
    family = name.get("family") if isinstance(name.get("family"), str) else ""
    if identifiers:
        system, value = identifiers[0]["system"], identifiers[0]["value"]
    else:  # Document 1.0.1 does not require one: derive a stable one from what identifies the person here
        rid = resource.get("id")
        try:
            value = f"urn:uuid:{uuid.UUID(rid)}" if isinstance(rid, str) else ""
        except ValueError:
            value = ""
        value = value or f"urn:uuid:{stable_uuid('practitioner-name', *given, family)}"
        system = URI_SYSTEM
    return Practitioner(identifier_system=system, identifier_value=value, given=given, family=family)


def _composition_date(comp: dict[str, Any], cpath: str) -> datetime:
    value = comp.get("date")
    if not isinstance(value, str):
        raise IntakeError(f"{cpath}.date", "Composition.date is missing", code="required")
    parsed = _date_or_datetime(value, f"{cpath}.date")
    if isinstance(parsed, datetime):
        return parsed
    return danish_midnight(parsed)


def _optional_date(resource: dict[str, Any], name: str, path: str) -> DateOrDateTime | None:
    value = resource.get(name)
    return None if value is None else _date_or_datetime(value, f"{path}.{name}")


def _date_or_datetime(value: Any, path: str) -> DateOrDateTime:
    if not isinstance(value, str):
        raise IntakeError(path, "a date or date-time is expected")
    if _DATE.match(value):
        return date.fromisoformat(value)
    if _PARTIAL_DATE.match(value):
        raise IntakeError(path, f"the partial date {value!r} cannot be kept: give a full date", code="not-supported")
    return _datetime(value, path)


def _datetime(value: Any, path: str) -> datetime:
    if not isinstance(value, str) or "T" not in value:
        raise IntakeError(path, f"{value!r} is not a date-time with a time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise IntakeError(path, f"{value!r} is not a valid date-time") from exc
    if parsed.tzinfo is None:
        raise IntakeError(path, f"{value!r} has no time zone")
    return parsed


def _list(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
