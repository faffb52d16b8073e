"""The one JSON reader for what arrives from outside: request bodies, documents inside them,
envelope contents and documents fetched from sources.

FHIR JSON (FHIR R4 §2.6.2 "JSON representation") forbids an object from carrying the same property
twice; RFC 8259 leaves the meaning of duplicate names undefined, and parsers disagree on which one
wins. A body whose ``identifier.value`` says one CPR to this parser and another to the next is
therefore refused, naming the key, rather than read "last one wins". Nesting is bounded too
(:data:`MAX_DEPTH`): no FHIR resource this sandbox handles comes near it, and every layer behind the
parser can then walk a body without running out of stack.

Two readers give one answer. ``jiter`` (the JSON reader pydantic's core is built on) reads bytes in Rust and refuses
a duplicate key itself, several times faster than Python's reader with a hook on every object. What it accepts is
taken when it is also within these bounds (no deeper than :data:`MAX_DEPTH`, no number read as infinity:
:mod:`~nsp_sandbox.conformance.json_bounds`, compiled). Anything else, whether it refused it or read it beyond them,
is read again by Python's reader, as before: its answer or its precise refusal is the one given. So a body is
accepted, read and refused exactly as by Python's reader alone; ``tests/platform/test_strict_json.py`` holds the
two to that over generated bodies.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import jiter

from nsp_sandbox.conformance.json_bounds import MAX_DEPTH, too_deep, within_bounds

__all__ = ["MAX_DEPTH", "JsonRefused", "loads", "python_loads", "too_deep", "within_bounds"]


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


def loads(raw: bytes | str) -> Any:
    """``raw`` as JSON, or :class:`JsonRefused` saying what is wrong with it."""
    if type(raw) is bytes:
        try:
            value = jiter.from_json(raw, allow_inf_nan=False, catch_duplicate_keys=True)
        except ValueError:
            pass  # read again below, for Python's reader's answer or refusal
        else:
            if within_bounds(value):
                return value
    return python_loads(raw)


def python_loads(raw: bytes | str) -> Any:
    """``raw`` as Python's reader reads it, with the hooks and bounds above: the answer :func:`loads` gives."""
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
