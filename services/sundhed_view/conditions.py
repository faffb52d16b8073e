"""Diagnoser: the MedCom ConditionList (diagnoseoversigt) read for display.

Shown per list: the author organisation's name and ``Composition.date`` ("senest opdateret"); per
diagnosis the ICPC-2 and SKS-D codes (and a code of any other system, with its system), ``code.text``,
status (category SNOMED 15240007 Aktuel / 723506003 Relevant), type (problem-list-item
Forløbsdiagnose / encounter-diagnosis Kontaktdiagnose), registration, onset and abatement dates.
Never ``code.display`` and never ``Condition.note`` (the GP's tillægstekst must not be shared).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from services.sundhed_view import formatting

ICPC2_SYSTEM = "urn:oid:1.2.208.176.2.31"
SKS_SYSTEM = "urn:oid:1.2.208.176.2.4.12"
SNOMED = "http://snomed.info/sct"
CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/condition-category"
STATUS_LABELS = {"15240007": "Aktuel", "723506003": "Relevant"}
TYPE_LABELS = {"problem-list-item": "Forløbsdiagnose", "encounter-diagnosis": "Kontaktdiagnose"}


@dataclass
class Diagnosis:
    icpc2: str | None
    sks: str | None
    other_codes: list[str]
    text: str | None
    status: str | None
    type: str | None
    recorded: str | None
    onset: str | None
    abatement: str | None


@dataclass
class ConditionList:
    organisation: str
    updated: str | None
    patient: str
    diagnoses: list[Diagnosis] = field(default_factory=list)
    entry_id: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"entry": self.entry_id, "organisation": self.organisation, "updated": self.updated,
                "patient": self.patient, "diagnoses": [asdict(d) for d in self.diagnoses]}


def _resources(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for entry in bundle.get("entry", []):
        resource = entry.get("resource") or {}
        out[f"{resource.get('resourceType')}/{resource.get('id')}"] = resource
        if entry.get("fullUrl"):
            out[entry["fullUrl"]] = resource
    return out


def patient_name(patient: dict[str, Any]) -> str:
    """The name exactly as the document gives it (``ADRESSEBESKYTTET`` too)."""
    name = (patient.get("name") or [{}])[0]
    return " ".join([*name.get("given", []), name.get("family", "")]).strip() or "-"


def read(bundle: dict[str, Any]) -> ConditionList:
    refs = _resources(bundle)
    composition = (bundle.get("entry") or [{}])[0].get("resource") or {}
    authors = [refs.get(str(a.get("reference", "")), {}) for a in composition.get("author", [])]
    organisation = next((a for a in authors if a.get("resourceType") == "Organization"), {})
    patient = refs.get(str(composition.get("subject", {}).get("reference", "")), {})
    out = ConditionList(str(organisation.get("name") or "-"), composition.get("date"), patient_name(patient))
    for section in composition.get("section", []):
        for reference in section.get("entry", []):
            condition = refs.get(str(reference.get("reference", "")))
            if condition and condition.get("resourceType") == "Condition":
                out.diagnoses.append(_diagnosis(condition))
    return out


def _diagnosis(condition: dict[str, Any]) -> Diagnosis:
    code = condition.get("code") or {}
    icpc2 = sks = None
    other = []
    for coding in code.get("coding", []):
        system, value = coding.get("system"), coding.get("code")
        if not value:
            continue
        if system == ICPC2_SYSTEM and icpc2 is None:
            icpc2 = value
        elif system == SKS_SYSTEM and sks is None:
            sks = value
        else:
            other.append(f"{value} ({system})" if system else str(value))
    status = kind = None
    for category in condition.get("category", []):
        for coding in category.get("coding", []):
            if coding.get("system") == SNOMED and coding.get("code") in STATUS_LABELS:
                status = STATUS_LABELS[coding["code"]]
            elif coding.get("system") == CATEGORY_SYSTEM and coding.get("code") in TYPE_LABELS:
                kind = TYPE_LABELS[coding["code"]]
    return Diagnosis(icpc2, sks, other, code.get("text"), status, kind, condition.get("recordedDate"),
                     condition.get("onsetDateTime"), condition.get("abatementDateTime"))


def check(bundle: dict[str, Any]) -> list[str]:
    """Business rules the viewer needs beyond the profile: every diagnosis has its status."""
    reasons = []
    for index, entry in enumerate(bundle.get("entry", [])):
        resource = entry.get("resource") or {}
        if resource.get("resourceType") != "Condition":
            continue
        codes = {c.get("code") for cat in resource.get("category", []) for c in cat.get("coding", [])
                 if c.get("system") == SNOMED}
        if not codes & set(STATUS_LABELS):
            reasons.append(f"Bundle.entry[{index}].resource.category: diagnosens status (Aktuel/Relevant) mangler")
    return reasons


def sort_lists(lists: list[ConditionList]) -> list[ConditionList]:
    return sorted(lists, key=lambda c: formatting.sort_key(c.updated), reverse=True)
