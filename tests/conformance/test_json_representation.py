"""FHIR JSON representation rules in the base-structure layer: no null, no empty values, no control characters."""

from __future__ import annotations

from nsp_sandbox.conformance.validator import Validator


def _rules(validator: Validator, resource: dict) -> set[tuple[str | None, str | None]]:
    return {(i.expression, i.rule) for i in validator.validate(resource) if i.is_error}


def test_null_empty_and_control_characters_are_errors_at_their_path(validator: Validator) -> None:
    patient = {"resourceType": "Patient", "gender": None, "name": [], "telecom": [{}],
               "identifier": [{"system": "", "value": "01\u000001"}]}
    found = _rules(validator, patient)
    for path in ("Patient.gender", "Patient.name", "Patient.telecom[0]", "Patient.identifier[0].system",
                 "Patient.identifier[0].value"):
        assert (path, "json-representation") in found, (path, found)


def test_nulls_keep_primitive_arrays_aligned_with_their_extensions(validator: Validator) -> None:
    patient = {"resourceType": "Patient", "name": [{"given": ["Anne", None], "_given": [None, {
        "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/iso21090-EN-qualifier",
                       "valueCode": "BR"}]}]}]}
    assert not [r for r in _rules(validator, patient) if r[1] == "json-representation"]


def test_a_lone_control_character_is_found_and_tab_cr_lf_are_allowed(validator: Validator) -> None:
    def patient(family: str) -> dict:
        return {"resourceType": "Patient", "name": [{"family": family, "given": ["Søren"]}]}

    assert ("Patient.name[0].family", "json-representation") in _rules(validator, patient("Ha\u000bnsen"))
    assert ("Patient.name[0].family", "json-representation") in _rules(validator, patient("Ærø\u001f"))
    allowed = _rules(validator, patient("Hansen\tJensen\r\nØstergaard\u00a0\u2028"))
    assert not [r for r in allowed if r[1] == "json-representation"], allowed
