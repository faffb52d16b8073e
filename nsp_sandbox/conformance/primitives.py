"""The value rules of one element the walk checks without FHIRPath: the JSON type and format of a
primitive (FHIR R4 §2.6.2 JSON representation, the primitive types' regexes, ``maxLength``) and
``fixed[x]`` / ``pattern[x]`` on complex values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from nsp_sandbox.conformance.slicing import fixed_matches, pattern_matches
from nsp_sandbox.outcome import Issue

if TYPE_CHECKING:
    from nsp_sandbox.conformance.structure import ElementNode, StructureLibrary

JSON_TYPES: Final[dict[str, tuple[type, ...]]] = {
    "boolean": (bool,), "integer": (int,), "unsignedInt": (int,), "positiveInt": (int,),
    "decimal": (int, float), "integer64": (str,),
}


def primitive_value_ok(library: StructureLibrary, node: ElementNode, code: str, value: Any, path: str,
                       issues: list[Issue]) -> bool:
    """Check a primitive's value against its type ``code``; False (with an issue) when it is not one."""
    expected = JSON_TYPES.get(code, _STRING)
    if expected is not _STRING or type(value) is not str:  # not the common case: a string type's JSON string
        if not isinstance(value, expected) or (isinstance(value, bool) and bool not in expected):
            issues.append(Issue("error", "structure",
                                f"{code} value must be a JSON {json_name(expected)}, found {json_kind(value)}",
                                expression=path, source=node.source, rule="type"))
            return False
        if not isinstance(value, str):
            number: Any = value  # an int: a JSON number of an integer type
            if code in ("unsignedInt", "positiveInt") and (number < 0 or (code == "positiveInt" and number < 1)):
                issues.append(Issue("error", "value", f"{value} is not a valid {code}", expression=path,
                                    source=node.source, rule="type"))
                return False
            return True
    if (not value or value.isspace()) and code != "xhtml":  # as ``not value.strip()``
        issues.append(Issue("error", "value", f"A {code} must not be empty or only whitespace",
                            expression=path, source=node.source, rule="type"))
        return False
    regexes = library.regexes  # kept per type code
    regex = regexes[code] if code in regexes else library.primitive_regex(code, node.structure.package)
    if regex is not None and not regex.fullmatch(value):
        issues.append(Issue("error", "value", f"{value!r} is not a valid {code}",
                            expression=path, source=node.source, rule="type"))
        return False
    if node.max_length is not None and len(value) > node.max_length:
        issues.append(Issue("error", "value", f"Value is longer than maxLength {node.max_length}",
                            expression=path, source=node.source, rule="max-length"))
    return True


_STRING: Final[tuple[type, ...]] = (str,)


def fixed_pattern_issues(node: ElementNode, value: dict[str, Any], path: str, issues: list[Issue]) -> None:
    """``fixed[x]`` (exactly equal) and ``pattern[x]`` (contains at least) of a complex value."""
    if node.fixed is not None and not fixed_matches(value, node.fixed[1]):
        issues.append(Issue("error", "value", f"Value does not equal the fixed value {node.fixed[1]!r}",
                            expression=path, source=node.source, rule="fixed"))
    if node.pattern is not None and not pattern_matches(value, node.pattern[1]):
        issues.append(Issue("error", "value", f"Value does not match the pattern {node.pattern[1]!r}",
                            expression=path, source=node.source, rule="pattern"))


def json_kind(value: Any) -> str:
    """How a JSON value is named in a finding ("a string", "an array", …)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def json_name(types: tuple[type, ...]) -> str:
    if bool in types:
        return "boolean"
    if int in types:
        return "number"
    return "string"
