"""Danish presentation of FHIR values: dates and times in Danish time, numbers with a decimal comma."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

try:
    from zoneinfo import ZoneInfo

    DANISH_TIME: tzinfo = ZoneInfo("Europe/Copenhagen")
except Exception:  # no time zone database on this machine: show UTC and say so
    DANISH_TIME = UTC


def instant(value: str | None) -> datetime | None:
    """A FHIR date, dateTime or instant as an aware datetime (a date alone: midnight, Danish time)."""
    if not value:
        return None
    try:
        if len(value) == 10:
            return datetime.fromisoformat(value).replace(tzinfo=DANISH_TIME)
        if len(value) in (4, 7):  # a year, or a year and month
            parts = [int(p) for p in value.split("-")] + [1, 1]
            return datetime(parts[0], parts[1], parts[2] if len(parts) > 2 else 1, tzinfo=DANISH_TIME)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=DANISH_TIME)


def date_time(value: str | None) -> str:
    """``12.12.2026 kl. 14:50`` (Danish time); a date-only value as ``06.05.2024``; ``-`` when absent."""
    if not value:
        return "-"
    moment = instant(value)
    if moment is None:
        return value
    if len(value) <= 10:
        return moment.strftime("%d.%m.%Y") if len(value) == 10 else value
    return moment.astimezone(DANISH_TIME).strftime("%d.%m.%Y kl. %H:%M")


def date_only(value: str | None) -> str:
    moment = instant(value)
    return moment.astimezone(DANISH_TIME).strftime("%d.%m.%Y") if moment else (value or "-")


def number(value: Any) -> str:
    """A result value the Danish way: ``6,8``; text as it is."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int | float):
        text = f"{value:g}" if isinstance(value, float) else str(value)
        return text.replace(".", ",")
    return str(value)


def sort_key(value: str | None) -> float:
    moment = instant(value)
    return moment.timestamp() if moment else 0.0


ACTIVITIES = {"ITI-67 Find Document References": "Søgte i de delte dokumenter",
              "ITI-68 Retrieve Document": "Åbnede et dokument",
              "ITI-66 Find Document Lists": "Søgte i indsendelser",
              "Read DocumentReference": "Læste et dokuments beskrivelse"}


def activity(value: str | None) -> str:
    """A Min Log activity in plain Danish (the technical name when there is none)."""
    return ACTIVITIES.get(value or "", value or "-")
