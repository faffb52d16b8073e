"""A mutation corpus generated from the official examples: each breaks one rule of the profiles.

Every mutation names the error it must produce: severity, the element (FHIRPath with indices, as
the entry sits in the Bundle), the rule and where the rule comes from. The unmutated example is
checked to be free of that error first, so each case proves the validator found *this* break.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from nsp_sandbox.conformance.packages import PackageRegistry
from nsp_sandbox.conformance.validator import Validator
from nsp_sandbox.outcome import Issue

HCO = ("medcom.fhir.dk.homecareobservation", "1.2.1", "Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json")
CONDITIONLIST = ("medcom.fhir.dk.conditionlist", "1.0.1", "Bundle-23d8ece4-7cff-47c1-9680-571377c6ea74.json")
NOTES = ("medcom.fhir.dk.notes", "1.0.0", "Bundle-9521a7f0-bad4-4a46-8c51-cd8378b24106.json")
ACK = ("medcom.fhir.dk.acknowledgement", "2.0.3", "Bundle-a8c041b8-c65a-4fde-a90f-962076918834.json")

HCO_IG = "http://medcomfhir.dk/ig/homecareobservation/StructureDefinition/"
NOTES_IG = "http://medcomfhir.dk/ig/notes/StructureDefinition/"
CL_IG = "http://medcomfhir.dk/ig/conditionlist/StructureDefinition/"
NPU = "urn:oid:1.2.208.176.2.1"


@dataclass(frozen=True)
class Expected:
    severity: str
    expression: str
    rule: str
    source: str | None = None  # exact issue source (profile URL#element id or #constraint key)


def entry_index(bundle: dict[str, Any], resource_type: str,
                where: Callable[[dict[str, Any]], bool] | None = None) -> int:
    for index, entry in enumerate(bundle["entry"]):
        resource = entry["resource"]
        if resource["resourceType"] == resource_type and (where is None or where(resource)):
            return index
    raise LookupError(f"no {resource_type} entry")


def res(bundle: dict[str, Any], index: int) -> dict[str, Any]:
    return bundle["entry"][index]["resource"]


# ---- the mutations: each takes a deep copy of the example, breaks it and says what must be found --


def drop_diagnosticreport_status(b: dict[str, Any]) -> Expected:
    i = entry_index(b, "DiagnosticReport")
    del res(b, i)["status"]
    return Expected("error", f"Bundle.entry[{i}].resource.status", "cardinality",
                    f"{HCO_IG}medcom-homecareobservation-diagnosticreport#DiagnosticReport.status")


def drop_messageheader_definition(b: dict[str, Any]) -> Expected:
    i = entry_index(b, "MessageHeader")
    del res(b, i)["definition"]
    return Expected("error", f"Bundle.entry[{i}].resource.definition", "cardinality",
                    f"{HCO_IG}medcom-homecareobservation-messageheader#MessageHeader.definition")


def drop_patient_official_family(b: dict[str, Any]) -> Expected:
    i = entry_index(b, "Patient")
    del res(b, i)["name"][0]["family"]
    return Expected("error", f"Bundle.entry[{i}].resource.name[0].family", "cardinality")


def wrong_event_code(b: dict[str, Any]) -> Expected:
    i = entry_index(b, "MessageHeader")
    res(b, i)["eventCoding"]["code"] = "acknowledgement-message"
    return Expected("error", f"Bundle.entry[{i}].resource.event.ofType(Coding)", "pattern",
                    f"{HCO_IG}medcom-homecareobservation-messageheader#MessageHeader.event[x]")


def diagnosticreport_not_final(b: dict[str, Any]) -> Expected:
    i = entry_index(b, "DiagnosticReport")
    res(b, i)["status"] = "preliminary"
    return Expected("error", f"Bundle.entry[{i}].resource.status", "pattern",
                    f"{HCO_IG}medcom-homecareobservation-diagnosticreport#DiagnosticReport.status")


def observation_code_outside_repertoire(b: dict[str, Any]) -> Expected:
    i = entry_index(b, "Observation", lambda r: any(c.get("system") == NPU for c in r["code"]["coding"]))
    codings = res(b, i)["code"]["coding"]
    k = next(n for n, c in enumerate(codings) if c.get("system") == NPU)
    codings[k]["code"] = "NPU99999"
    return Expected("error", f"Bundle.entry[{i}].resource.code.coding[{k}].code", "code-system")


def observation_medcom_code_outside_repertoire(b: dict[str, Any]) -> Expected:
    system = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-observation-codes"
    i = entry_index(b, "Observation", lambda r: any(c.get("system") == system for c in r["code"]["coding"]))
    codings = res(b, i)["code"]["coding"]
    k = next(n for n, c in enumerate(codings) if c.get("system") == system)
    codings[k]["code"] = "MCS00000"
    return Expected("error", f"Bundle.entry[{i}].resource.code.coding[{k}].code", "code-system")


def cpr_with_letters(b: dict[str, Any]) -> Expected:
    i = entry_index(b, "Patient")
    identifiers = res(b, i)["identifier"]
    k = next(n for n, ident in enumerate(identifiers) if ident.get("system") == "urn:oid:1.2.208.176.1.2")
    identifiers[k]["value"] = "25094799AB"
    return Expected("error", f"Bundle.entry[{i}].resource.identifier[{k}].value", "invariant:cpr")


def interpretation_not_ni(b: dict[str, Any]) -> Expected:
    i = entry_index(b, "Observation", lambda r: "interpretation" in r)
    res(b, i)["interpretation"][0]["coding"][0]["code"] = "H"
    return Expected("error", f"Bundle.entry[{i}].resource.interpretation[0].coding[0].code", "pattern")


def provenance_activity_outside_hco_set(b: dict[str, Any]) -> Expected:
    i = entry_index(b, "Provenance")
    res(b, i)["activity"]["coding"][0]["code"] = "carboncopy-message"
    return Expected("error", "Bundle", "invariant:medcom-homecareObsMessage-2",
                    f"{HCO_IG}medcom-homecareobservation-message#medcom-homecareObsMessage-2")


def cc_destination_forbidden(b: dict[str, Any]) -> Expected:
    i = entry_index(b, "MessageHeader")
    header = res(b, i)
    cc = copy.deepcopy(header["destination"][0])
    cc["extension"][0]["valueCoding"]["code"] = "cc"
    header["destination"].append(cc)
    return Expected("error", f"Bundle.entry[{i}].resource.destination", "slice-cardinality",
                    f"{HCO_IG}medcom-homecareobservation-messageheader#MessageHeader.destination:cc")


def performer_without_producer(b: dict[str, Any]) -> Expected:
    i = entry_index(b, "DiagnosticReport")
    report = res(b, i)
    org = entry_index(b, "Organization", lambda r: any(
        ident.get("system") == "http://medcomfhir.dk/ig/terminology/CodeSystem/MedComProducentID"
        for ident in r.get("identifier", [])))
    producer_ref = f"Organization/{res(b, org)['id']}"
    report["performer"] = [p for p in report["performer"] if p.get("reference") != producer_ref]
    return Expected("error", f"Bundle.entry[{i}].resource.performer", "slice-cardinality",
                    f"{HCO_IG}medcom-homecareobservation-diagnosticreport#DiagnosticReport.performer:ProducerOrganization")


def wrong_meta_profile_version(b: dict[str, Any]) -> Expected:
    i = entry_index(b, "MessageHeader")
    res(b, i)["meta"]["profile"] = [f"{HCO_IG}medcom-homecareobservation-messageheader|9.9"]
    return Expected("error", f"Bundle.entry[{i}].resource.meta.profile[0]", "profile")


def unknown_extension(b: dict[str, Any]) -> Expected:
    i = entry_index(b, "DiagnosticReport")
    res(b, i)["extension"] = [{"url": "http://example.org/fhir/StructureDefinition/not-defined", "valueString": "x"}]
    return Expected("error", f"Bundle.entry[{i}].resource.extension[0]", "extension-unknown",
                    "http://example.org/fhir/StructureDefinition/not-defined")


def broken_reference(b: dict[str, Any]) -> Expected:
    i = entry_index(b, "DiagnosticReport")
    res(b, i)["subject"]["reference"] = "Patient/not-in-this-bundle"
    return Expected("error", f"Bundle.entry[{i}].resource.subject.reference", "reference-unresolved")


def reference_to_wrong_type(b: dict[str, Any]) -> Expected:
    i = entry_index(b, "DiagnosticReport")
    practitioner = entry_index(b, "Practitioner")
    res(b, i)["subject"]["reference"] = f"Practitioner/{res(b, practitioner)['id']}"
    return Expected("error", f"Bundle.entry[{i}].resource.subject.reference", "reference-type")


def unknown_element(b: dict[str, Any]) -> Expected:
    i = entry_index(b, "Observation")
    res(b, i)["colour"] = "blue"
    return Expected("error", f"Bundle.entry[{i}].resource.colour", "unknown-element")


def closed_value_type(b: dict[str, Any]) -> Expected:
    i = entry_index(b, "Observation", lambda r: "valueQuantity" in r)
    obs = res(b, i)
    del obs["valueQuantity"]
    obs["valueBoolean"] = True
    return Expected("error", f"Bundle.entry[{i}].resource.value.ofType(boolean)", "slice-closed")


def conditionlist_confidentiality(b: dict[str, Any]) -> Expected:
    i = entry_index(b, "Composition")
    res(b, i)["confidentiality"] = "R"
    return Expected("error", f"Bundle.entry[{i}].resource.confidentiality", "pattern",
                    f"{CL_IG}medcom-conditionlist-composition#Composition.confidentiality")


def conditionlist_status_category_missing(b: dict[str, Any]) -> Expected:
    i = entry_index(b, "Condition")
    condition = res(b, i)
    condition["category"] = [c for c in condition["category"]
                             if c["coding"][0]["system"] != "http://snomed.info/sct"]
    return Expected("error", f"Bundle.entry[{i}].resource.category", "slice-cardinality",
                    f"{CL_IG}medcom-conditionlist-condition#Condition.category:status")


def conditionlist_status_code_outside_valueset(b: dict[str, Any]) -> Expected:
    i = entry_index(b, "Condition")
    condition = res(b, i)
    k = next(n for n, c in enumerate(condition["category"]) if c["coding"][0]["system"] == "http://snomed.info/sct")
    condition["category"][k]["coding"][0]["code"] = "55561003"
    return Expected("error", f"Bundle.entry[{i}].resource.category", "slice-cardinality")


def conditionlist_abatement_without_resolved(b: dict[str, Any]) -> Expected:
    i = entry_index(b, "Condition")
    condition = res(b, i)
    condition["abatementDateTime"] = "2024-05-06"
    condition["clinicalStatus"] = {"coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]}
    return Expected("error", f"Bundle.entry[{i}].resource", "invariant:con-4")


def notes_confidentiality(b: dict[str, Any]) -> Expected:
    i = entry_index(b, "Composition")
    res(b, i)["confidentiality"] = "V"
    return Expected("error", f"Bundle.entry[{i}].resource.confidentiality", "fixed",
                    f"{NOTES_IG}medcom-notes-composition#Composition.confidentiality")


def notes_effective_without_time_zone(b: dict[str, Any]) -> Expected:
    i = entry_index(b, "Observation")
    res(b, i)["effectiveDateTime"] = "2026-12-10"
    return Expected("error", f"Bundle.entry[{i}].resource.effective.ofType(dateTime)",
                    "invariant:medcom-datetime-has-time-offset-zulu")


def notes_event_start_without_time_zone(b: dict[str, Any]) -> Expected:
    i = entry_index(b, "Composition")
    res(b, i)["event"][0]["period"]["start"] = "2026-12-10"
    return Expected("error", f"Bundle.entry[{i}].resource.event[0].period.start",
                    "invariant:medcom-datetime-has-time-offset-zulu")


def notes_time_without_zone(b: dict[str, Any]) -> Expected:
    i = entry_index(b, "Observation")
    res(b, i)["effectiveDateTime"] = "2026-12-10T10:00:00"
    return Expected("error", f"Bundle.entry[{i}].resource.effective.ofType(dateTime)", "type")


def notes_bundle_timestamp_date_only(b: dict[str, Any]) -> Expected:
    b["timestamp"] = "2026-12-10"
    return Expected("error", "Bundle.timestamp", "type")


def notes_whitespace_narrative(b: dict[str, Any]) -> Expected:
    i = entry_index(b, "Observation")
    res(b, i)["text"]["div"] = '<div xmlns="http://www.w3.org/1999/xhtml">  \n  </div>'
    return Expected("error", f"Bundle.entry[{i}].resource.text.div", "invariant:txt-2")


def notes_whitespace_note_data(b: dict[str, Any]) -> Expected:
    i = entry_index(b, "Observation")
    res(b, i)["extension"][0]["valueAttachment"]["data"] = "   "
    return Expected("error", f"Bundle.entry[{i}].resource.extension[0].value.ofType(Attachment).data", "type")


def notes_note_not_html(b: dict[str, Any]) -> Expected:
    i = entry_index(b, "Observation")
    res(b, i)["extension"][0]["valueAttachment"]["contentType"] = "text/plain"
    return Expected("error", f"Bundle.entry[{i}].resource.extension[0].value.ofType(Attachment).contentType",
                    "fixed")


def notes_note_missing(b: dict[str, Any]) -> Expected:
    i = entry_index(b, "Observation")
    del res(b, i)["extension"]
    return Expected("error", f"Bundle.entry[{i}].resource.extension", "cardinality")


def notes_wrong_profile_major(b: dict[str, Any]) -> Expected:
    i = entry_index(b, "Composition")
    res(b, i)["meta"]["profile"] = [f"{NOTES_IG}medcom-notes-composition|2.0"]
    return Expected("error", f"Bundle.entry[{i}].resource.meta.profile[0]", "invariant:medcom-canonical-fixed-major")


def notes_wrong_profile_version_unloaded(b: dict[str, Any]) -> Expected:
    i = entry_index(b, "Composition")
    res(b, i)["meta"]["profile"] = [f"{NOTES_IG}medcom-notes-composition|2.0"]
    return Expected("error", f"Bundle.entry[{i}].resource.meta.profile[0]", "profile")


def notes_bundle_id_not_uuid(b: dict[str, Any]) -> Expected:
    b["id"] = "not-a-uuid"
    return Expected("error", "Bundle.id", "invariant:medcom-document-bundle-id-uuid")


def notes_script_in_narrative(b: dict[str, Any]) -> Expected:
    i = entry_index(b, "Composition")
    res(b, i)["text"]["div"] = '<div xmlns="http://www.w3.org/1999/xhtml"><p>x</p><script>alert(1)</script></div>'
    return Expected("error", f"Bundle.entry[{i}].resource.text.div", "invariant:txt-1")


def ack_not_ok_without_outcome(b: dict[str, Any]) -> Expected:
    i = entry_index(b, "MessageHeader")
    res(b, i)["response"]["code"] = "fatal-error"
    b["entry"] = [e for e in b["entry"] if e["resource"]["resourceType"] != "OperationOutcome"]
    return Expected("error", "Bundle", "invariant:medcom-acknowledgement-1")


MUTATIONS: list[tuple[tuple[str, str, str], Callable[[dict[str, Any]], Expected]]] = [
    (HCO, drop_diagnosticreport_status), (HCO, drop_messageheader_definition), (HCO, drop_patient_official_family),
    (HCO, wrong_event_code), (HCO, diagnosticreport_not_final), (HCO, observation_code_outside_repertoire),
    (HCO, observation_medcom_code_outside_repertoire), (HCO, cpr_with_letters), (HCO, interpretation_not_ni),
    (HCO, provenance_activity_outside_hco_set), (HCO, cc_destination_forbidden), (HCO, performer_without_producer),
    (HCO, wrong_meta_profile_version), (HCO, unknown_extension), (HCO, broken_reference),
    (HCO, reference_to_wrong_type), (HCO, unknown_element), (HCO, closed_value_type),
    (CONDITIONLIST, conditionlist_confidentiality), (CONDITIONLIST, conditionlist_status_category_missing),
    (CONDITIONLIST, conditionlist_status_code_outside_valueset),
    (CONDITIONLIST, conditionlist_abatement_without_resolved),
    (NOTES, notes_confidentiality), (NOTES, notes_effective_without_time_zone),
    (NOTES, notes_event_start_without_time_zone), (NOTES, notes_time_without_zone),
    (NOTES, notes_bundle_timestamp_date_only), (NOTES, notes_whitespace_narrative),
    (NOTES, notes_whitespace_note_data), (NOTES, notes_note_not_html), (NOTES, notes_note_missing),
    (NOTES, notes_wrong_profile_major), (NOTES, notes_wrong_profile_version_unloaded),
    (NOTES, notes_bundle_id_not_uuid), (NOTES, notes_script_in_narrative),
    (ACK, ack_not_ok_without_outcome),
]


def _example(packages: PackageRegistry, where: tuple[str, str, str]) -> dict[str, Any]:
    name, version, filename = where
    package = packages.get(name, version)
    assert package is not None, f"{name}#{version} is not loaded"
    return dict(package.examples())[filename]


def _matches(issue: Issue, expected: Expected) -> bool:
    return (issue.severity == expected.severity and issue.expression == expected.expression
            and issue.rule == expected.rule and (expected.source is None or issue.source == expected.source))


def _show(issues: list[Issue]) -> str:
    return "\n".join(f"  {i.severity} {i.expression} [{i.rule}] {i.source} | {i.diagnostics}" for i in issues)


@pytest.mark.parametrize(("where", "mutate"), MUTATIONS, ids=[m.__name__ for _, m in MUTATIONS])
def test_mutation_is_reported_at_the_element(validator: Validator, packages: PackageRegistry,
                                              where: tuple[str, str, str],
                                              mutate: Callable[[dict[str, Any]], Expected]) -> None:
    original = _example(packages, where)
    mutant = copy.deepcopy(original)
    expected = mutate(mutant)
    before = validator.validate(original)
    assert not any(_matches(i, expected) for i in before), "the unmutated example already has this error"
    issues = validator.validate(mutant)
    assert any(_matches(i, expected) for i in issues), f"expected {expected}; found:\n{_show(issues)}"
    assert copy.deepcopy(original) == _example(packages, where), "the mutation leaked into the example"


def test_mutations_do_not_leak_into_other_entries(validator: Validator, packages: PackageRegistry) -> None:
    """Breaking one entry reports errors on that entry (and the Bundle), not on unrelated entries."""
    bundle = copy.deepcopy(_example(packages, HCO))
    expected = cpr_with_letters(bundle)
    prefix = expected.expression.split(".resource")[0]
    errors = [i for i in validator.validate(bundle) if i.is_error]
    assert errors
    patient_id = bundle["entry"][int(prefix.split("[")[1].rstrip("]"))]["resource"]["id"]
    for issue in errors:
        on_patient = (issue.expression or "").startswith(prefix)
        via_reference = f"Patient/{patient_id}" in issue.diagnostics or issue.rule == "profile"
        assert on_patient or via_reference or issue.expression == "Bundle", _show(errors)


def test_whitespace_only_note_body_is_a_business_rule(validator: Validator, packages: PackageRegistry) -> None:
    """A base64 body that decodes to whitespace is valid FHIR: no profile rule forbids it.

    (The PLSP hub's business-rule layer flags it; the profile validator must not invent an error.)
    """
    bundle = copy.deepcopy(_example(packages, NOTES))
    i = entry_index(bundle, "Observation")
    res(bundle, i)["extension"][0]["valueAttachment"]["data"] = base64.b64encode(b"   \r\n ").decode()
    assert [x for x in validator.validate(bundle) if x.is_error] == []
