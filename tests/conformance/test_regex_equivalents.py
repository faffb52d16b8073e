"""A primitive type's faster matcher says what its regex says, on every string (``regex_equivalents``)."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nsp_sandbox.conformance.regex_equivalents import (
    BASE64_BINARY,
    ID,
    PROFILE_REGEX_FLAGS,
    STRING,
    URI,
    Base64Binary,
    IdCharacters,
    NotEmptyNoOddWhitespace,
    NoWhitespace,
    Remembered,
)
from nsp_sandbox.conformance.validator import Validator

REGEX = re.compile(BASE64_BINARY, PROFILE_REGEX_FLAGS)
FAST = Base64Binary()
# The alphabet, ASCII whitespace, what re reads as whitespace in a Unicode pattern and Java does not (the file
# separators, NEL, no-break and em spaces), and others.
PIECES = st.sampled_from(["A", "z", "0", "+", "/", "=", "AAAA", "QUJD", "====", " ", "\n", "\t", "\r\n", "\x1c",
                          "\x85", "\xa0", "\u2003", "-", "_", ".", "é", "\x00", "AB", "ABC", "  "])


@given(st.lists(PIECES, max_size=40).map("".join))
@settings(max_examples=3000, deadline=None)
def test_base64binary_matches_as_its_regex(value: str) -> None:
    assert FAST.fullmatch(value) == bool(REGEX.fullmatch(value)), repr(value)


@pytest.mark.parametrize("value", [
    "", " ", "AAA", "AAAA", " AAAA ", "AAAA AAAA", "AA AA", "AAAA\nAAA=", "AAAAA", "AA==", "A===", "QUJD\u2003RA==",
    base64.encodebytes(bytes(range(256)) * 4).decode(), base64.b64encode(bytes(3000)).decode(), "AAAA-AAA",
])
def test_base64binary_examples(value: str) -> None:
    assert FAST.fullmatch(value) == bool(REGEX.fullmatch(value)), repr(value)


# Every kind of character the three classes tell apart: ASCII whitespace (each of the six), whitespace re reads in a
# Unicode pattern and Java does not, other controls, the id's own punctuation, letters and digits beyond ASCII
# (which isalnum takes), a lone surrogate, and long runs for the id's 64.
TEXT_PIECES = st.sampled_from([" ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\xa0", "\u2003",
                               "\x00", "\x7f", "-", ".", "_", "a", "Z", "0", "9", "é", "²", "٣", "\ud800", "urn:uuid:",
                               "a" * 30, "0-" * 16, "%20", "/"])


@pytest.mark.parametrize(("regex", "fast"), [(URI, NoWhitespace()), (STRING, NotEmptyNoOddWhitespace()),
                                             (ID, IdCharacters())], ids=["uri", "string", "id"])
@given(value=st.one_of(st.lists(TEXT_PIECES, max_size=12).map("".join), st.text(max_size=70)))
@settings(max_examples=3000, deadline=None)
def test_uri_string_and_id_match_as_their_regexes(regex: str, fast: Any, value: str) -> None:
    assert fast.fullmatch(value) == bool(re.compile(regex, PROFILE_REGEX_FLAGS).fullmatch(value)), repr(value)


@pytest.mark.parametrize("value", ["", "a" * 64, "a" * 65, "-", ".", "a-b.c", "a_b", "é", "²", "abc ", "\x0b", "x\x0c"])
def test_uri_string_and_id_examples(value: str) -> None:
    for regex, fast in ((URI, NoWhitespace()), (STRING, NotEmptyNoOddWhitespace()), (ID, IdCharacters())):
        assert fast.fullmatch(value) == bool(re.compile(regex, PROFILE_REGEX_FLAGS).fullmatch(value)), (regex, value)


@pytest.mark.parametrize(("code", "kind"), [("base64Binary", Base64Binary), ("string", NotEmptyNoOddWhitespace),
                                            ("markdown", NotEmptyNoOddWhitespace), ("uri", NoWhitespace),
                                            ("url", NoWhitespace), ("canonical", NoWhitespace), ("id", IdCharacters)])
def test_the_core_package_s_regexes_get_the_faster_matchers(validator: Validator, code: str, kind: type) -> None:
    """The equivalent is chosen by the regex's exact text: the core package's regex must be that text."""
    matcher = validator.structures.primitive_regex(code)
    assert isinstance(matcher, Remembered) and isinstance(matcher.inner, kind)


def test_a_regex_without_an_equivalent_keeps_the_regex(validator: Validator) -> None:
    date_time = validator.structures.primitive_regex("dateTime")
    assert isinstance(date_time, Remembered) and isinstance(date_time.inner, re.Pattern)


DATE_TIME = re.compile(r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)"
                       r"(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])"
                       r"(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?"
                       r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?")


@given(st.lists(st.sampled_from(["2026", "-", "12", "06", "T", "10:00:00", "Z", "+01:00", "x", "", "0"]),
                max_size=8).map("".join), st.integers(0, 3))
@settings(max_examples=2000, deadline=None)
def test_a_remembered_matcher_answers_as_its_regex_the_first_time_and_every_time_after(value: str, asked: int) -> None:
    remembered = Remembered(DATE_TIME)
    for _ in range(asked + 1):
        assert remembered.fullmatch(value) == bool(DATE_TIME.fullmatch(value)), repr(value)


def test_a_remembered_matcher_keeps_only_accepted_short_values_and_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    class Counting:
        pattern = "[a-z]+"

        def fullmatch(self, value: str) -> bool:
            calls.append(value)
            return re.fullmatch("[a-z]+", value) is not None

    monkeypatch.setattr("nsp_sandbox.conformance.regex_equivalents.REMEMBERED_VALUES", 3)
    remembered = Remembered(Counting())
    long_value = "a" * 513
    for value in ["abc", "abc", "ABC", "ABC", long_value, long_value]:
        remembered.fullmatch(value)
    assert calls == ["abc", "ABC", "ABC", long_value, long_value]  # accepted and short: matched once
    for value in ["d", "e", "f", "abc"]:  # the fourth value fills it: all are forgotten, then "f" is kept
        remembered.fullmatch(value)
    assert calls[-4:] == ["d", "e", "f", "abc"]
    calls.clear()
    remembered.fullmatch("f")
    remembered.fullmatch("d")
    assert calls == ["d"]
