"""FHIRPath equality of single values (``=``), with dates and times compared by instant and
precision, and ``distinct`` collections built on it.
"""

from __future__ import annotations

import re
from datetime import UTC
from decimal import Decimal
from typing import Any, Final

from nsp_sandbox.conformance.fhirpath.values import Item


def equal_values(a: Item, b: Item) -> bool | None:
    """FHIRPath ``=`` of two single items: True, False, or None (unknown: dates of different precision)."""
    x, y = a[0], b[0]
    if type(x) is str and type(y) is str and not (is_temporal(a) or is_temporal(b)):
        return x == y
    if isinstance(x, bool) or isinstance(y, bool):
        return x is y if isinstance(x, bool) and isinstance(y, bool) else False
    if isinstance(x, (int, float, Decimal)) and isinstance(y, (int, float, Decimal)):
        return Decimal(str(x)) == Decimal(str(y))
    if isinstance(x, str) and isinstance(y, str):
        if is_temporal(a) or is_temporal(b):
            return _temporal_equal(x, y)
        return x == y
    return bool(x == y)


def is_temporal(item: Item) -> bool:
    """Is the item a date, dateTime, instant or time (compared as moments, not text)?"""
    return item[1] in ("date", "dateTime", "instant", "time", "System.Date", "System.DateTime")


_DT: Final = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?\Z",
    re.ASCII)


def temporal_key(text: str) -> tuple[int, Any] | None:
    """(precision, comparable value) of a FHIR date / dateTime / instant; None when not one."""
    from datetime import datetime, timedelta, timezone

    m = _DT.match(text)
    if not m:
        return None
    year, month, day, hour, minute, second, frac, tz = m.groups()
    if hour is None:
        parts = [int(p) for p in (year, month, day) if p is not None]
        return len(parts), tuple(parts)
    offset = UTC
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        offset = timezone(sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6])))
    moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0),
                      int(float(frac or 0) * 1_000_000), tzinfo=offset)
    precision = 6 if second is not None else 5
    return precision, moment.astimezone(UTC)


def _temporal_equal(x: str, y: str) -> bool | None:
    kx, ky = temporal_key(x), temporal_key(y)
    if kx is None or ky is None:
        return x == y
    if kx[0] != ky[0] and (kx[0] < 4 or ky[0] < 4):
        return None
    return kx[1] == ky[1]


def distinct(items: list[Item]) -> list[Item]:
    """The items without repeats (by FHIRPath equality), first occurrence kept, order kept."""
    if all(type(i[0]) is str and not is_temporal(i) for i in items):
        seen: dict[str, Item] = {}
        for item in items:
            seen.setdefault(item[0], item)
        return list(seen.values())
    out: list[Item] = []
    for item in items:
        if not any(equal_values(item, seen) is True for seen in out):
            out.append(item)
    return out
