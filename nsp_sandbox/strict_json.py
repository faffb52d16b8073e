"""The one JSON reader for what arrives from outside: request bodies, documents inside them,
envelope contents and documents fetched from sources.

FHIR JSON (FHIR R4 §2.6.2 "JSON representation") forbids an object from carrying the same property
twice; RFC 8259 leaves the meaning of duplicate names undefined, and parsers disagree on which one
wins. A body whose ``identifier.value`` says one CPR to this parser and another to the next is
therefore refused, naming the key, rather than read "last one wins". Nesting is bounded too
(:data:`MAX_DEPTH`): no FHIR resource this sandbox handles comes near it, and every layer behind the
parser can then walk a body without running out of stack.
"""

from __future__ import annotations

import json
import sys
from typing import Any

MAX_DEPTH = 100  # objects and arrays nested in each other; an HCO message Bundle is about 12 deep


class JsonRefused(ValueError):
    """Not acceptable JSON; ``rule`` names why (``json-syntax``, ``json-duplicate-key``, ``json-depth``)."""

    def __init__(self, message: str, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return found


class _NotANumber(Exception):
    def __init__(self, token: str) -> None:
        self.token = token


def _constant(token: str) -> float:
    """``NaN``, ``Infinity`` and ``-Infinity``: Python's reader takes them, JSON (RFC 8259 §6) has no such numbers."""
    raise _NotANumber(token)


_INFINITY = float("inf")


def _float(token: str) -> float:
    value = float(token)
    if value in (_INFINITY, -_INFINITY):  # beyond a double (1e400): no number this or any reader can hold
        raise _NotANumber(token)
    return value


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether objects and arrays in ``value`` nest more than ``limit`` levels (level by level, no
    recursion: a cheap pass over the containers only)."""
    level = [value] if type(value) is dict or type(value) is list else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        deeper: list[Any] = []
        for node in level:
            for child in node.values() if type(node) is dict else node:
                if type(child) is dict or type(child) is list:
                    deeper.append(child)
        level = deeper
    return False


def loads(raw: bytes | str) -> Any:
    """``raw`` as JSON, or :class:`JsonRefused` saying what is wrong with it."""
    try:
        value = json.loads(raw, object_pairs_hook=_object, parse_constant=_constant, parse_float=_float)
    except _NotANumber as exc:
        raise JsonRefused(f"'{exc.token[:40]}' is not a JSON number (JSON has no NaN or infinity, and a number must "
                          "fit a double)", "json-syntax") from None
    except _DuplicateKey as exc:
        raise JsonRefused(f"The key '{exc.key[:100]}' appears twice in one JSON object; FHIR JSON forbids "
                          "duplicate keys", "json-duplicate-key") from None
    except RecursionError:
        raise JsonRefused(f"JSON nested deeper than {MAX_DEPTH} levels", "json-depth") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise JsonRefused(f"Not valid JSON: {exc}", "json-syntax") from None
    except ValueError:  # int() of a token longer than sys.get_int_max_str_digits(), CPython's guard (4,300)
        raise JsonRefused(f"An integer of more than {sys.get_int_max_str_digits()} digits is not read (RFC 8259 §6 "
                          "lets a reader limit the range of numbers)", "json-syntax") from None
    if too_deep(value):
        raise JsonRefused(f"JSON nested deeper than {MAX_DEPTH} levels", "json-depth")
    return value
