"""The FHIRPath string functions (``matches``, ``substring``, …) and conversions
(``toInteger``, ``toString``, ``toDecimal``), compiled.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Final

from nsp_sandbox.conformance.fhirpath.values import (
    Compile,
    Env,
    FhirPathError,
    Fn,
    FunctionFactory,
    Item,
    Unsupported,
    arity,
    as_text,
    boolean,
    single,
)
from nsp_sandbox.conformance.regex_equivalents import PROFILE_REGEX_FLAGS


def _string_fn(params: list[dict[str, Any]], compile_node: Compile, expected: int,
               apply: Callable[[str, list[Any]], list[Item]]) -> Fn:
    arity(params, expected)
    args = [compile_node(p) for p in params]

    def run(focus: list[Item], env: Env) -> list[Item]:
        one = single(focus, "string function")
        if one is None:
            return []
        if not isinstance(one[0], str):
            raise FhirPathError("string function on a non-string")
        values = []
        for arg in args:
            item = single(arg(env.this, env), "argument")
            if item is None:
                return []
            values.append(item[0])
        return apply(one[0], values)

    return run


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.DOTALL | PROFILE_REGEX_FLAGS)


def _f_matches(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    def apply(text: str, args: list[Any]) -> list[Item]:
        try:
            return boolean(_regex(str(args[0])).search(text) is not None)
        except re.error as exc:
            raise FhirPathError(f"bad regex: {exc}") from None
    return _string_fn(params, compile_node, 1, apply)


def _f_replace_matches(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    def apply(text: str, args: list[Any]) -> list[Item]:
        try:
            return [(_regex(str(args[0])).sub(str(args[1]).replace("$", "\\"), text), "System.String", None, None)]
        except re.error as exc:
            raise FhirPathError(f"bad regex: {exc}") from None
    return _string_fn(params, compile_node, 2, apply)


def _f_starts_with(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    return _string_fn(params, compile_node, 1, lambda text, args: boolean(text.startswith(str(args[0]))))


def _f_ends_with(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    return _string_fn(params, compile_node, 1, lambda text, args: boolean(text.endswith(str(args[0]))))


def _f_contains(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    return _string_fn(params, compile_node, 1, lambda text, args: boolean(str(args[0]) in text))


def _f_length(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    return _string_fn(params, compile_node, 0, lambda text, args: [(len(text), "System.Integer", None, None)])


def _f_upper(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    return _string_fn(params, compile_node, 0, lambda text, args: [(text.upper(), "System.String", None, None)])


def _f_lower(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    return _string_fn(params, compile_node, 0, lambda text, args: [(text.lower(), "System.String", None, None)])


def _f_index_of(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    return _string_fn(params, compile_node, 1,
                      lambda text, args: [(text.find(str(args[0])), "System.Integer", None, None)])


def _f_substring(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    if len(params) not in (1, 2):
        raise Unsupported("substring() arity")
    start = compile_node(params[0])
    length = compile_node(params[1]) if len(params) == 2 else None

    def run(focus: list[Item], env: Env) -> list[Item]:
        one = single(focus, "substring")
        if one is None or not isinstance(one[0], str):
            return []
        s = single(start(env.this, env), "substring start")
        if s is None or not isinstance(s[0], int) or s[0] < 0 or s[0] >= len(one[0]):
            return []
        if length is None:
            return [(one[0][s[0]:], "System.String", None, None)]
        n = single(length(env.this, env), "substring length")
        if n is None or not isinstance(n[0], int):
            return [(one[0][s[0]:], "System.String", None, None)]
        return [(one[0][s[0]:s[0] + max(n[0], 0)], "System.String", None, None)]

    return run


_INTEGER_TEXT: Final = re.compile(r"[+-]?[0-9]+")


def _f_to_integer(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    arity(params, 0)

    def run(focus: list[Item], env: Env) -> list[Item]:
        one = single(focus, "toInteger")
        if one is None:
            return []
        value = one[0]
        if isinstance(value, bool):
            return [(int(value), "System.Integer", None, None)]
        if isinstance(value, int):
            return [one]
        if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value):
            return [(int(value), "System.Integer", None, None)]
        return []

    return run


def _f_to_string(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    arity(params, 0)

    def run(focus: list[Item], env: Env) -> list[Item]:
        one = single(focus, "toString")
        if one is None or isinstance(one[0], (dict, list)):
            return []
        return [(as_text(one[0]), "System.String", None, None)]

    return run


def _f_to_decimal(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    arity(params, 0)

    def run(focus: list[Item], env: Env) -> list[Item]:
        one = single(focus, "toDecimal")
        if one is None:
            return []
        try:
            return [(Decimal(str(one[0])), "System.Decimal", None, None)]
        except InvalidOperation:
            return []

    return run


STRING_FUNCTIONS: dict[str, FunctionFactory] = {
    "matches": _f_matches, "replaceMatches": _f_replace_matches, "startsWith": _f_starts_with,
    "endsWith": _f_ends_with, "contains": _f_contains, "length": _f_length, "upper": _f_upper,
    "lower": _f_lower, "indexOf": _f_index_of, "substring": _f_substring, "toInteger": _f_to_integer,
    "toString": _f_to_string, "toDecimal": _f_to_decimal,
}
