"""Whole numbers in text from outside, as the wire formats mean them: ASCII digits ``0``–``9``.

``str.isdigit()`` is also true of ``²`` and of other scripts' digits. ``int()`` refuses some of those
(``int("²")`` raises ``ValueError``), reads others (``int("١٢")`` is 12), and refuses any number of
more than ``sys.get_int_max_str_digits()`` digits (4,300). Text from a request is checked here
first, so a number a client wrote wrongly is refused as such rather than failing inside ``int()``.
"""

from __future__ import annotations

import sys


def all_digits(text: str) -> bool:
    """Whether ``text`` is one or more ASCII digits."""
    return text.isascii() and text.isdigit()


def whole_number(text: str) -> int | None:
    """``text`` as a non-negative integer when it is ASCII digits that ``int()`` reads; else None."""
    limit = sys.get_int_max_str_digits()  # 0: no limit
    if not all_digits(text) or (limit and len(text) > limit):
        return None
    return int(text)
