"""``xsd:dateTime`` values as DGWS messages carry them (``2019-05-28T08:07:31Z``; the HSUID
capture also has zone-less values, read as UTC)."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_instant(text: str | None) -> datetime | None:
    """The instant ``text`` names (aware, UTC when no zone is given), or ``None`` when unreadable."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def format_instant(moment: datetime) -> str:
    """``moment`` in UTC to the second with a ``Z``, as the STS writes ``Conditions``."""
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
