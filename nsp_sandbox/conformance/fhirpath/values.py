"""The values a compiled FHIRPath expression works on, and the small rules every part shares.

A collection is a ``list`` of :class:`Item` (the JSON data with its FHIR type and model path); a
compiled expression is an :data:`Fn` ``(focus, env) -> collection``. Booleans are the shared
one-item collections :data:`TRUE` / :data:`FALSE` (empty for unknown), as FHIRPath's
three-valued logic reads them.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final


class Unsupported(Exception):
    """The expression uses something this compiler does not implement (use fhirpathpy)."""


class FhirPathError(Exception):
    """An evaluation error FHIRPath defines (e.g. a collection where a single value is needed)."""


Item = tuple[Any, str | None, str | None, Any]
"""One value in a FHIRPath collection: ``(data, type, path, companion)`` — the JSON data, its FHIR
type, its model path and, for a primitive, its ``_name`` companion (id / extensions).

A plain tuple: evaluations build hundreds of items, and a tuple is made in a fraction of the time
a class instance takes. Read the fields by index: ``item[0]`` is the data, ``item[1]`` the type.
"""


class Env:
    """Variables of one evaluation, and the values of its focus-independent subexpressions."""

    __slots__ = ("context", "memo", "resource", "root", "this")

    def __init__(self, context: list[Item], resource: list[Item], root: list[Item]) -> None:
        self.context = context
        self.resource = resource
        self.root = root
        self.this: list[Item] = context
        self.memo: dict[str, list[Item]] = {}


Fn = Callable[[list[Item], Env], list[Item]]


def item_of(data: Any, type_: str | None) -> Item:
    """The FHIRPath item for a focus: a resource, a complex value or a primitive of FHIR type ``type_``."""
    if isinstance(data, dict) and isinstance(data.get("resourceType"), str):
        return (data, data["resourceType"], data["resourceType"], None)
    return (data, type_, type_, None)

Compile = Callable[[dict[str, Any]], Fn]
"""Compiles one parse-tree node (operators and functions compile their operands with it)."""
FunctionFactory = Callable[[list[dict[str, Any]], Compile], Fn]
"""Compiles one function call from its parameters' parse-tree nodes."""


def singleton_bool(items: list[Item]) -> bool | None:
    """A collection read as one boolean: None when empty; an error when it has more than one item."""
    if not items:
        return None
    if len(items) > 1:
        raise FhirPathError("expected a single boolean")
    value = items[0][0]
    if isinstance(value, bool):
        return value
    return True  # a single non-boolean counts as true (FHIRPath singleton evaluation)


TRUE: Final[list[Item]] = [(True, "System.Boolean", None, None)]
FALSE: Final[list[Item]] = [(False, "System.Boolean", None, None)]


def boolean(value: bool | None) -> list[Item]:
    """The collection for a boolean: :data:`TRUE`, :data:`FALSE`, or empty for None."""
    if value is None:
        return []
    return TRUE if value else FALSE


def single(items: list[Item], what: str) -> Item | None:
    """The one item of ``items`` (None when empty); an error naming ``what`` when there are more."""
    if not items:
        return None
    if len(items) > 1:
        raise FhirPathError(f"expected a single value for {what}")
    return items[0]


def as_text(value: Any) -> str:
    """A value as FHIRPath shows it in a string (``true``, decimals without exponent)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


# ---- the parse tree ---------------------------------------------------------------------------


def child_nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    """The children of a parse-tree node."""
    return node.get("children") or []


def operator_text(node: dict[str, Any]) -> str:
    """The operator of an expression node (``and``, ``=``, ``+``, …)."""
    ops = node.get("terminalNodeText") or []
    return ops[0] if ops else ""


def identifier(node: dict[str, Any]) -> str:
    """The name of an identifier node (a `delimited` name without its backticks)."""
    text = node.get("text") or "".join(node.get("terminalNodeText") or [])
    if text.startswith("`") and text.endswith("`"):
        text = text[1:-1]
    return text


def type_name_of(node: dict[str, Any]) -> str:
    """The (dotted) type name a type specifier node names."""
    text = node.get("text") or ""
    if not text:
        parts = []
        def collect(n: dict[str, Any]) -> None:
            if n.get("type") == "Identifier":
                parts.append(identifier(n))
            for c in child_nodes(n):
                collect(c)
        collect(node)
        text = ".".join(parts)
    return text.replace("`", "")


def arity(params: list[dict[str, Any]], *allowed: int) -> None:
    """Raise :class:`Unsupported` unless the call has one of the ``allowed`` numbers of parameters."""
    if len(params) not in allowed:
        raise Unsupported(f"wrong number of arguments ({len(params)})")
