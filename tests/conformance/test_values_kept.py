"""Strings a primitive type's matcher accepted, and texts the model layer's pass found silent, are kept by their
text, so that the next message's repeated systems, codes and displays are not read again. What is kept answers
only for what it was found for: a value valid as one type is judged afresh as another, a text is held to each
element's own maxLength, and what was refused is never kept. The model layer's store stays within its bounds."""

from __future__ import annotations

from typing import Any

from nsp_sandbox.conformance import base_structure
from nsp_sandbox.conformance.base_structure import model_layer_silent
from nsp_sandbox.conformance.validator import Validator
from nsp_sandbox.outcome import Issue


def _observation(n: int, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"resourceType": "Observation", "id": f"kept-{n}", "status": "final",
                            "code": {"text": "Puls"}}
    base.update(extra)
    return base


def _type_issues(issues: list[Issue], expression: str) -> list[Issue]:
    return [i for i in issues if i.expression == expression and i.rule == "type" and i.is_error]


def test_a_value_valid_as_one_type_is_judged_afresh_as_another(validator: Validator) -> None:
    text = "kept-but-not-a-date"
    assert not _type_issues(validator.validate(_observation(1, code={"text": text})), "Observation.code.text")
    issues = validator.validate(_observation(2, effectiveDateTime=text))
    refused = _type_issues(issues, "Observation.effective.ofType(dateTime)")
    assert refused and "not a valid dateTime" in refused[0].diagnostics
    # And again, now that the text is kept as a string twice over.
    assert not _type_issues(validator.validate(_observation(3, code={"text": text})), "Observation.code.text")
    assert _type_issues(validator.validate(_observation(4, effectiveDateTime=text)),
                        "Observation.effective.ofType(dateTime)")


def test_a_kept_value_is_still_held_to_each_elements_max_length(validator: Validator) -> None:
    cpr = "01010112345"  # eleven digits: a string anywhere, too long for a CPR identifier's value (maxLength 10)
    assert not _type_issues(validator.validate(_observation(6, code={"text": cpr})), "Observation.code.text")
    patient = {"resourceType": "Patient", "id": "kept-p",
               "meta": {"profile": ["http://hl7.dk/fhir/core/StructureDefinition/dk-core-patient"]},
               "identifier": [{"system": "urn:oid:1.2.208.176.1.2", "value": cpr}]}
    too_long = [i for i in validator.validate(patient) if i.rule == "max-length"]
    assert [(i.expression, i.is_error) for i in too_long] == [("Patient.identifier[0].value", True)]


def test_what_the_model_layer_refuses_is_never_kept_as_silent(validator: Validator) -> None:
    day = "2021-02-29"  # no such day: the model layer refuses it in a date
    assert not model_layer_silent({"resourceType": "Observation", "code": {"text": day}})
    assert day not in base_structure._SILENT_TEXTS
    issues = validator.validate(_observation(5, code={"text": day}, effectiveDateTime=day))
    assert any(i.is_error and "effective" in (i.expression or "") for i in issues)
    control = "Puls\x01"
    assert not model_layer_silent({"resourceType": "Observation", "code": {"text": control}})
    assert control not in base_structure._SILENT_TEXTS
    assert not model_layer_silent({"resourceType": "Observation", "code": {"text": control}})


def test_the_store_of_silent_texts_stays_within_its_bounds() -> None:
    many = {"resourceType": "Basic", "extension": [{"url": f"http://example.org/{n}", "valueString": f"v{n}"}
                                                   for n in range(base_structure._SILENT_AT_MOST + 10)]}
    assert model_layer_silent(many)
    assert len(base_structure._SILENT_TEXTS) <= base_structure._SILENT_AT_MOST
    long_text = "x" * (base_structure._SILENT_LONGEST + 1)
    assert model_layer_silent({"resourceType": "Basic", "code": {"text": long_text}})
    assert long_text not in base_structure._SILENT_TEXTS
