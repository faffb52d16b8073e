"""Dates and instants in NSP's JSON faces: ISO 8601, a bare date meaning the whole day (UTC)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from nsp_sandbox.clock import naive_utc
from nsp_sandbox.outcome import FhirError, Issue


def parse_instant(value: Any, field: str, *, end_of_day: bool = False) -> datetime | None:
    """``value`` as naive UTC; a date is its first (or, with ``end_of_day``, last) moment. 400 if malformed."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad(field, value)
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            start = datetime.combine(day, time())
            return start + timedelta(days=1, microseconds=-1) if end_of_day else start
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _bad(field, value) from None
    if moment.tzinfo is None:
        raise FhirError(400, Issue("error", "invalid", f"'{field}' needs a time zone: {value}", expression=field,
                                   rule="nsp-instant"))
    return naive_utc(moment)


def iso(moment: datetime | None) -> str | None:
    return moment.replace(tzinfo=UTC).isoformat(timespec="seconds") if moment else None


def _bad(field: str, value: Any) -> FhirError:
    return FhirError(400, Issue("error", "invalid", f"'{field}' is not an ISO 8601 date or date-time: {value!r}",
                                expression=field, rule="nsp-instant"))
