"""CPR numbers: ten digits, a real birth date with the century from the 7th digit, no modulus-11."""

from __future__ import annotations

from datetime import date

import pytest

from nsp_sandbox.cpr import InvalidCpr, birth_year, cpr_problem, is_cpr, is_ecpr, parse_cpr

MOD11_WEIGHTS = (4, 3, 2, 7, 6, 5, 4, 3, 2, 1)


def passes_modulus_11(number: str) -> bool:
    return sum(int(d) * w for d, w in zip(number, MOD11_WEIGHTS, strict=True)) % 11 == 0


@pytest.mark.parametrize(("number", "born"), [
    ("0602631234", date(1963, 2, 6)),  # the xdsdocuments example patient
    ("0101001234", date(1900, 1, 1)),  # 7th digit 0–3: 1900s
    ("3112993999", date(1999, 12, 31)),
    ("0101364000", date(2036, 1, 1)),  # 7th digit 4, year ≤ 36: 2000s
    ("0101374000", date(1937, 1, 1)),  # 7th digit 4, year ≥ 37: 1900s
    ("0101009000", date(2000, 1, 1)),  # 7th digit 9, year ≤ 36: 2000s
    ("0101579000", date(1957, 1, 1)),  # 7th digit 9, year ≥ 37: 1900s
    ("0101575000", date(2057, 1, 1)),  # 7th digit 5–8, year ≤ 57: 2000s
    ("0101585000", date(1858, 1, 1)),  # 7th digit 5–8, year ≥ 58: 1800s
    ("0101998999", date(1899, 1, 1)),
    ("2902004000", date(2000, 2, 29)),  # 2000 is a leap year
    ("2902965000", date(1896, 2, 29)),  # so is 1896 (7th digit 5, year 96)
])
def test_valid_numbers_and_their_birth_dates(number: str, born: date) -> None:
    cpr = parse_cpr(number)
    assert cpr.number == number
    assert cpr.birth_date == born
    assert is_cpr(number)
    assert cpr_problem(number) is None


def test_modulus_11_is_not_checked() -> None:
    # Numbers failing modulus-11 have been issued since 2007; both must be accepted.
    failing = ["0602631234", "1503801235"]
    for number in failing:
        assert not passes_modulus_11(number)
        assert is_cpr(number)
    assert passes_modulus_11("0707614285") and is_cpr("0707614285")


@pytest.mark.parametrize(("value", "expected"), [
    ("060263123", "9 digits"),
    ("06026312345", "11 digits"),
    ("06O2631234", "characters other than digits"),
    ("06026312AB", "characters other than digits"),
    ("060263-1234", "hyphen"),
    (" 602631234", "characters other than digits"),
    ("", "empty"),
    ("3102631234", "not a calendar date"),  # 31 February 1963
    ("2902001000", "not a calendar date"),  # 29 February 1900 (7th digit 1): 1900 is no leap year
    ("2902975000", "not a calendar date"),  # 29 February 1897
    ("3204631234", "not a calendar date"),
    ("0113631234", "not a calendar date"),  # month 13
    ("0000001234", "not a calendar date"),
    ("٠٦٠٢٦٣١٢٣٤", "characters other than digits"),  # Arabic-Indic digits are not CPR digits
])
def test_invalid_values_name_the_problem(value: str, expected: str) -> None:
    with pytest.raises(InvalidCpr, match=expected):
        parse_cpr(value)
    assert not is_cpr(value)
    problem = cpr_problem(value)
    assert problem is not None and expected in problem


def test_non_string_is_not_a_cpr_number() -> None:
    assert not is_cpr(602631234)
    assert "not int" in (cpr_problem(602631234) or "")


@pytest.mark.parametrize(("year", "seventh", "full"), [
    (0, 0, 1900), (99, 3, 1999),
    (36, 4, 2036), (37, 4, 1937), (36, 9, 2036), (37, 9, 1937),
    (57, 5, 2057), (58, 5, 1858), (0, 8, 2000), (99, 8, 1899),
])
def test_century_rule(year: int, seventh: int, full: int) -> None:
    assert birth_year(year, seventh) == full


def test_century_rule_rejects_out_of_range_digits() -> None:
    with pytest.raises(ValueError):
        birth_year(100, 0)
    with pytest.raises(ValueError):
        birth_year(10, 10)


@pytest.mark.parametrize(("value", "ecpr"), [
    ("0101701AB1", True), ("0101707XY2", True),
    ("0101701AB1\n", False),  # '$' alone lets a pattern match before a final newline
    ("01017\u06611AB1", False),  # an Arabic-Indic '١' is a digit to '\d' without re.ASCII
    ("0101701AB\u0661", False),
])
def test_an_ecpr_is_ascii_and_ends_where_it_ends(value: str, ecpr: bool) -> None:
    assert is_ecpr(value) is ecpr
