"""Constraint evaluation: the FHIRPath compiler agrees with fhirpathpy, and the FHIR functions work."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from nsp_sandbox.conformance import shortcuts
from nsp_sandbox.conformance.fhirpath import (
    EvaluationScope,
    FhirPathError,
    Unsupported,
    compile_expression,
    item_of,
    narrative_problems,
)
from nsp_sandbox.conformance.fhirpath.model import children_of, object_children
from nsp_sandbox.conformance.fhirpath.narrative import narrative_checks
from nsp_sandbox.conformance.invariants import InvariantEngine
from nsp_sandbox.conformance.packages import PackageRegistry
from nsp_sandbox.conformance.validator import Validator

OBSERVATION: dict[str, Any] = {
    "resourceType": "Observation", "id": "o1", "status": "final",
    "code": {"coding": [{"system": "urn:oid:1.2.208.176.2.1", "code": "NPU03230"},
                        {"system": "http://loinc.org", "code": "2823-3"}], "text": "Kalium"},
    "subject": {"reference": "Patient/p1"},
    "effectiveDateTime": "2023-09-12T12:00:00+02:00",
    "valueQuantity": {"value": 4.1, "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"},
    "note": [{"text": "a"}, {"text": "b"}],
}

EXPRESSIONS = [
    "status = 'final'", "status != 'final'", "code.coding.count()", "code.coding.code",
    "code.coding.where(system = 'http://loinc.org').code", "code.coding.exists(code = 'NPU03230')",
    "value.ofType(Quantity).value > 4", "value.ofType(Quantity).value < 4.05",
    "value.ofType(Quantity).unit.exists() and value.ofType(Quantity).code.exists()",
    "value.exists() implies dataAbsentReason.empty()", "dataAbsentReason.exists() implies false",
    "{} = 'x'", "(status = 'x') or {}", "(status = 'final') and {}", "(status = 'x') and {}",
    "true xor false", "effective.ofType(dateTime) > @2023-09-12T09:00:00+00:00".replace(
        "@2023-09-12T09:00:00+00:00", "'2023-09-12T09:00:00+00:00'"),
    "note.text.isDistinct()", "note.select(text & '!')", "note.text.first()", "note.text.last()",
    "note.text.tail()", "note.count() > 1 implies note.all(text.exists())", "code.text.substring(1, 2)",
    "code.text.startsWith('Ka')", "code.text.matches('^K[a-z]+$')", "code.text.length()",
    "code.text.upper()", "'12'.toInteger() + 3 * 2", "7 div 2", "7 mod 2", "(7 / 2) > 3",
    "code.coding.code.combine('x').count()", "code.coding.code.intersect('NPU03230' | 'y')",
    "iif(status = 'final', 'yes', 'no')", "$this.status", "subject.reference.startsWith('#').not()",
    "descendants().ofType(Coding).count()", "'NPU03230' in code.coding.code", "code.coding.code contains 'NPU03230'",
    "Observation.status", "status.hasValue()", "code.hasValue()", "note.text.trace('t').count()",
    "(code.coding.count() + note.count()) > 3", "-(1) < 0", "'a' & {} & 'b'", "code is CodeableConcept",
    "value is Quantity", "status.toString()", "effective.toString()", "code.coding.code.distinct().count()",
    "code.coding.code = ('NPU03230' | '2823-3')", "code.coding.code = ('2823-3' | 'NPU03230')",
    "code.coding.code != ('NPU03230' | '2823-3')", "code.coding.code = 'NPU03230'", "note.text = note.text",
    "code.coding.system = code.coding.system", "code.coding = code.coding", "effective = effective",
]


def _fhirpathpy(engine: InvariantEngine, expression: str, resource: dict[str, Any]) -> list[Any]:
    scope = EvaluationScope(resolve=lambda _r: None, conforms_to=lambda _r, _u: None, member_of=lambda _v, _s: None)
    return engine.evaluate(expression, resource, resource["resourceType"], resource, resource, scope)


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_compiled_expression_agrees_with_fhirpathpy(expression: str) -> None:
    resource = copy.deepcopy(OBSERVATION)
    compiled = _fhirpathpy(InvariantEngine("compiled"), expression, resource)
    reference = _fhirpathpy(InvariantEngine("fhirpathpy"), expression, resource)
    assert [_plain(v) for v in compiled] == [_plain(v) for v in reference]


def _plain(value: Any) -> Any:
    if hasattr(value, "data"):
        value = value.data
    try:
        return float(value) if not isinstance(value, bool | str | dict | list) and value is not None else value
    except (TypeError, ValueError):
        return str(value)


def test_primitive_with_extension_keeps_its_value() -> None:
    """``_status`` extends ``status``; the value stays comparable (fhirpathpy loses it here)."""
    resource = copy.deepcopy(OBSERVATION)
    resource["_status"] = {"extension": [{"url": "http://example.org/x", "valueString": "y"}]}
    focus = item_of(resource, None)
    assert compile_expression("status = 'final'")(focus, focus, focus) == [True]
    assert compile_expression("status.hasValue()")(focus, focus, focus) == [True]
    assert compile_expression("status.toString()")(focus, focus, focus) == ["final"]
    assert compile_expression("status.extension('http://example.org/x').value")(focus, focus, focus) == ["y"]
    assert compile_expression("children().count()")(focus, focus, focus) == [8]


@pytest.mark.parametrize(("expression", "answer"), [
    ("code.coding.code = ('NPU03230' | '2823-3')", [True]),
    ("code.coding.code = ('2823-3' | 'NPU03230')", [False]),  # in order
    ("code.coding.code = ('NPU03230' | 'X')", [False]),  # every item, not the first alone (fhirpathpy: true)
    ("code.coding.code = ('X' | '2823-3')", [False]),
    ("code.coding.code = ('NPU03230' | '2823-3' | 'X')", [False]),  # lengths differ
    ("code.coding.code != ('NPU03230' | 'X')", [True]),
    ("note.text = ('a' | 'b')", [True]),
    ("(effective | status) = (effective | 'final')", [True]),
    ("(effective | status) = ('2023-09-12' | 'final')", []),  # dates of different precision: unknown
    ("code.coding.code = {}", []),
])
def test_equality_of_collections_is_item_by_item_in_order(expression: str, answer: list[Any]) -> None:
    """FHIRPath ``=`` (§6.1.1): collections of several items are equal when each item equals the one at its
    place in the other; of different lengths they are not; an item whose equality is unknown makes it unknown."""
    focus = item_of(copy.deepcopy(OBSERVATION), None)
    assert compile_expression(expression)(focus, focus, focus) == answer


def test_membership() -> None:
    focus = item_of(copy.deepcopy(OBSERVATION), None)
    assert compile_expression("code.coding.code in ('NPU03230' | '2823-3' | 'X')")(focus, focus, focus) == [True]
    assert compile_expression("code.coding.code in ('NPU03230' | 'X')")(focus, focus, focus) == [False]
    assert compile_expression("dataAbsentReason in ('X')")(focus, focus, focus) == []
    assert compile_expression("('X' | 'NPU03230') contains code.coding.code.first()")(focus, focus, focus) == [True]


DOM_3 = ("contained.where((('#'+id in (%resource.descendants().reference | %resource.descendants().as(canonical) | "
         "%resource.descendants().as(uri) | %resource.descendants().as(url))) or descendants().where(reference = '#')"
         ".exists() or descendants().where(as(canonical) = '#').exists() or descendants().where(as(canonical) = '#')"
         ".exists()).not()).trace('unmatched', id).empty()")


def _whole_union(expression: str) -> str:
    """``expression`` with every union operand of ``in`` read as written (a ``where(true)`` makes each one more
    than a navigation, so the union is built whole before the membership is decided)."""
    return re.sub(r"(%resource\.descendants\(\)\.(?:reference|as\(\w+\)))", r"\1.where(true)", expression)


def _referring(how: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "DocumentReference", "id": "d", "status": "current",
            "contained": [{"resourceType": "Patient", "id": "p"}, {"resourceType": "Practitioner", "id": "q"}],
            "content": [{"attachment": {"url": "http://example.org/x"}}], **how}


@pytest.mark.parametrize(("how", "passes"), [
    ({"subject": {"reference": "#p"}, "author": [{"reference": "#q"}]}, True),  # the first operand
    ({"subject": {"reference": "#p"}, "extension": [{"url": "http://example.org/e", "valueCanonical": "#q"}]}, True),
    ({"subject": {"reference": "#p"}, "extension": [{"url": "http://example.org/e", "valueUri": "#q"}]}, True),
    ({"subject": {"reference": "#p"}, "extension": [{"url": "http://example.org/e", "valueUrl": "#q"}]}, True),
    ({"subject": {"reference": "#p"}}, False),  # q is referred to from nowhere
    ({"subject": {"reference": "#q"}, "extension": [{"url": "http://example.org/e", "valueDate": "2020-01-01"}]},
     False),
    ({}, False),
])
def test_membership_in_a_union_of_navigations_answers_as_the_whole_union(how: dict[str, Any], passes: bool) -> None:
    """``x in (a | b | …)`` reads the operands one by one until every text on the left is met (dom-3 mostly ends at
    its first); its answers are those of the union built whole."""
    resource = _referring(how)
    engine = InvariantEngine("compiled")
    assert _fhirpathpy(engine, DOM_3, resource) == [passes]
    assert _fhirpathpy(engine, _whole_union(DOM_3), resource) == [passes]
    assert _whole_union(DOM_3).count(".where(true)") == 4
    focus = item_of(resource, None)
    by_operand = "(%resource.descendants().reference | %resource.descendants().as({}))"
    for left, kind in (("('#p' | '#q')", "uri"), ("('#p' | '2020-01-01')", "date"), ("extension.value", "date"),
                       ("{}", "uri"), ("'#q'", "uri"), ("'#q'", "canonical")):
        expression = f"{left} in {by_operand.format(kind)}"
        assert compile_expression(expression)(focus, focus, focus) == compile_expression(_whole_union(expression))(
            focus, focus, focus), expression


_EXTENSION = "http://example.org/e"


_DOM_3_SHAPES: list[dict[str, Any]] = [
    {"subject": {"reference": "#p"}, "author": [{"reference": "#q"}]},  # answered at once
    {"subject": {"reference": "#p"}},  # q named nowhere
    {"subject": {"reference": "#p"}, "extension": [{"url": _EXTENSION, "valueReference": {"reference": "#q"}}]},
    {"subject": {"reference": "#p"}, "extension": [{"url": _EXTENSION, "value": {"reference": "#q"}}]},
    {"subject": {"reference": "#p"}, "_status": {"extension": [{"url": _EXTENSION,
                                                                "valueReference": {"reference": "#q"}}]}},
    {"subject": {"reference": "#p"}, "author": [{"reference": "#q", "_reference": [{"id": "x"}]}]},
    {"subject": {"reference": "#p"}, "custodian": {"reference": "#q"}, "_custodian": [{"id": "x"}]},
    {"subject": {"reference": "#p"}, "reference": "#q"},  # on the resource itself: not one of its descendants
    {"subject": {"reference": "#p"}, "context": {"related": [{"reference": "#q"}]}},
    {"subject": {"reference": "#p"}, "author": [[{"reference": "#q"}]]},
    {"subject": {"reference": "#p"}, "extension": [{"url": _EXTENSION, "valueCanonical": "#q"}]},
    {"author": [{"reference": "#p"}, {"reference": "#q"}], "contained": [{"resourceType": "Patient", "id": "p"},
                                                                        {"resourceType": "Practitioner", "id": "q"}]},
    {"subject": {"reference": "#p"}, "contained": [{"resourceType": "Patient", "id": "p"},
                                                   {"resourceType": "Practitioner", "id": "q",
                                                    "extension": [{"url": _EXTENSION,
                                                                   "valueReference": {"reference": "#q"}}]}]},
    {"subject": {"reference": "#p"}, "contained": [{"resourceType": "Patient", "id": "p"},
                                                   {"resourceType": "Practitioner", "id": "q",
                                                    "managingOrganization": {"reference": "#"}}]},
    {"subject": {"reference": "#p"}, "contained": [{"resourceType": "Patient", "id": "p"},
                                                   {"resourceType": "Practitioner", "_id": {"id": "x"}}]},
    {"subject": {"reference": "#p"}, "contained": [{"resourceType": "Patient", "id": "p", "_id": [{"id": "x"}]}]},
    {"subject": {"reference": "#1"}, "contained": [{"resourceType": "Patient", "id": 1}]},
    {"subject": {"reference": "#p"}, "contained": [{"resourceType": "Patient", "id": ["p", "q"]}]},
    {"subject": {"reference": "#p"}, "contained": [{"resourceType": "Patient", "id": "p"}, None]},
    {"subject": {"reference": "#p"}, "contained": {"resourceType": "Patient", "id": "p"}},
    {"subject": {"reference": "#"}, "contained": [{"resourceType": "Patient", "id": ""}]},
]


@pytest.mark.parametrize("how", _DOM_3_SHAPES)
def test_dom_3_answered_at_once_only_as_the_expression_answers(how: dict[str, Any]) -> None:
    """dom-3 is answered true without evaluating it when every contained resource is named ``#id`` by a
    ``reference`` that ``descendants()`` surely reaches; every answer, given that way or not, is the
    expression's own (the compiled engine's with the union built whole, and fhirpathpy's)."""
    resource = _referring(how)
    given = _answer(InvariantEngine("compiled"), DOM_3, resource)
    assert given == _answer(InvariantEngine("compiled"), _whole_union(DOM_3), resource)
    expected = _answer(InvariantEngine("fhirpathpy"), DOM_3, resource)
    if expected != "error":  # fhirpathpy cannot read every malformed shape
        assert given == expected
    if how == {"subject": {"reference": "#p"}, "author": [{"reference": "#q"}]}:
        assert given == [True]


REF_1 = ("reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
         "%rootResource.contained.id.trace('ids'))")

BDL_3 = ("entry.all(request.exists() = (%resource.type = 'batch' or %resource.type = 'transaction' or "
         "%resource.type = 'history'))")
BDL_4 = ("entry.all(response.exists() = (%resource.type = 'batch-response' or %resource.type = "
         "'transaction-response' or %resource.type = 'history'))")
BDL_7 = "(type = 'history') or entry.where(fullUrl.exists()).select(fullUrl&resource.meta.versionId).isDistinct()"


def _answered_as_written(expression: str, focus: Any, focus_type: str, resource: dict[str, Any]) -> list[Any] | str:
    """The compiled engine's answer to ``expression`` on ``focus`` (``resource`` its resource and root), checked to be
    the expression's own: the same text in parentheses (which nothing recognises: evaluated as written) and
    fhirpathpy's, where fhirpathpy can read the shape. ``"error"``: not evaluable, "not checked" whichever engine."""
    scope = EvaluationScope(resolve=lambda _r: None, conforms_to=lambda _r, _u: None, member_of=lambda _v, _s: None)

    def answer(engine: InvariantEngine, text: str) -> list[Any] | str:
        try:
            return engine.evaluate(text, focus, focus_type, resource, resource, scope)
        except Exception:  # not evaluable on this shape
            return "error"

    given = answer(InvariantEngine("compiled"), expression)
    assert given == answer(InvariantEngine("compiled"), f"({expression})")
    expected = answer(InvariantEngine("fhirpathpy"), expression)
    if expected != "error":  # fhirpathpy cannot read every malformed shape
        assert given == expected
    return given


@pytest.mark.parametrize("reference", [
    {"reference": "Patient/1"},  # answered at once
    {"reference": "urn:uuid:5e8d4f04-4f40-4ba0-9c2b-1d5d4a1b1f0e", "_reference": {"extension": [
        {"url": _EXTENSION, "valueString": "x"}]}},
    {"reference": ""},
    {"reference": "#p"}, {"reference": "#x"}, {"reference": "#"},
    {"identifier": {"system": "urn:oid:1.2.208.176.1.2", "value": "0101801234"}},
    {"reference": ["Patient/1", "#p"]}, {"reference": 5}, {"reference": "Patient/1", "_reference": [{"id": "r"}]},
    {"_reference": {"id": "r"}},
])
def test_ref_1_answered_at_once_only_as_the_expression_answers(reference: dict[str, Any]) -> None:
    """ref-1 is answered true without evaluating it for a Reference whose one ``reference`` does not start with
    "#"; every answer, given that way or not, is the expression's own."""
    resource = {"resourceType": "Observation", "id": "o", "status": "final",
                "contained": [{"resourceType": "Patient", "id": "p"}], "subject": reference}
    given = _answered_as_written(REF_1, reference, "Reference", resource)
    if reference == {"reference": "Patient/1"}:
        assert given == [True]


@pytest.mark.parametrize(("structure", "key", "expression", "recognised"), [
    ("Reference", "ref-1", REF_1, shortcuts.REF_1), ("DomainResource", "dom-3", DOM_3, shortcuts.DOM_3),
    ("Bundle", "bdl-3", BDL_3, shortcuts.BDL_3), ("Bundle", "bdl-4", BDL_4, shortcuts.BDL_4),
    ("Bundle", "bdl-7", BDL_7, shortcuts.BDL_7)])
def test_a_constraint_answered_at_once_is_the_one_r4_defines(packages: PackageRegistry, structure: str, key: str,
                                                             expression: str, recognised: str) -> None:
    definition = packages.structure_definition(f"http://hl7.org/fhir/StructureDefinition/{structure}")
    assert definition is not None
    expressions = [c.get("expression") for e in definition["snapshot"]["element"] for c in e.get("constraint", [])
                   if c.get("key") == key]
    assert expressions == [expression] and recognised == expression


_CONTAINED_SHAPES: list[Any] = [
    [{"resourceType": "Patient", "id": "p"}],
    [{"resourceType": "Patient", "id": "q"}, {"resourceType": "Practitioner", "id": "p"}],
    [],
    None,
    [{"resourceType": "Patient"}],
    [{"resourceType": "Patient", "id": "P"}],
    [{"resourceType": "Patient", "id": "p", "_id": {"extension": [{"url": _EXTENSION, "valueString": "x"}]}}],
    [{"resourceType": "Patient", "_id": {"id": "x"}}],
    [{"resourceType": "Patient", "id": 5}],
    [{"resourceType": "Patient", "id": ["p", "q"]}],
    [{"resourceType": "Patient", "id": "q"}, None],
    [{"resourceType": "Patient", "id": "q"}, "p"],
    [["p"]],
    {"resourceType": "Patient", "id": "p"},
    [{"id": "p"}],
    [{"resourceType": "Patient", "id": ""}],
]


@pytest.mark.parametrize("reference", ["#p", "#q", "#", "#p ", "#5", "# p"])
@pytest.mark.parametrize("contained", _CONTAINED_SHAPES)
def test_ref_1_of_a_local_reference_answered_only_as_the_expression_answers(reference: str, contained: Any) -> None:
    """ref-1 of a ``#id`` reference is answered from the root resource's contained ids when each contained
    resource is an object whose ids are texts; every answer, so given or not, is the expression's own (the text
    evaluated as written, and fhirpathpy's)."""
    resource: dict[str, Any] = {"resourceType": "Observation", "id": "o", "status": "final",
                                "subject": {"reference": reference}}
    if contained is not None:
        resource["contained"] = contained
    given = _answered_as_written(REF_1, resource["subject"], "Reference", resource)
    if reference == "#p" and contained == [{"resourceType": "Patient", "id": "p"}]:
        assert given == [True]
    if reference == "#q" and contained == [{"resourceType": "Patient", "id": "p"}]:
        assert given == [False]


_PATIENT = {"resourceType": "Patient", "id": "p"}
_REQUEST = {"method": "POST", "url": "Patient"}
_RESPONSE = {"status": "201 Created"}


def _versioned(version: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": "p", "meta": {"versionId": version}}


_BUNDLE_SHAPES: list[dict[str, Any]] = [
    {"type": "message", "entry": [{"fullUrl": "urn:uuid:a", "resource": _PATIENT},
                                  {"fullUrl": "urn:uuid:b", "resource": _PATIENT}]},
    {"type": "message", "entry": [{"fullUrl": "urn:uuid:a", "resource": _PATIENT, "request": _REQUEST}]},
    {"type": "transaction", "entry": [{"fullUrl": "urn:uuid:a", "resource": _PATIENT, "request": _REQUEST},
                                      {"fullUrl": "urn:uuid:b", "resource": _PATIENT, "request": _REQUEST}]},
    {"type": "transaction", "entry": [{"fullUrl": "urn:uuid:a", "resource": _PATIENT, "request": _REQUEST},
                                      {"fullUrl": "urn:uuid:b", "resource": _PATIENT}]},
    {"type": "batch-response", "entry": [{"response": _RESPONSE}, {"response": _RESPONSE}]},
    {"type": "transaction-response", "entry": [{"response": _RESPONSE}, {"fullUrl": "urn:uuid:b"}]},
    {"type": "history", "entry": [{"fullUrl": "urn:uuid:a", "request": _REQUEST, "response": _RESPONSE},
                                  {"fullUrl": "urn:uuid:a", "request": _REQUEST, "response": _RESPONSE}]},
    {"type": "history", "entry": [{"fullUrl": "urn:uuid:a", "request": _REQUEST}]},
    {"type": "collection", "entry": [{"fullUrl": "urn:uuid:a", "resource": _PATIENT},
                                     {"fullUrl": "urn:uuid:a", "resource": _PATIENT}]},
    {"type": "collection", "entry": [{"fullUrl": "urn:uuid:a", "resource": _versioned("1")},
                                     {"fullUrl": "urn:uuid:a", "resource": _versioned("2")}]},
    {"type": "collection", "entry": [{"fullUrl": "urn:uuid:a", "resource": _versioned("1")},
                                     {"fullUrl": "urn:uuid:a1", "resource": _PATIENT}]},
    {"type": "collection", "entry": [{"fullUrl": "urn:uuid:a", "resource": _versioned(1)},
                                     {"fullUrl": "urn:uuid:b", "resource": _PATIENT}]},
    {"type": "collection", "entry": [{"fullUrl": "urn:uuid:a", "resource": {
        "resourceType": "Patient", "meta": {"_versionId": {"extension": [{"url": _EXTENSION, "valueString": "x"}]}}}}]},
    {"type": "collection", "entry": [{"fullUrl": "urn:uuid:a", "resource": {
        "resourceType": "Patient", "meta": {"versionId": ["1", "2"]}}}]},
    {"type": "collection", "entry": [{"fullUrl": "urn:uuid:a", "resource": [_PATIENT, _PATIENT]}]},
    {"type": "collection", "entry": [{"fullUrl": "urn:uuid:a", "resource": "Patient/p"}]},
    {"type": "collection", "entry": [{"fullUrl": "urn:uuid:a", "resource": {"resourceType": "Patient", "meta": 5}}]},
    {"type": "collection", "entry": [{"fullUrl": ["urn:uuid:a", "urn:uuid:b"]}]},
    {"type": "collection", "entry": [{"_fullUrl": {"extension": [{"url": _EXTENSION, "valueString": "x"}]}}]},
    {"type": "collection", "entry": [{"fullUrl": 5}]},
    {"type": "collection", "entry": ["urn:uuid:a", None, {}, {"fullUrl": "urn:uuid:a"}]},
    {"type": "collection", "entry": []},
    {"type": "collection"},
    {"entry": [{"fullUrl": "urn:uuid:a", "request": _REQUEST}, {"fullUrl": "urn:uuid:a"}]},
    {"type": ["history", "collection"], "entry": [{"fullUrl": "urn:uuid:a"}, {"fullUrl": "urn:uuid:a"}]},
    {"type": 5, "entry": [{"fullUrl": "urn:uuid:a"}]},
    {"_type": {"id": "t"}, "entry": [{"request": _REQUEST}]},
    {"type": "transaction", "entry": [{"_request": {"id": "r"}}]},
    {"type": "transaction", "entry": [{"request": [_REQUEST, _REQUEST]}]},
    {"type": "transaction", "entry": {"fullUrl": "urn:uuid:a", "request": _REQUEST}},
]


@pytest.mark.parametrize("expression", [BDL_3, BDL_4, BDL_7])
@pytest.mark.parametrize("how", _BUNDLE_SHAPES)
def test_bundle_rules_answered_at_once_only_as_the_expression_answers(expression: str, how: dict[str, Any]) -> None:
    """bdl-3, bdl-4 and bdl-7 are answered from the Bundle's type and entries where those decide them; every answer,
    so given or not, is the expression's own (the text evaluated as written, and fhirpathpy's)."""
    bundle = {"resourceType": "Bundle", "id": "b", **copy.deepcopy(how)}
    _answered_as_written(expression, bundle, "Bundle", bundle)


def test_the_bundle_rules_judge_a_message_and_a_transaction() -> None:
    """The answers at once, on the shapes every provide has: a message with no request, a transaction with one in
    every entry, entries whose fullUrl differ; and a missing request, a repeated fullUrl, found."""
    scope = EvaluationScope(resolve=lambda _r: None, conforms_to=lambda _r, _u: None, member_of=lambda _v, _s: None)
    engine = InvariantEngine("compiled")

    def answer(text: str, how: dict[str, Any]) -> list[Any]:
        bundle = {"resourceType": "Bundle", **how}
        return engine.evaluate(text, bundle, "Bundle", bundle, bundle, scope)

    message, transaction, broken, repeated = (_BUNDLE_SHAPES[0], _BUNDLE_SHAPES[2], _BUNDLE_SHAPES[3],
                                              _BUNDLE_SHAPES[8])
    assert [answer(BDL_3, how) for how in (message, transaction, broken)] == [[True], [True], [False]]
    assert [answer(BDL_4, how) for how in (message, transaction)] == [[True], [True]]
    assert [answer(BDL_7, how) for how in (message, transaction, repeated)] == [[True], [True], [False]]


def _objects_below(item: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """``object_children`` taken again from each object it gives, as dom-3's answer at once walks."""
    found: list[tuple[Any, ...]] = []
    pending = [item]
    while pending:
        for child in object_children(pending.pop()):
            found.append(child)
            pending.append(child)
    return found


def test_the_objects_below_a_resource_are_among_its_descendants(packages: PackageRegistry) -> None:
    """``object_children``, taken again from each object it gives (what dom-3 is answered from at once), gives the
    same items ``descendants()`` gives for the objects of every official example, and of the malformed shapes above,
    and nothing else."""
    resources = [resource for package in packages.all_packages() for _name, resource in package.examples()]
    resources += [_referring(how) for how in _DOM_3_SHAPES]
    assert len(resources) > 100
    descendants = compile_expression("descendants()")
    for resource in resources:
        focus = item_of(resource, None)
        expected = [item for item in _descendants(focus) if type(item[0]) is dict]
        assert [id(item[0]) for item in expected] == [id(value) for value in descendants(focus, focus, focus)
                                                      if type(value) is dict]
        assert sorted(map(_identity, _objects_below(focus))) == sorted(map(_identity, expected))


def _descendants(item: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """``descendants()``'s items: the children of ``item``, each followed by its own."""
    out = []
    for child in children_of(item):
        out.append(child)
        out.extend(_descendants(child))
    return out


def _identity(item: tuple[Any, ...]) -> tuple[int, str, str]:
    return id(item[0]), str(item[1]), str(item[2])


def _answer(engine: InvariantEngine, expression: str, resource: dict[str, Any]) -> list[Any] | str:
    try:
        return _fhirpathpy(engine, expression, resource)
    except Exception:  # an expression that cannot be evaluated on this shape: "not checked", whichever engine
        return "error"


def test_three_valued_logic() -> None:
    focus = item_of({"resourceType": "Patient"}, None)
    assert compile_expression("{} and false")(focus, focus, focus) == [False]
    assert compile_expression("{} and true")(focus, focus, focus) == []
    assert compile_expression("{} or true")(focus, focus, focus) == [True]
    assert compile_expression("false implies {}")(focus, focus, focus) == [True]
    assert compile_expression("true implies {}")(focus, focus, focus) == []


def test_singleton_errors_and_unknown_functions() -> None:
    focus = item_of(copy.deepcopy(OBSERVATION), None)
    with pytest.raises(FhirPathError):
        compile_expression("note.text = 'a'")(focus, focus, focus) and compile_expression(
            "note.text.startsWith('a')")(focus, focus, focus)
    with pytest.raises(Unsupported):
        compile_expression("status.noSuchFunction()")


def test_primitive_value_step_reads_the_primitive(validator: Validator) -> None:
    """dk-core puts ``value.matches(...)`` on ``Identifier.value`` itself: ``value`` is the primitive."""
    engine = InvariantEngine()
    scope = EvaluationScope(resolve=lambda _r: None, conforms_to=lambda _r, _u: None, member_of=lambda _v, _s: None)
    assert engine.evaluate("value.matches('^[0-9]{10}$')", "2509479989", "string", {}, {}, scope) == [True]
    assert engine.evaluate("value.matches('^[0-9]{10}$')", "25094799AB", "string", {}, {}, scope) == [False]


def test_narrative_checks_split_by_constraint() -> None:
    ok = '<div xmlns="http://www.w3.org/1999/xhtml"><p>Blodtryk <b>138/82</b></p></div>'
    assert narrative_problems(ok, "txt-1") == [] and narrative_problems(ok, "txt-2") == []
    empty = '<div xmlns="http://www.w3.org/1999/xhtml"> <p>  </p> </div>'
    assert narrative_problems(empty, "txt-1") == []
    assert narrative_problems(empty, "txt-2") == ["the narrative has no non-whitespace content"]
    script = '<div xmlns="http://www.w3.org/1999/xhtml"><p onclick="x()">a</p><script>x()</script></div>'
    problems = narrative_problems(script, "txt-1")
    assert any("onclick" in p for p in problems) and any("<script>" in p for p in problems)


def test_narrative_answers_are_kept_by_text_and_belong_to_the_caller() -> None:
    div = '<div xmlns="http://www.w3.org/1999/xhtml"><p>Puls</p><script>x()</script></div>'
    markup, content = narrative_checks(div)
    assert markup == ["element <script> is not allowed in narrative"] and content == []
    markup.append("changed by the caller")
    content.append("changed by the caller")
    again = narrative_checks("".join(list(div)))  # an equal string, another object
    assert again == (["element <script> is not allowed in narrative"], [])
    assert narrative_problems(div, "txt-2") == []
    assert narrative_problems("<div>not xhtml", "txt-1")
    image = '<div xmlns="http://www.w3.org/1999/xhtml"><img src="#a" alt=""/></div>'
    assert narrative_problems(image, "txt-2") == []


def test_both_engines_find_the_same_invariant_issues(packages: PackageRegistry) -> None:
    """Every constraint the examples exercise gives the same verdict in both engines.

    Where fhirpathpy cannot evaluate an expression (it reports "not checked"), the compiled engine
    may: those are compared only one way — the compiled engine never leaves more unchecked.
    """
    fast = Validator(packages, base_structure=False)
    slow = Validator(packages, base_structure=False)
    slow.invariants = InvariantEngine("fhirpathpy")
    compared = 0
    for name in ("medcom.fhir.dk.homecareobservation", "medcom.fhir.dk.conditionlist", "medcom.fhir.dk.notes",
                 "medcom.fhir.dk.acknowledgement", "medcom.fhir.dk.document"):
        for package in packages.versions(name):
            for _filename, resource in package.examples():
                def invariants(v: Validator, r: dict[str, Any] = resource, p: Any = package) -> set[Any]:
                    return {(i.severity, i.expression, i.rule) for i in v.validate(r, package=p)
                            if (i.rule or "").startswith("invariant:")}
                found, reference = invariants(fast), invariants(slow)
                unchecked = {(i[1], i[2]) for i in reference if i[0] == "information"}
                assert {(i[1], i[2]) for i in found if i[0] == "information"} <= unchecked, _filename
                assert {i for i in found if (i[1], i[2]) not in unchecked} == \
                    {i for i in reference if (i[1], i[2]) not in unchecked}, f"{package.id} {_filename}"
                compared += 1
    assert compared > 100


def test_every_constraint_of_the_packages_compiles_natively(packages: PackageRegistry) -> None:
    expressions = set()
    for package, entry in packages.iter_resources("StructureDefinition"):
        for element in (package.load(entry.filename).get("snapshot") or {}).get("element", []):
            for constraint in element.get("constraint", []):
                if constraint.get("expression"):
                    expressions.add(constraint["expression"])
    assert len(expressions) > 200
    unsupported = []
    for expression in sorted(expressions):
        try:
            compile_expression(expression)
        except Unsupported as exc:
            unsupported.append(f"{expression}: {exc}")
    assert unsupported == []


@pytest.mark.parametrize("expression, expected", [
    ("'\u0661\u0662'.matches('^\\\\d+$')", [False]),  # Arabic-Indic digits: the specification's '\d' is ASCII
    ("'12'.matches('^\\\\d+$')", [True]),
    ("'a\u00a0b'.matches('^\\\\S+$')", [True]),  # a no-break space is no ASCII whitespace
    ("'\u0661\u0662'.toInteger()", []), ("'-12'.toInteger()", [-12]),
])
def test_fhirpath_regexes_and_integers_read_ascii_classes(expression: str, expected: list[Any]) -> None:
    focus = item_of(copy.deepcopy(OBSERVATION), None)
    assert compile_expression(expression)(focus, focus, focus) == expected
