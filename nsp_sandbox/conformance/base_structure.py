"""The base-structure layer: does the instance parse as a FHIR resource (``fhir.resources.R4B``)?

MedCom's IGs are R4 (4.0.1); ``fhir.resources`` has no R4 models, and its R4B models parse every
MedCom example. Its pydantic errors are turned into Issues whose ``expression`` is a FHIRPath with
indices (``Bundle.entry[8].resource.effective.ofType(dateTime)``), using the R4 type model that
fhirpathpy ships to name choice elements.
"""

from __future__ import annotations

import datetime
import math
import re
from functools import cache
from typing import Any, Final

from fhir.resources.R4B import get_fhir_model_class
from fhirpathpy.models import models
from pydantic import ValidationError

from nsp_sandbox.conformance.fhirpath.narrative import known_well_formed
from nsp_sandbox.kept import kept
from nsp_sandbox.outcome import Issue

_MODEL = models["r4"]
_PATH_TO_TYPE: Final[dict[str, str]] = _MODEL["path2Type"]
_CHOICES: Final[dict[str, list[str]]] = _MODEL["choiceTypePaths"]
_ELSEWHERE: Final[dict[str, str]] = _MODEL["pathsDefinedElsewhere"]
_PRIMITIVE_CHOICES: Final = {"String", "Boolean", "Integer", "Decimal", "Uri", "Url", "Canonical", "Code", "Oid", "Id",
                             "Markdown", "Base64Binary", "Instant", "Date", "DateTime", "Time", "UnsignedInt",
                             "PositiveInt", "Uuid"}


def base_structure_issues(resource: dict[str, Any]) -> list[Issue]:
    """Structural errors in ``resource``: FHIR JSON representation rules, then ``fhir.resources``."""
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str):
        return [Issue("error", "structure", "A resource needs a resourceType", rule="resource-type")]
    representation = json_representation_issues(resource, rtype)
    if representation:
        return representation
    try:
        model = get_fhir_model_class(rtype)
    except (KeyError, ValueError, AttributeError):
        return [Issue("error", "structure", f"Unknown resource type '{rtype}'", expression=rtype,
                      rule="resource-type")]
    try:
        model.model_validate(resource)
    except ValidationError as invalid:
        return [_issue(resource, err) for err in invalid.errors(include_url=False)]
    except Exception as exc:  # fhir.resources raises KeyError & co. on some malformed nesting
        return [Issue("error", "structure", f"The resource does not parse ({type(exc).__name__}: {exc})",
                      expression=rtype, rule="base-structure")]
    return []


def model_layer_silent(resource: dict[str, Any]) -> bool:
    """Would :func:`base_structure_issues` surely find nothing in ``resource`` once the profile walk
    has found no error in it?

    The walk judges every element against its type's definition (cardinality, type, regex, unknown
    elements); what ``fhir.resources`` can still refuse after a clean walk is a short list, and this
    pass looks for any trace of it: a ``_element`` companion (the walk reads only the primitives'
    ones), an ``id`` that is not 1–64 letters, digits, ``-`` or ``.``, an integer beyond 32 bits or
    a number that is not finite, a date the calendar does not have (the R4 regexes admit
    ``2021-02-29``), a resource type with no ``fhir.resources`` model — and the FHIR JSON
    representation rules. A True answer lets the validator leave the model layer out: its findings
    would be empty, so the merged findings are the same (``bench/conformance_findings.py`` checks
    it over every official example and its mutations).
    """
    return _silent(resource)


def _silent(value: Any) -> bool:
    """One pass for :func:`model_layer_silent`; the FHIR JSON rules are :func:`_representable`'s,
    read more strictly (any ``null`` answers False: the full layer then judges it).

    Values are told apart by their exact JSON type (what ``json.loads`` gives); anything else —
    a ``null``, a subclass — answers False, and the full layer then judges the document.
    """
    kind = type(value)
    if kind is dict:
        return _silent_object(value)
    if kind is list:
        return _silent_array(value)
    if kind is str:
        return _silent_text(value)
    if kind is bool:
        return True
    if kind is int:
        return -(2**31) <= value < 2**31
    if kind is float:
        return math.isfinite(value)
    return False


def _silent_object(value: dict[str, Any]) -> bool:
    if not value:
        return False
    rtype = value.get("resourceType")
    if rtype is not None and not (type(rtype) is str and _modelled(rtype)):
        return False
    for key, child in value.items():
        if key[:1] == "_":
            return False
        kind = type(child)
        if kind is str:
            if not _silent_text(child) or (key == "id" and not _ID(child)):
                return False
        elif kind is dict:
            if not _silent_object(child):
                return False
        elif kind is list:
            if not _silent_array(child):
                return False
        elif kind is not bool and not _silent(child):
            return False
    return True


def _silent_array(value: list[Any]) -> bool:
    if not value:
        return False
    for child in value:
        kind = type(child)
        if kind is dict:
            if not _silent_object(child):
                return False
        elif kind is str:
            if not _silent_text(child):
                return False
        elif not _silent(child):
            return False
    return True


_isprintable: Final = str.isprintable  # called as a function: no look-up of the method by its name each time


def _silent_text(text: str) -> bool:
    """A string the model layer takes: not empty, without a control character FHIR strings forbid, and in the
    calendar when it starts with a digit (the date of a date, dateTime or instant).

    The answer depends on the text alone. A text found silent is kept (up to :data:`_SILENT_LONGEST` characters;
    :data:`_SILENT_AT_MOST` of them): a sender's next message names most of the last one's systems, codes, units
    and displays again, and a kept one is then found by its hash (which the walk's own look-ups of the same value
    have mostly computed already) instead of being read character by character.

    Typed ``str``, so that the compiled engine asks ``str.isdigit`` directly, not by the method's name."""
    if text in _SILENT_TEXTS:
        return True
    if not text:
        return False
    if _has_control(text):
        return False
    if text[:1].isdigit() and not _calendar_ok(text):
        return False
    if len(text) <= _SILENT_LONGEST:
        kept(_SILENT_TEXTS, text, True, _SILENT_AT_MOST)
    return True


_SILENT_TEXTS: Final[dict[str, bool]] = {}
_SILENT_LONGEST: Final = 256
_SILENT_AT_MOST: Final = 16384


_ID: Final = re.compile(r"[A-Za-z0-9\-.]{1,64}").fullmatch
_DATE: Final = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII).match


def _calendar_ok(value: str) -> bool:
    """False for a date (or the date of a dateTime / instant) that is not in the calendar.

    The answer depends on the first ten characters alone; it is kept by them (a message's dates
    are mostly a few days)."""
    day = value[:10]
    found = _CALENDAR.get(day)
    if found is None:
        found = kept(_CALENDAR, day, _calendar_day_ok(day), 4096)
    return found


_CALENDAR: Final[dict[str, bool]] = {}


def _calendar_day_ok(value: str) -> bool:
    found = _DATE(value)
    if found is None:
        return True
    try:
        datetime.date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
    except ValueError:
        return False
    return True


@cache
def _modelled(rtype: str) -> bool:
    try:
        get_fhir_model_class(rtype)
    except (KeyError, ValueError, AttributeError):
        return False
    return True


def json_representation_issues(node: Any, path: str) -> list[Issue]:
    """FHIR JSON forbids ``null`` (but inside the arrays of primitive ``_element`` companions),
    empty objects, empty arrays and empty strings (http://hl7.org/fhir/R4/json.html)."""
    if _representable(node, path.rsplit(".", 1)[-1], False):
        return []  # the common case, decided without building a path per value
    issues: list[Issue] = []

    def visit(value: Any, where: str, nulls_allowed: bool) -> None:
        if value is None:
            if not nulls_allowed:
                issues.append(_representation(where, "null is not allowed in FHIR JSON; leave the element out"))
        elif isinstance(value, dict):
            if not value:
                issues.append(_representation(where, "an empty object is not allowed in FHIR JSON"))
            for key, child in value.items():
                visit(child, f"{where}.{key}", False)
        elif isinstance(value, list):
            if not value:
                issues.append(_representation(where, "an empty array is not allowed in FHIR JSON"))
            # [value, null] pairs with ["_value" extension, null]: nulls keep the arrays aligned.
            aligned = any(isinstance(v, (str, int, float, bool)) for v in value) or where.rsplit(".", 1)[-1][:1] == "_"
            for index, child in enumerate(value):
                visit(child, f"{where}[{index}]", aligned)
        elif isinstance(value, str):
            if value == "":
                issues.append(_representation(where, "an empty string is not allowed in FHIR JSON"))
            elif _CONTROL.search(value):
                issues.append(_representation(where, "control characters (other than tab, CR, LF) are not "
                                                     "allowed in FHIR strings"))

    visit(node, path, False)
    return issues


_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_CONTROL_SEARCH: Final = _CONTROL.search


_CONTROL_BYTES: Final = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])


def _has_control(value: str) -> bool:
    """Does ``value`` hold a control character FHIR strings forbid?

    A string that is not markup is asked ``str.isprintable`` first: a printable one holds none (a URL,
    a code, a line of text). A short one that is not printable is searched with the regex. Markup (a
    narrative, often not "printable" for its line breaks) and long text with line breaks are scanned as
    UTF-8 bytes, in which these characters are single bytes of their own: deleting them changes the
    length only when one is there. ``bytes.translate`` builds its table at each call, so a printable
    string is not scanned that way.
    """
    if value[:1] != "<" and _isprintable(value):
        return False
    if len(value) <= 64:
        return _CONTROL_SEARCH(value) is not None
    if known_well_formed(value):  # a narrative the walk has just judged: well-formed XML holds none
        return False
    data = value.encode("utf-8", "surrogatepass")
    return len(data.translate(None, _CONTROL_BYTES)) != len(data)


def _representable(value: Any, key: str, nulls_allowed: bool) -> bool:
    """Would :func:`json_representation_issues` find nothing in ``value``? (Same rules, no paths.)

    ``key`` is the last step of the value's path without its indices: the ``_`` of a primitive's
    companion array is read from it. Anything unusual (a key that is not a string) answers False,
    and the caller then takes the path-building walk.
    """
    if isinstance(value, str):
        return value != "" and not _has_control(value)
    if isinstance(value, dict):
        if not value:
            return False
        for child_key, child in value.items():
            if isinstance(child, str):
                if child == "" or _has_control(child):
                    return False
            elif child is None or isinstance(child, (dict, list)):
                if not isinstance(child_key, str):
                    return False
                if not _representable(child, child_key.rsplit(".", 1)[-1] if "." in child_key else child_key,
                                      False):
                    return False
        return True
    if isinstance(value, list):
        if not value:
            return False
        aligned = any(isinstance(v, (str, int, float, bool)) for v in value) or key[:1] == "_"
        for child in value:
            if isinstance(child, str):
                if child == "" or _has_control(child):
                    return False
            elif child is None:
                if not aligned:
                    return False
            elif isinstance(child, (dict, list)) and not _representable(child, key, aligned):
                return False
        return True
    if value is None:
        return nulls_allowed
    return True


def _representation(where: str, message: str) -> Issue:
    return Issue("error", "structure", message, expression=where, rule="json-representation",
                 source="http://hl7.org/fhir/R4/json.html")


def _issue(resource: dict[str, Any], err: Any) -> Issue:
    message = str(err.get("msg", "invalid"))
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    loc = tuple(err.get("loc") or ())
    return Issue("error", "structure", f"{message}", expression=fhirpath_of(resource, loc), rule="base-structure")


def fhirpath_of(resource: dict[str, Any], loc: tuple[Any, ...]) -> str:
    """The FHIRPath (with indices) of a pydantic error location inside ``resource``."""
    rtype = str(resource.get("resourceType", "Resource"))
    out = rtype
    model_path = rtype
    data: Any = resource
    for step in loc:
        if isinstance(step, int):
            out += f"[{step}]"
            data = data[step] if isinstance(data, list) and -len(data) <= step < len(data) else None
            continue
        key = str(step)
        if key.endswith("__ext"):  # fhir.resources' name for the "_key" extension companion
            key = "_" + key[: -len("__ext")]
        if key.endswith("__fhir__"):
            key = key[: -len("__fhir__")]
        data = data.get(key) if isinstance(data, dict) else None
        name, choice = _choice(model_path, key)
        if choice:
            out += f".{name}.ofType({choice})"
            model_path = choice if choice not in _PRIMITIVE_CHOICES else "Element"
            continue
        out += f".{key}"
        path = _ELSEWHERE.get(f"{model_path}.{key}", f"{model_path}.{key}")
        found = _PATH_TO_TYPE.get(path)
        if found in ("Resource", "DomainResource") and isinstance(data, dict) and "resourceType" in data:
            model_path = str(data["resourceType"])
        elif found is None or found == "BackboneElement" or found == "Element":
            model_path = path
        else:
            model_path = found
    return out


def _choice(model_path: str, key: str) -> tuple[str, str | None]:
    for cut in range(len(key) - 1, 0, -1):
        if not key[cut].isupper():
            continue
        prefix, suffix = key[:cut], key[cut:]
        types = _CHOICES.get(f"{model_path}.{prefix}")
        if types and suffix in types:
            shown = suffix if suffix not in _PRIMITIVE_CHOICES else suffix[:1].lower() + suffix[1:]
            return prefix, shown
    return key, None
