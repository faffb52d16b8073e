"""JSON from outside is read strictly, in one place: duplicate keys and deep nesting are refused with
400 naming why, on every face that reads a FHIR body, and never answer 500."""

from __future__ import annotations

import json
import random

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sts_client import SOURCE_SYSTEM, auth

from nsp_sandbox.conformance import strict_json

DEEP = b'{"resourceType":"Bundle","x":' + b"[" * 10_000 + b"]" * 10_000 + b"}"
DUPLICATE = (b'{"resourceType":"Patient","identifier":[{"system":"urn:oid:1.2.208.176.1.2",'
             b'"value":"2509479989","value":"0101701234"}]}')
FHIR = {"Content-Type": "application/fhir+json"}


def test_duplicate_keys_are_refused_naming_the_key() -> None:
    with pytest.raises(strict_json.JsonRefused) as refused:
        strict_json.loads(DUPLICATE)
    assert refused.value.rule == "json-duplicate-key" and "'value'" in str(refused.value)


def test_the_same_key_in_different_objects_is_fine() -> None:
    assert strict_json.loads(b'{"a":{"value":1},"b":{"value":2}}') == {"a": {"value": 1}, "b": {"value": 2}}


@pytest.mark.parametrize("depth, refused", [(strict_json.MAX_DEPTH, False), (strict_json.MAX_DEPTH + 1, True),
                                            (10_000, True), (100_000, True)])
def test_nesting_is_bounded(depth: int, refused: bool) -> None:
    raw = b"[" * depth + b"]" * depth
    if refused:
        with pytest.raises(strict_json.JsonRefused) as caught:
            strict_json.loads(raw)
        assert caught.value.rule == "json-depth"
    else:
        strict_json.loads(raw)


def test_syntax_errors_keep_their_rule() -> None:
    with pytest.raises(strict_json.JsonRefused) as refused:
        strict_json.loads(b'{"resourceType":')
    assert refused.value.rule == "json-syntax"


@pytest.mark.parametrize("raw", [b'{"valueDecimal": NaN}', b'[Infinity]', b'{"a": [1, -Infinity]}',
                                 b'{"valueDecimal": 1e400}', b'[-2.5E+309]'])
def test_numbers_json_does_not_have_are_refused(raw: bytes) -> None:
    """Python's reader takes NaN and Infinity, and makes infinity of a number beyond a double; JSON has neither
    (RFC 8259 §6), and a value read as infinity would be written back as no JSON at all."""
    for body in (raw, raw.decode()):
        with pytest.raises(strict_json.JsonRefused) as refused:
            strict_json.loads(body)
        assert refused.value.rule == "json-syntax" and "not a JSON number" in str(refused.value)


def test_an_integer_longer_than_int_reads_is_refused_not_raised() -> None:
    """``int()`` refuses more than ``sys.get_int_max_str_digits()`` digits (4,300) with a bare ValueError."""
    for raw in (b"[" + b"7" * 5000 + b"]", '{"valueInteger": -' + "7" * 5000 + "}"):
        with pytest.raises(strict_json.JsonRefused) as refused:
            strict_json.loads(raw)
        assert refused.value.rule == "json-syntax" and "digits" in str(refused.value)
    assert strict_json.loads(b"[" + b"7" * 4000 + b"]") == [int("7" * 4000)]


def test_numbers_at_the_edges_of_a_double_are_read() -> None:
    assert strict_json.loads(b'[1.7976931348623157e308, 5e-324, 1e-400, -0.0, 1E5, 0.1]') == [
        1.7976931348623157e308, 5e-324, 0.0, -0.0, 100000.0, 0.1]


@pytest.mark.parametrize("raw, key", [
    (b'{"a": 1, "a": 1}', "a"),
    (b'{"k\\"ey,": 1, "x": [{"b": 1, "c": ",\\"b\\":"}], "k\\"ey,": 2}', 'k"ey,'),
    (b'[{"x": "a,", "y": 1, "y": 2}]', "y"),
    (b'{"big": 123456789012345678901234567890, "d": 1, "d": 2}', "d"),
])
def test_a_duplicate_is_refused_wherever_it_hides(raw: bytes, key: str) -> None:
    for body in (raw, raw.decode()):
        with pytest.raises(strict_json.JsonRefused) as refused:
            strict_json.loads(body)
        assert refused.value.rule == "json-duplicate-key" and f"'{key}'" in str(refused.value)


def test_random_bodies_read_as_json_reads_them_and_every_duplicate_is_found() -> None:
    """Random nested objects with strings full of JSON's own punctuation, read as they are and with one key
    of one object doubled."""
    rng = random.Random(16)
    pieces = ['"', "\\", ",", "{", "}", "[", "]", ":", " ", "æ", "\n", "a", "1"]

    def text() -> str:
        return "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))

    def value(depth: int) -> object:
        kind = rng.randint(0, 6 if depth < 5 else 3)
        if kind == 0:
            return text()
        if kind == 1:
            return rng.choice([0, -1, 2**31, 10**18, 1.5, -0.25, 1e-7, True, False, None])
        if kind in (2, 3):
            return text() + text()
        if kind == 4:
            return [value(depth + 1) for _ in range(rng.randint(0, 4))]
        return {text() + str(n): value(depth + 1) for n in range(rng.randint(0, 5))}

    for _ in range(400):
        document = {"resourceType": text(), "x": value(0), "y": [value(1), value(1)]}
        raw = json.dumps(document, indent=rng.choice([None, 1]), ensure_ascii=rng.random() < 0.5)
        assert strict_json.loads(raw.encode()) == document
        doubled = raw.replace('"resourceType"', '"resourceType": 0, "resourceType"', 1)
        with pytest.raises(strict_json.JsonRefused):
            strict_json.loads(doubled.encode())


def _outcome(read: object, raw: bytes) -> tuple[str, str]:
    """What a reader made of ``raw``: its value written as JSON (telling ints, floats and key order apart), or its
    refusal's rule and text."""
    try:
        value = read(raw)  # type: ignore[operator]
    except strict_json.JsonRefused as refused:
        return refused.rule, str(refused)
    return "read", json.dumps(value)


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20)
# What breaks JSON, or reads differently from one reader to the next: numbers JSON does not have, numbers beyond a
# double or beyond int's digits, a lone surrogate's escape (Python's reader takes it), raw control characters,
# a byte-order mark, a no-break space between tokens, and JSON's own punctuation.
_TROUBLE = st.sampled_from([
    b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-2.5E+309", b"1e-400", b"-0", b"-0.0", b"01", b"1.", b".5", b"+1",
    b"1" * 4301, b"9" * 400, b"9" * 400 + b".5", b'"\\ud800"', b'"\\udc00\\ud800"', b'"\\ud83d\\ude00"',
    b"\x01", b"\x00", b"\x7f", b"\xef\xbb\xbf", b"\xc2\xa0", b"\xed\xa0\x80", b"\xff", b'"', b"\\", b",", b":",
    b"{", b"}", b"[", b"]", b" ", b"\t", b"\n", b"true", b"nul", b'"a":1,"a":2', b"[" * 150, b"]" * 150,
])


@settings(max_examples=3000, deadline=None)
@given(value=_JSON_VALUES, ascii_only=st.booleans(), indent=st.sampled_from([None, 1]),
       edits=st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=3), _TROUBLE),
                      max_size=3),
       encoding=st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-16", "utf-32-le"]), doubled=st.booleans())
def test_any_body_is_read_as_python_s_reader_reads_it(value: object, ascii_only: bool, indent: int | None,
                                                      edits: list[tuple[int, int, bytes]], encoding: str,
                                                      doubled: bool) -> None:
    """The fast reader's answer is Python's reader's, for any body: the same value (types and key order too), or the
    same refusal, in the same words."""
    text = json.dumps({"resourceType": "Bundle", "entry": value}, ensure_ascii=ascii_only, indent=indent)
    if doubled:
        text = '{"x": 0, "x": 0, ' + text[1:]
    raw = text.encode(encoding, "surrogatepass")
    for at, removed, inserted in edits:
        at %= len(raw) + 1
        raw = raw[:at] + inserted + raw[at + removed:]
    assert _outcome(strict_json.loads, raw) == _outcome(strict_json.python_loads, raw)


def test_a_body_at_the_fast_reader_s_bounds_is_read_again_by_python_s() -> None:
    """Taken by the fast reader but beyond the bounds (deeper than MAX_DEPTH, a number read as infinity): refused
    as Python's reader refuses it."""
    for raw, rule in ((b"[" * 150 + b"]" * 150, "json-depth"), (b'{"a": [1e400]}', "json-syntax"),
                      (b"-1e999", "json-syntax")):
        assert _outcome(strict_json.loads, raw)[0] == rule
        assert _outcome(strict_json.loads, raw) == _outcome(strict_json.python_loads, raw)


@pytest.mark.parametrize("path", ["/dds/fhir", "/eoj/messages", "/lps/ehmi", "/conformance/$validate"])
@pytest.mark.parametrize("body, rule", [(DEEP, "json-depth"), (DUPLICATE, "json-duplicate-key"),
                                        (b'{"resourceType":"Bundle","total":NaN}', "json-syntax"),
                                        (b'{"resourceType":"Bundle","total":' + b"1" * 5000 + b"}", "json-syntax")])
def test_every_fhir_face_refuses_them_with_400(client: TestClient, path: str, body: bytes, rule: str) -> None:
    response = client.post(path, content=body, headers={**FHIR, **auth(client, SOURCE_SYSTEM, ["dds", "eoj"])})
    assert response.status_code == 400, response.text
    issue = response.json()["issue"][0]
    assert issue["details"]["coding"][0]["code"] == rule
    if rule == "json-duplicate-key":
        assert "'value'" in issue["diagnostics"]


@pytest.mark.parametrize("body, rule", [(DEEP, "json-depth"), (DUPLICATE, "json-duplicate-key"),
                                        (b'{"resourceType":"Patient","x":' + b"1" * 5000 + b"}", "json-syntax")])
def test_the_validators_own_reader_is_the_same(validator, body: bytes, rule: str) -> None:  # type: ignore[no-untyped-def]
    """``nsp-sandbox validate`` and the library's ``Validator.validate_bytes`` judge a file as DDS judges a body."""
    (issue,) = validator.validate_bytes(body, "application/fhir+json")
    assert issue.severity == "fatal" and issue.rule == rule
