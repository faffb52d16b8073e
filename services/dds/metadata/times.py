"""XDS times: creationTime, submissionTime (instants) and serviceStart/StopTime (a period).

XDS stores times as UTC ``DTM`` to the second (MD096: creationTime, submissionTime), so a FHIR
dateTime sent for them needs a time to the second and a time zone to be converted without
guessing. serviceStart/StopTime (``context.period``) may be less precise (a date), but a time
always comes with its zone, and the period must not end before it starts.
"""

from __future__ import annotations

from typing import Any

from services.dds.metadata.fhir import FhirDateTime, JsonObject, parse_datetime
from services.dds.metadata.findings import Findings, RuleGroup


def check_instant(findings: Findings, value: Any, *, expression: str, attribute: str, rule: str,
                  source: str) -> None:
    """``value`` is present and a dateTime with date, time to the second and a time zone."""
    if not findings.active(RuleGroup.METADATA):
        return
    if value is None:
        findings.violation(RuleGroup.METADATA, rule=rule, code="required", expression=expression,
                           diagnostics=f"{expression} ({attribute}) is missing; DK XDS requires date, time to "
                                       "the second and time zone",
                           source=source)
        return
    parsed = parse_datetime(value)
    if isinstance(parsed, str):
        problem = parsed
    elif parsed.precision != "time" or not parsed.has_seconds or not parsed.has_zone:
        missing = [what for what, ok in (("time", parsed.precision == "time"),
                                         ("seconds", parsed.has_seconds),
                                         ("time zone", parsed.has_zone)) if not ok]
        problem = f"'{value}' has no {', no '.join(missing)}"
    else:
        return
    findings.violation(RuleGroup.METADATA, rule=rule, code="value", expression=expression,
                       diagnostics=f"{expression} ({attribute}): {problem}; it must be date, time to the second "
                                   "and time zone, e.g. 2026-04-28T10:15:52+02:00",
                       source=source)


def check_period(findings: Findings, period: JsonObject, *, expression: str, rule: str, source: str) -> None:
    """``period.start`` / ``period.end``: real dateTimes, a time only with its zone, start ≤ end."""
    if not findings.active(RuleGroup.METADATA):
        return
    parsed: dict[str, FhirDateTime] = {}
    for name in ("start", "end"):
        if name not in period:
            continue
        value = parse_datetime(period[name])
        if isinstance(value, str):
            problem = value
        elif value.precision == "time" and not value.has_zone:
            problem = f"'{period[name]}' has a time but no time zone"
        else:
            parsed[name] = value
            continue
        findings.violation(RuleGroup.METADATA, rule=rule, code="value", expression=f"{expression}.{name}",
                           diagnostics=f"{expression}.{name}: {problem}", source=source)
    start, end = parsed.get("start"), parsed.get("end")
    if start is None or end is None:
        return
    if start.instant is not None and end.instant is not None:
        later = start.instant > end.instant
    else:  # compare at the precision both have
        width = min(_width(start), _width(end))
        later = start.raw[:width] > end.raw[:width]
    if later:
        findings.violation(RuleGroup.METADATA, rule=rule, code="invalid", expression=expression,
                           diagnostics=f"{expression} starts ({start.raw}) after it ends ({end.raw})",
                           source=source)


def _width(value: FhirDateTime) -> int:
    return {"year": 4, "month": 7}.get(value.precision, 10)
