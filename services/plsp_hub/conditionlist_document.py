"""A clinic's diagnosis card as a MedCom ConditionList 1.0.1 document Bundle (on Document 1.0.1).

The caller passes the card with only the diagnoses to share (the hub's source rules decide
which); this module renders them and never emits ``Condition.note`` — the clinic's internal note
("tillægstekst") is not shared, whatever the input. What it does decide:

- ``Composition.date`` is the card's last change, ``Bundle.timestamp`` the moment of assembly;
- ``author:institution`` is the clinic (SOR, Ydernummer when known); when the card is approved,
  ``attester`` ``official`` names the approving practitioner, who is also ``author:person``;
- ``clinicalStatus`` is ``resolved`` whenever an abatement is given (con-4); otherwise ``active``
  when the status is Aktuel and ``resolved`` when Relevant (present on every Condition: con-3);
- codes are SKS-D (``urn:oid:1.2.208.176.2.4.12``) and ICPC-2 (``urn:oid:1.2.208.176.2.31``)
  without display (displays are never invented); ``code.text`` is the diagnosis text;
- ``Bundle.id`` and ``Bundle.identifier`` are fresh, different v4 UUIDs on every call; Patient,
  Organization and Practitioner ids are stable, and each Condition's id is stable per clinic and
  diagnosis key.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from services.plsp_hub.document_resources import (
    CPR_SYSTEM,
    document_bundle,
    fhir_date_or_datetime,
    fhir_datetime,
    fresh_uuid,
    narrative,
    organization_resource,
    patient_resource,
    practitioner_resource,
    reference,
    stable_uuid,
)
from services.plsp_hub.state import ConditionCard, Diagnosis

CL = "http://medcomfhir.dk/ig/conditionlist/StructureDefinition/"
DOC = "http://medcomfhir.dk/ig/document/StructureDefinition/"
BUNDLE_PROFILE = CL + "medcom-conditionlist-bundle"
COMPOSITION_PROFILE = CL + "medcom-conditionlist-composition"
CONDITION_PROFILE = CL + "medcom-conditionlist-condition"
ORGANIZATION_PROFILE = CL + "medcom-conditionlist-organization"
PATIENT_PROFILE = DOC + "medcom-document-patient"
PRACTITIONER_PROFILE = DOC + "medcom-document-practitioner"

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
SKS_D_SYSTEM = "urn:oid:1.2.208.176.2.4.12"
ICPC2_SYSTEM = "urn:oid:1.2.208.176.2.31"
STATUS_CODES = {"current": "15240007", "relevant": "723506003"}  # Aktuel | Relevant
STATUS_TEXT = {"current": "Aktuel", "relevant": "Relevant"}
KIND_TEXT = {"problem-list-item": "Forløbsdiagnose", "encounter-diagnosis": "Kontaktdiagnose"}


def conditionlist_title(cpr: str) -> str:
    return f"Diagnoseoversigt for {cpr}"


def condition_id(card: ConditionCard, diagnosis: Diagnosis) -> str:
    """Stable per (clinic, diagnosis key): the same diagnosis keeps its id in every version."""
    return stable_uuid("condition", card.clinic.sor, diagnosis.key)


def clinical_status(diagnosis: Diagnosis) -> str:
    """``resolved`` with an abatement (con-4); otherwise from the status: Aktuel ``active``, Relevant
    (SCT 723506003 "Resolved") ``resolved`` — always present, as con-3 asks of problem-list items."""
    if diagnosis.abatement is not None or diagnosis.status == "relevant":
        return "resolved"
    return "active"


def build_conditionlist(card: ConditionCard, *, assembled: datetime) -> dict[str, Any]:
    """The ConditionList document for ``card.diagnoses`` (at least one), assembled at ``assembled``."""
    if not card.diagnoses:
        raise ValueError("an empty diagnosis card gives no ConditionList document")
    keys = [d.key for d in card.diagnoses]
    if len(set(keys)) != len(keys):
        raise ValueError("the diagnoses of one card need distinct keys")
    patient = patient_resource(card.patient, PATIENT_PROFILE)
    organization = organization_resource(card.clinic, ORGANIZATION_PROFILE)
    approver = practitioner_resource(card.approval.by, PRACTITIONER_PROFILE) if card.approval else None
    conditions = [_condition(card, d, patient["id"]) for d in card.diagnoses]
    composition = _composition(card, patient, organization, approver, conditions)
    resources = [composition, patient, organization, *([approver] if approver else []), *conditions]
    return document_bundle(resources, profile=BUNDLE_PROFILE, assembled=assembled)


def _composition(card: ConditionCard, patient: dict[str, Any], organization: dict[str, Any],
                 approver: dict[str, Any] | None, conditions: list[dict[str, Any]]) -> dict[str, Any]:
    title = conditionlist_title(card.patient.cpr)
    authors = [reference(organization["id"])]
    if approver:
        authors.append(reference(approver["id"]))
    composition_id = fresh_uuid()
    rows = [
        ("Status", "final"),
        ("Type", f"{LOINC}#11450-4 Problem list - Reported"),
        ("Patient", f"{CPR_SYSTEM}#{card.patient.cpr}"),
        ("Senest opdateret", fhir_datetime(card.updated)),
        ("Forfatter (organisation)", f"{card.clinic.name} (SOR {card.clinic.sor})"),
        ("Titel", title),
        ("Fortrolighed", "N"),
    ]
    if card.approval:
        approved_by = " ".join([*card.approval.by.given, card.approval.by.family])
        rows.append(("Godkendt (official) af", f"{approved_by}, {fhir_datetime(card.approval.at)}"))
    composition: dict[str, Any] = {
        "resourceType": "Composition",
        "id": composition_id,
        "meta": {"profile": [COMPOSITION_PROFILE]},
        "language": "da",
        "text": narrative(rows, heading=title),
        "status": "final",
        "type": {"coding": [{"system": LOINC, "code": "11450-4", "display": "Problem list - Reported"}]},
        "subject": reference(patient["id"]),
        "date": fhir_datetime(card.updated),
        "author": authors,
        "title": title,
        "confidentiality": "N",
    }
    if approver and card.approval:
        composition["attester"] = [{"mode": "official", "time": fhir_datetime(card.approval.at),
                                    "party": reference(approver["id"])}]
    composition["section"] = [{
        "text": _section_text(card),
        "entry": [reference(c["id"]) for c in conditions],
    }]
    return composition


def _code_text(diagnosis: Diagnosis) -> str:
    codes = [f"SKS-D {diagnosis.sks}" if diagnosis.sks else None,
             f"ICPC-2 {diagnosis.icpc2}" if diagnosis.icpc2 else None,
             *(f"{system or '(uden system)'} {code}" for system, code in diagnosis.other_codes)]
    label = ", ".join(c for c in codes if c)
    if diagnosis.text:
        return f"{diagnosis.text} ({label})" if label else diagnosis.text
    return label or "(uden kode og tekst)"


def _section_text(card: ConditionCard) -> dict[str, str]:
    rows = []
    for d in card.diagnoses:
        parts = [_code_text(d), STATUS_TEXT[d.status]]
        if d.kind:
            parts.append(KIND_TEXT[d.kind])
        parts.append(f"registreret {fhir_date_or_datetime(d.recorded)}")
        if d.onset is not None:
            parts.append(f"debut {fhir_date_or_datetime(d.onset)}")
        if d.abatement is not None:
            parts.append(f"afsluttet {fhir_date_or_datetime(d.abatement)}")
        rows.append(f"<li>{escape('; '.join(parts))}</li>")
    extra = f"<ul>{''.join(rows)}</ul>"
    return narrative([], heading="Diagnoser", extra=extra)


def _condition(card: ConditionCard, diagnosis: Diagnosis, patient_id: str) -> dict[str, Any]:
    status_code = STATUS_CODES[diagnosis.status]
    categories: list[dict[str, Any]] = []
    if diagnosis.kind:
        categories.append({"coding": [{"system": CONDITION_CATEGORY, "code": diagnosis.kind}]})
    categories.append({"coding": [{"system": SNOMED, "code": status_code}]})
    codings: list[dict[str, str]] = []
    if diagnosis.sks:
        codings.append({"system": SKS_D_SYSTEM, "code": diagnosis.sks})
    if diagnosis.icpc2:
        codings.append({"system": ICPC2_SYSTEM, "code": diagnosis.icpc2})
    for system, code in diagnosis.other_codes:
        codings.append({"system": system, "code": code} if system else {"code": code})
    clinical = clinical_status(diagnosis)
    rows: list[tuple[str, str | None]] = [  # every element of the Condition, for non-MS readers
        ("Klinisk status", clinical),
        ("Kategori (status)", f"{SNOMED}#{status_code} {STATUS_TEXT[diagnosis.status]}"),
        ("Kategori (type)", f"{diagnosis.kind} {KIND_TEXT[diagnosis.kind]}" if diagnosis.kind else None),
        ("Kode", ", ".join(f"{c.get('system', '(uden system)')}#{c['code']}" for c in codings) or None),
        ("Diagnosetekst", diagnosis.text),
        ("Patient", f"{CPR_SYSTEM}#{card.patient.cpr}"),
        ("Debut", fhir_date_or_datetime(diagnosis.onset) if diagnosis.onset is not None else None),
        ("Afsluttet", fhir_date_or_datetime(diagnosis.abatement) if diagnosis.abatement is not None else None),
        ("Registreret", fhir_date_or_datetime(diagnosis.recorded)),
    ]
    condition: dict[str, Any] = {
        "resourceType": "Condition",
        "id": condition_id(card, diagnosis),
        "meta": {"profile": [CONDITION_PROFILE]},
        "text": narrative(rows, heading="Diagnose"),
    }
    condition["clinicalStatus"] = {"coding": [{"system": CONDITION_CLINICAL, "code": clinical}]}
    condition["category"] = categories
    code: dict[str, Any] = {}
    if codings:
        code["coding"] = codings
    if diagnosis.text:
        code["text"] = diagnosis.text
    if code:
        condition["code"] = code
    condition["subject"] = reference(patient_id)
    if diagnosis.onset is not None:
        condition["onsetDateTime"] = fhir_date_or_datetime(diagnosis.onset)
    if diagnosis.abatement is not None:
        condition["abatementDateTime"] = fhir_date_or_datetime(diagnosis.abatement)
    condition["recordedDate"] = fhir_date_or_datetime(diagnosis.recorded)
    return condition
