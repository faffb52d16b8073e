"""FHIR date, dateTime and instant values as UTC ranges.

A FHIR date value names a range at its precision: ``2026`` is the whole year, ``2026-04-28`` the
whole day, ``2026-04-28T10:15:52+02:00`` one second. Values with a time must carry a time zone
(FHIR R4 dateTime); values without one are read as UTC days, months or years.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from nsp_sandbox.clock import naive_utc

_PATTERN = re.compile(
    r"^(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,9}))?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?\Z",
    re.ASCII,
)


class DateFormatError(ValueError):
    """Not a FHIR date / dateTime, or a time without a time zone."""


def parse_range(value: str) -> tuple[datetime, datetime]:
    """The range [low, high) ``value`` covers, as naive UTC datetimes."""
    match = _PATTERN.match(value.strip())
    if match is None:
        raise DateFormatError(f"'{value}' is not a FHIR date or dateTime (YYYY, YYYY-MM, YYYY-MM-DD or "
                              "YYYY-MM-DDThh:mm[:ss[.fff]] with Z or ±hh:mm)")
    g = match.groupdict()
    try:
        if g["hour"] is None:
            year, month, day = int(g["year"]), int(g["month"] or 1), int(g["day"] or 1)
            low = datetime(year, month, day)
            if g["day"]:
                high = low + timedelta(days=1)
            elif g["month"]:
                high = datetime(year + (month == 12), month % 12 + 1, 1)
            else:
                high = datetime(year + 1, 1, 1)
            return low, high
        if g["tz"] is None:
            raise DateFormatError(f"'{value}' has a time but no time zone (add Z or ±hh:mm)")
        fraction = (g["fraction"] or "")[:6].ljust(6, "0")
        moment = datetime.fromisoformat(
            f"{g['year']}-{g['month']}-{g['day']}T{g['hour']}:{g['minute']}:{g['second'] or '00'}"
            f".{fraction}{'+00:00' if g['tz'] == 'Z' else g['tz']}"
        )
    except ValueError as exc:
        if isinstance(exc, DateFormatError):
            raise
        raise DateFormatError(f"'{value}' is not a valid date: {exc}") from None
    low = naive_utc(moment)
    if g["second"] is None:
        step = timedelta(minutes=1)
    elif g["fraction"] is None:
        step = timedelta(seconds=1)
    else:
        step = timedelta(microseconds=1)
    return low, low + step


def parse_instant(value: object) -> datetime | None:
    """The first instant of a FHIR date / dateTime as an aware UTC datetime, or None if unreadable."""
    if not isinstance(value, str):
        return None
    try:
        low, _ = parse_range(value)
    except DateFormatError:
        return None
    return low.replace(tzinfo=UTC)
