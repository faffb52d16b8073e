"""CPR numbers: the Danish civil registration number (CPR-nummer) every Danish patient is known by.

A CPR number is ten digits ``DDMMYYSSSS``: the birth date (day, month, two-digit year) followed by
a four-digit serial number. The first serial digit (the 7th digit overall) fixes the birth century
together with the year (CPR-kontoret, "Personnummeret i CPR"):

* 7th digit 0–3: born 1900–1999;
* 7th digit 4 or 9: year 00–36 → 2000–2036, year 37–99 → 1937–1999;
* 7th digit 5–8: year 00–57 → 2000–2057, year 58–99 → 1858–1899.

There is deliberately **no modulus-11 check**: CPR numbers that fail it have been issued since
2007, when the numbers that pass it ran out for some birth dates.

In FHIR a CPR number is an ``Identifier`` with system ``urn:oid:1.2.208.176.1.2``.

A citizen without a CPR number (a foreigner, an unconscious patient) gets a replacement number, an
**eCPR** (x-eCPR, "erstatningspersonnummer") from the national eCPR register: ``DDMMYY`` + ``1`` or
``7`` + two capital letters + a digit, with system ``urn:oid:1.2.208.176.1.6.1.1``. It carries a
birth date like a CPR number but is never a CPR number: DDS cannot register documents on it.

The gender a CPR number records is its last digit: odd for a man, even for a woman.

This module is the one place these rules are written; every actor uses it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from nsp_sandbox.digits import all_digits

# The CPR register's OID, as FHIR identifier system (dk-core ``dk-core-cpr-identifier``).
CPR_SYSTEM = "urn:oid:1.2.208.176.1.2"
# The national eCPR register's replacement numbers (dk-core ``x-ecpr`` identifier system).
ECPR_SYSTEM = "urn:oid:1.2.208.176.1.6.1.1"
PATIENT_ID_SYSTEMS = (CPR_SYSTEM, ECPR_SYSTEM)

ECPR_PATTERN = re.compile(r"^(0[1-9]|[12]\d|3[01])(0[1-9]|1[0-2])\d{2}[17][A-Z]{2}\d\Z", re.ASCII)


class InvalidCpr(ValueError):
    """A value that is not a CPR number; the message says what is wrong with it."""


@dataclass(frozen=True)
class Cpr:
    """A well-formed CPR number and the birth date it encodes."""

    number: str
    birth_date: date


def birth_year(two_digit_year: int, seventh_digit: int) -> int:
    """The four-digit birth year from the year digits (``YY``) and the 7th digit of a CPR number."""
    if not (0 <= two_digit_year <= 99 and 0 <= seventh_digit <= 9):
        raise ValueError("year must be 0–99 and the 7th digit 0–9")
    if seventh_digit <= 3:
        century = 1900
    elif seventh_digit in (4, 9):
        century = 2000 if two_digit_year <= 36 else 1900
    else:  # 5, 6, 7, 8
        century = 2000 if two_digit_year <= 57 else 1800
    return century + two_digit_year


def parse_cpr(value: object) -> Cpr:
    """The CPR number in ``value``, or :class:`InvalidCpr` naming the problem.

    ``value`` must be exactly ten digits (no hyphen, no spaces) whose first six are a real calendar
    date once the century rule above has been applied.
    """
    if not isinstance(value, str):
        raise InvalidCpr(f"a CPR number is a string of 10 digits, not {type(value).__name__}")
    if len(value) == 11 and value[6] == "-" and (value[:6] + value[7:]).isdigit():
        raise InvalidCpr(f"'{value}' has a hyphen; a CPR number is sent as 10 digits without one")
    if not value:
        raise InvalidCpr("the CPR number is empty; a CPR number is 10 digits")
    if not all_digits(value):
        raise InvalidCpr(f"'{value}' is not a CPR number: it contains characters other than digits; "
                         "a CPR number is 10 digits")
    if len(value) != 10:
        raise InvalidCpr(f"'{value}' is not a CPR number: it has {len(value)} digits, not 10")
    day, month, year = int(value[0:2]), int(value[2:4]), int(value[4:6])
    full_year = birth_year(year, int(value[6]))
    try:
        born = date(full_year, month, day)
    except ValueError:
        raise InvalidCpr(
            f"'{value}' is not a CPR number: {value[0:2]}-{value[2:4]}-{full_year} (day-month-year, "
            f"century from the 7th digit {value[6]}) is not a calendar date") from None
    return Cpr(value, born)


def cpr_problem(value: object) -> str | None:
    """None when ``value`` is a CPR number, otherwise what is wrong with it."""
    try:
        parse_cpr(value)
    except InvalidCpr as exc:
        return str(exc)
    return None


def is_cpr(value: object) -> bool:
    """Whether ``value`` is a well-formed CPR number (10 digits, a real birth date)."""
    return cpr_problem(value) is None


def is_ecpr(value: object) -> bool:
    """Whether ``value`` has the form of an eCPR (replacement) number: DDMMYY + 1|7 + two letters + digit."""
    return isinstance(value, str) and ECPR_PATTERN.match(value) is not None


def birth_date(value: str) -> date | None:
    """The birth date a CPR or eCPR number encodes, or None when it encodes none."""
    if is_ecpr(value):
        try:
            return date(birth_year(int(value[4:6]), int(value[6])), int(value[2:4]), int(value[0:2]))
        except ValueError:
            return None
    try:
        return parse_cpr(value).birth_date
    except InvalidCpr:
        return None


def gender(value: str) -> str:
    """The gender a CPR number records: an odd last digit is ``male``, an even one ``female``."""
    return "male" if all_digits(value[-1:]) and int(value[-1]) % 2 else "female"


def age_at(value: str, today: date) -> int | None:
    """Completed years at ``today`` of the person a CPR/eCPR number names; None without a birth date."""
    born = birth_date(value)
    if born is None:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def patient_number(identifiers: list[dict[str, object]]) -> str:
    """The CPR number among FHIR ``identifier`` values, else the eCPR, else ``""``."""
    found = {i.get("system"): i.get("value") for i in identifiers if isinstance(i, dict)}
    value = found.get(CPR_SYSTEM) or found.get(ECPR_SYSTEM) or ""
    return value if isinstance(value, str) else ""
