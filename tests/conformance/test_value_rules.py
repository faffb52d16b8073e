"""Rules of single values the walk applies beside the snapshot: integer ranges of the primitive
types, extensions no loaded package defines, and the type a Reference may point to."""

from __future__ import annotations

from typing import Any

from nsp_sandbox.conformance.validator import Validator
from nsp_sandbox.outcome import Issue


def find(issues: list[Issue], expression: str, rule: str) -> Issue | None:
    return next((i for i in issues if i.expression == expression and i.rule == rule), None)


def observation(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"resourceType": "Observation", "id": "o1", "status": "final",
                            "code": {"text": "Puls"}}
    base.update(extra)
    return base


def test_unsigned_and_positive_integers_keep_their_ranges(validator: Validator) -> None:
    issues = validator.validate({"resourceType": "Patient", "photo": [{"size": -1}]})
    size = find(issues, "Patient.photo[0].size", "type")
    assert size is not None and size.is_error and "not a valid unsignedInt" in size.diagnostics
    sampled = {"origin": {"value": 0}, "period": 1, "dimensions": 0}
    issues = validator.validate(observation(valueSampledData=sampled))
    dimensions = find(issues, "Observation.value.ofType(SampledData).dimensions", "type")
    assert dimensions is not None and dimensions.is_error and "not a valid positiveInt" in dimensions.diagnostics
    issues = validator.validate(observation(valueSampledData={**sampled, "dimensions": 1}))
    assert find(issues, "Observation.value.ofType(SampledData).dimensions", "type") is None


def test_extension_no_package_defines_is_an_error(validator: Validator) -> None:
    ext = {"url": "http://example.org/StructureDefinition/unknown", "valueString": "a"}
    issue = find(validator.validate(observation(extension=[ext])), "Observation.extension[0]", "extension-unknown")
    assert issue is not None and issue.is_error
    assert issue.source == ext["url"]
    assert "modifier" not in issue.diagnostics


def test_reference_to_a_type_not_allowed_is_an_error_even_unresolved(validator: Validator) -> None:
    issues = validator.validate(observation(subject={"reference": "Medication/m1"}))
    issue = find(issues, "Observation.subject.reference", "reference-type")
    assert issue is not None and issue.is_error and "Medication" in issue.diagnostics
    # Outside a Bundle a relative reference cannot be resolved, and that alone is not a finding.
    assert find(issues, "Observation.subject.reference", "reference-unresolved") is None
    allowed = validator.validate(observation(subject={"reference": "Patient/p1"}))
    assert find(allowed, "Observation.subject.reference", "reference-type") is None


def test_the_packages_regexes_read_their_classes_as_java_does(validator: Validator) -> None:
    """The specification's regexes are Java's: ``\\s`` is ASCII whitespace and ``\\d`` ASCII digits. A no-break
    space (common in Danish text pasted from a word processor), an ideographic space and NEL are then characters of
    a ``string`` (``[ \\r\\n\\t\\S]+``) and of a ``code`` (``[^\\s]+(\\s[^\\s]+)*``), as the reference validator
    reads them."""
    for text in ("10\u00a0mg", "Hans\u3000Jensen", "a\x85b"):
        issues = validator.validate(observation(valueString=text))
        assert find(issues, "Observation.value.ofType(string)", "type") is None, (text, issues)
    issues = validator.validate(observation(status="final\u00a0\u00a0x"))
    assert find(issues, "Observation.status", "type") is None  # no longer "not a valid code"; the binding says why
    assert any(i.is_error and i.rule == "binding" and i.expression == "Observation.status" for i in issues)
    for text in ("a\tb", "a\nb", "a\rb"):  # the ASCII whitespace the type allows, read alike
        assert find(validator.validate(observation(valueString=text)), "Observation.value.ofType(string)",
                    "type") is None
    # a vertical tab is whitespace outside the type's own four in both readings, and a code with ASCII whitespace
    # twice between its words is no code in either
    assert find(validator.validate(observation(valueString="a\x0bb")), "Observation.value.ofType(string)",
                "type") is not None
    assert find(validator.validate(observation(status="a  b")), "Observation.status", "type") is not None
