"""FHIR search on the MHD face: parameter parsing, searchset Bundles and their paging links.

Token values are ``code``, ``system|code``, ``|code`` (no system) or ``system|`` (any code in the
system); a comma separates alternatives (OR); ``\\,`` and ``\\|`` escape. Date values take the
prefixes ``eq ne gt lt ge le sa eb`` (default ``eq``). Repeating a parameter AND-s its values.

Unknown parameters are ignored, reported as a warning in the Bundle (an OperationOutcome entry
with ``search.mode`` ``outcome``) and left out of the ``self`` link, as FHIR's lenient handling
says; with ``Prefer: handling=strict`` they are refused with 400.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal, get_args
from urllib.parse import urlencode

from nsp_sandbox.digits import whole_number
from nsp_sandbox.outcome import FhirError, Issue, operation_outcome
from services.dds.domain import CPR_SYSTEM
from services.dds.mhd.fhir_dates import DateFormatError, parse_range
from services.dds.queries import DatePrefix, DateValue, TokenValue

ParamType = Literal["token", "date", "reference", "number", "special"]
_PREFIXES = frozenset(get_args(DatePrefix))
_SPLIT_COMMA = re.compile(r"(?<!\\),")
_SPLIT_BAR = re.compile(r"(?<!\\)\|")
MAX_COUNT = 500
DEFAULT_COUNT = 20
PAGE_AFTER = "_page_after"
PAGE_BEFORE = "_page_before"
CONTROL = frozenset({"_count", PAGE_AFTER, PAGE_BEFORE, "_format"})


@dataclass(frozen=True)
class SearchParam:
    """A supported search parameter: name, FHIR type, and what it matches (for the CapabilityStatement)."""

    name: str
    type: ParamType
    documentation: str
    definition: str | None = None


def _unescape(value: str) -> str:
    return value.replace("\\,", ",").replace("\\|", "|").replace("\\$", "$").replace("\\\\", "\\")


def bad_value(name: str, message: str) -> FhirError:
    return FhirError(400, Issue("error", "value", f"Search parameter '{name}': {message}",
                                expression=name, rule="fhir-search-parameter-value"))


def tokens(name: str, raw: str) -> list[TokenValue]:
    """The OR-ed alternatives of one token parameter value."""
    out: list[TokenValue] = []
    for part in _SPLIT_COMMA.split(raw):
        if not part:
            raise bad_value(name, f"empty value in '{raw}'")
        pieces = _SPLIT_BAR.split(part)
        if len(pieces) == 1:
            out.append(TokenValue(None, _unescape(part)))
        elif len(pieces) == 2:
            system, code = (_unescape(p) for p in pieces)
            if not system and not code:
                raise bad_value(name, f"'{part}' has neither system nor code")
            out.append(TokenValue(system, code or None))
        else:
            raise bad_value(name, f"'{part}' is not 'code', 'system|code', '|code' or 'system|'")
    return out


def dates(name: str, raw: str) -> list[DateValue]:
    """The alternatives of one date parameter value (comma-separated values are OR-ed)."""
    out: list[DateValue] = []
    for part in _SPLIT_COMMA.split(raw):
        prefix, value = (part[:2], part[2:]) if part[:2] in _PREFIXES else ("eq", part)
        try:
            low, high = parse_range(value)
        except DateFormatError as exc:
            raise bad_value(name, str(exc)) from None
        out.append(DateValue(prefix, low, high))  # type: ignore[arg-type]
    return out


def integer(name: str, raw: str, low: int, high: int) -> int:
    number = whole_number(raw)
    if number is None or not low <= number <= high:
        raise bad_value(name, f"'{raw[:40]}' is not a whole number from {low} to {high}")
    return number


@dataclass
class ParsedSearch:
    """The request's parameters split into those understood (kept in links) and the ignored ones."""

    values: dict[str, list[str]] = field(default_factory=dict)  # name -> raw values (AND-ed)
    ignored: list[str] = field(default_factory=list)
    count: int = DEFAULT_COUNT
    after_pk: int | None = None
    before_pk: int | None = None

    def first(self, name: str) -> str | None:
        found = self.values.get(name)
        return found[0] if found else None


def parse(pairs: list[tuple[str, str]], supported: dict[str, SearchParam], aliases: dict[str, str],
          strict: bool) -> ParsedSearch:
    """Sort query/form parameters into supported ones, control parameters and ignored ones."""
    parsed = ParsedSearch()
    for raw_name, value in pairs:
        name = aliases.get(raw_name, raw_name)
        if name == "_count":
            parsed.count = integer(name, value, 0, MAX_COUNT)
        elif name == PAGE_AFTER:
            parsed.after_pk = integer(name, value, 0, 2**62)
        elif name == PAGE_BEFORE:
            parsed.before_pk = integer(name, value, 0, 2**62)
        elif name == "_format":
            if "xml" in value.lower():
                raise FhirError(406, Issue("error", "not-supported", "This server answers FHIR JSON only "
                                           "(_format=json)", expression="_format", rule="fhir-format"))
        elif name in supported:
            if value == "":
                continue  # FHIR: a parameter with an empty value is ignored
            parsed.values.setdefault(name, []).append(value)
        elif strict:
            raise FhirError(400, Issue("error", "not-supported", f"Search parameter '{raw_name}' is not supported "
                                       f"(supported: {', '.join(sorted(supported))})",
                                       expression=raw_name, rule="fhir-search-parameter"))
        else:
            parsed.ignored.append(raw_name)
    return parsed


def require(parsed: ParsedSearch, *alternatives: str) -> None:
    """At least one of ``alternatives`` must be given (400 otherwise)."""
    if not any(a in parsed.values for a in alternatives):
        names = " or ".join(f"'{a}'" for a in alternatives)
        raise FhirError(400, Issue("error", "required", f"Search parameter {names} is required",
                                   expression=alternatives[0], source="IHE MHD ITI-67 / ITI-66",
                                   rule="mhd-required-search-parameter"))


def searchset(search_url: str, parsed: ParsedSearch, resources: list[dict[str, Any]], full_urls: list[str],
              total: int, has_next: bool, has_prev: bool, first_pk: int | None, last_pk: int | None,
              warnings: list[Issue] | None = None) -> dict[str, Any]:
    """A searchset Bundle with ``total``, ``self`` / ``next`` / ``prev`` links and any warnings."""
    kept = [(name, v) for name, values in parsed.values.items() for v in values]

    def link(relation: str, extra: list[tuple[str, str]]) -> dict[str, str]:
        query = urlencode([*kept, ("_count", str(parsed.count)), *extra])
        return {"relation": relation, "url": f"{search_url}?{query}"}

    here: list[tuple[str, str]] = []
    if parsed.after_pk is not None:
        here = [(PAGE_AFTER, str(parsed.after_pk))]
    elif parsed.before_pk is not None:
        here = [(PAGE_BEFORE, str(parsed.before_pk))]
    links = [link("self", here)]
    if has_next and last_pk is not None:
        links.append(link("next", [(PAGE_AFTER, str(last_pk))]))
    if has_prev and first_pk is not None:
        # "previous" is FHIR R4's relation; "prev" (its older name) is given too for clients that use it.
        links.append(link("previous", [(PAGE_BEFORE, str(first_pk))]))
        links.append(link("prev", [(PAGE_BEFORE, str(first_pk))]))
    entries: list[dict[str, Any]] = [
        {"fullUrl": url, "resource": resource, "search": {"mode": "match"}}
        for url, resource in zip(full_urls, resources, strict=True)
    ]
    issues = [Issue("warning", "not-supported", f"Search parameter '{name}' is not supported and was ignored",
                    expression=name, rule="fhir-search-parameter") for name in parsed.ignored]
    issues += warnings or []
    if issues:
        entries.append({
            "fullUrl": f"urn:uuid:{uuid.uuid4()}",
            "resource": operation_outcome(issues),
            "search": {"mode": "outcome"},
        })
    return {"resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "searchset", "total": total,
            "link": links, "entry": entries}


def patient_tokens(parsed: ParsedSearch) -> list[list[TokenValue]]:
    """The AND-ed patient conditions from ``patient`` and ``patient.identifier``."""
    groups: list[list[TokenValue]] = []
    for raw in parsed.values.get("patient.identifier", []):
        groups.append(tokens("patient.identifier", raw))
    for raw in parsed.values.get("patient", []):
        group = []
        for reference in raw.split(","):
            cpr = reference.rsplit("/", 1)[-1] if "Patient/" in reference or "/" not in reference else None
            if not cpr:
                raise bad_value("patient", f"'{reference}' is not a Patient reference (Patient/{{CPR}})")
            group.append(TokenValue(CPR_SYSTEM, cpr))
        groups.append(group)
    return groups
