"""A primitive type's faster matcher says what its regex says, on every string (``regex_equivalents``)."""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nsp_sandbox.conformance.regex_equivalents import BASE64_BINARY, Base64Binary
from nsp_sandbox.conformance.validator import Validator

REGEX = re.compile(BASE64_BINARY)
FAST = Base64Binary()
# The alphabet, whitespace as re reads it (ASCII, the file separators, NEL, no-break and em spaces), and others.
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


def test_the_core_package_s_base64binary_regex_gets_the_faster_matcher(validator: Validator) -> None:
    """The equivalent is chosen by the regex's exact text: the core package's regex must be that text."""
    structures = validator.structures
    assert isinstance(structures.primitive_regex("base64Binary"), Base64Binary)
    assert isinstance(structures.primitive_regex("string"), re.Pattern)
