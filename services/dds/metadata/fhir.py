"""Reading the parts of FHIR resources the metadata rules need: references, identifiers, dateTimes.

The rules see one resource at a time (a DocumentReference or a SubmissionSet List), so a
reference can be followed only when it points into the resource itself (``#id`` to a contained
resource) or carries what is needed on its own (``Reference.identifier``, or a conditional
reference ``Patient?identifier=system|value``). Anything else is "not resolvable here".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

JsonObject = dict[str, Any]


def objects(value: Any) -> list[JsonObject]:
    """``value`` as a list of JSON objects (FHIR repeating elements); anything else is dropped."""
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    return []


def text(value: Any) -> str | None:
    """A non-blank string, or None."""
    return value if isinstance(value, str) and value.strip() else None


@dataclass(frozen=True)
class Target:
    """What a Reference points at, as far as it can be known from the referring resource alone.

    ``resource`` is the contained resource for ``#id`` references; ``resource_type`` comes from the
    contained resource, ``Reference.type`` or the reference string; ``identifiers`` are the
    identifiers known for the target (``Reference.identifier``, conditional-reference parameters,
    and the contained resource's own identifiers).
    """

    resource: JsonObject | None
    resource_type: str | None
    identifiers: tuple[JsonObject, ...]
    reference: str | None
    problem: str | None = None  # why the target is not (fully) known


def contained_by_id(resource: JsonObject) -> dict[str, JsonObject]:
    return {c["id"]: c for c in objects(resource.get("contained")) if isinstance(c.get("id"), str)}


_TYPE_IN_REFERENCE = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)(?:/[^/?]+(?:/_history/[^/?]+)?|\?.*)\Z")


def follow(reference: Any, container: JsonObject) -> Target:
    """The target of ``reference`` (a FHIR Reference) made from inside ``container``."""
    if not isinstance(reference, dict):
        return Target(None, None, (), None, "the reference is not a FHIR Reference object")
    ref = text(reference.get("reference"))
    declared_type = text(reference.get("type"))
    identifiers = list(objects(reference.get("identifier")))
    resource: JsonObject | None = None
    problem: str | None = None
    resource_type = declared_type
    if ref is not None and ref.startswith("#"):
        resource = contained_by_id(container).get(ref[1:])
        if resource is None:
            problem = f"'{ref}' names no contained resource"
        else:
            resource_type = text(resource.get("resourceType")) or resource_type
            identifiers += objects(resource.get("identifier"))
    elif ref is not None:
        match = _TYPE_IN_REFERENCE.search(ref.split("#", 1)[0])
        if match and resource_type is None:
            resource_type = match.group(1)
        if "?" in ref:
            identifiers += _conditional_identifiers(ref)
        if not identifiers:
            problem = f"'{ref}' cannot be resolved from the resource alone and carries no identifier"
    elif not identifiers:
        problem = "the reference has neither a reference nor an identifier"
    return Target(resource, resource_type, tuple(identifiers), ref, problem)


def _conditional_identifiers(ref: str) -> list[JsonObject]:
    """``identifier=system|value`` parameters of a conditional reference (``Patient?identifier=…``)."""
    query = urlsplit(ref).query or ref.partition("?")[2]
    found: list[JsonObject] = []
    for token in parse_qs(query).get("identifier", []):
        system, bar, value = token.partition("|")
        found.append({"system": system, "value": value} if bar else {"value": system})
    return found


def identifier_values(identifiers: tuple[JsonObject, ...] | list[JsonObject], system: str) -> list[str]:
    """The distinct values of the identifiers with ``system``, in order of appearance."""
    values: list[str] = []
    for ident in identifiers:
        if ident.get("system") == system and isinstance(ident.get("value"), str) and ident["value"] not in values:
            values.append(ident["value"])
    return values


# ---- dateTime ------------------------------------------------------------------------------------

_DATETIME = re.compile(
    r"^(?P<year>[0-9]{4})(?:-(?P<month>[0-9]{2})(?:-(?P<day>[0-9]{2})"
    r"(?:T(?P<time>[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)(?P<tz>Z|[+-][0-9]{2}:[0-9]{2})?)?)?)?$")


@dataclass(frozen=True)
class FhirDateTime:
    """A parsed FHIR ``dateTime``: its precision, whether it has seconds and a time zone."""

    raw: str
    precision: str  # "year" | "month" | "day" | "time"
    has_seconds: bool
    has_zone: bool
    instant: datetime | None  # the UTC instant when a time and zone are given


def parse_datetime(value: Any) -> FhirDateTime | str:
    """``value`` as a FHIR dateTime, or a text saying why it is not one."""
    if not isinstance(value, str):
        return "is not a string"
    m = _DATETIME.match(value)
    if m is None:
        return f"'{value}' is not a FHIR dateTime (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss+zz:zz)"
    precision = "time" if m["time"] else "day" if m["day"] else "month" if m["month"] else "year"
    instant = None
    try:
        if m["time"]:
            seconds = m["time"].count(":") == 2
            if not m["tz"]:
                datetime.fromisoformat(value)  # still catch impossible dates
                return FhirDateTime(value, precision, seconds, False, None)
            instant = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
            return FhirDateTime(value, precision, seconds, True, instant)
        datetime(int(m["year"]), int(m["month"] or 1), int(m["day"] or 1))
    except ValueError:
        return f"'{value}' is not a real date and time"
    return FhirDateTime(value, precision, False, False, None)
