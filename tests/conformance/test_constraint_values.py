"""A constraint on a primitive that reads nothing but its value is answered per value: each value still
gets its own answer, in any order, and a value of another JSON type or FHIR type is a value of its own."""

from __future__ import annotations

from nsp_sandbox.conformance.fhirpath import EvaluationScope
from nsp_sandbox.conformance.invariants import InvariantEngine
from nsp_sandbox.conformance.structure import Constraint


def _gln_check() -> Constraint:
    digits = "+".join(f"(substring({i},1).toInteger()*{3 if i % 2 else 1})" for i in range(12))
    expression = f"((10-(({digits}) mod 10)) mod 10) = substring(12,1).toInteger()"
    return Constraint(key="gln-mod10", severity="error", human="GLN check digit", expression=expression, source="test")


def _check(engine: InvariantEngine, constraint: Constraint, value: object, fhir_type: str) -> bool:
    scope = EvaluationScope(resolve=lambda _r: None, conforms_to=lambda _r, _u: None, member_of=lambda _v, _s: None)
    issue = engine.check(constraint, value, fhir_type, {}, {}, scope, "Identifier.value", "test")
    return issue is None


def test_each_value_gets_its_own_answer_in_any_order() -> None:
    engine = InvariantEngine()
    gln = _gln_check()
    answers = [(value, _check(engine, gln, value, "string"))
               for value in ("5790001382445", "5790001382446", "5790001382445", "5790000121526", "5790001382446")]
    assert answers == [("5790001382445", True), ("5790001382446", False), ("5790001382445", True),
                       ("5790000121526", True), ("5790001382446", False)]


def test_the_json_type_and_the_fhir_type_are_part_of_the_value() -> None:
    engine = InvariantEngine()
    is_true = Constraint(key="t", severity="error", human="", expression="$this = true", source="test")
    assert _check(engine, is_true, True, "boolean")
    assert not _check(engine, is_true, 1, "integer")
    code = Constraint(key="c", severity="error", human="", expression="$this is code", source="test")
    assert _check(engine, code, "a", "code")
    assert not _check(engine, code, "a", "string")
