"""Whole numbers from outside are ASCII digits, and text that is not one is told apart before ``int()``."""

from __future__ import annotations

import sys

import pytest

from nsp_sandbox.digits import all_digits, whole_number


@pytest.mark.parametrize("text, number", [
    ("0", 0), ("42", 42), ("007", 7), ("9" * 30, int("9" * 30)),
    ("", None), (" 1", None), ("1 ", None), ("+1", None), ("-1", None), ("1_000", None), ("1.0", None),
    ("\u00b2", None),  # '²': str.isdigit() says yes, int() refuses it
    ("\u0661\u0662", None),  # Arabic-Indic '١٢': int() reads it as 12
    ("\uff11", None),  # a fullwidth '１'
])
def test_whole_numbers_are_ascii_digits(text: str, number: int | None) -> None:
    assert whole_number(text) == number
    assert all_digits(text) is (number is not None)


def test_more_digits_than_int_reads_are_no_number() -> None:
    limit = sys.get_int_max_str_digits()
    assert whole_number("1" * limit) == int("1" * limit)
    assert whole_number("1" * (limit + 1)) is None
    assert all_digits("1" * (limit + 1))
