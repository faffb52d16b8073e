"""A FHIRPath compiler for constraint expressions: fhirpathpy's parse tree turned into closures.

fhirpathpy interprets its parse tree on every call (about 50-1000 µs per constraint); a message
with a few hundred constraint evaluations would take tens of milliseconds. This module compiles
the same parse tree (``fhirpathpy.parser.parse``) once into nested Python closures over plain
dicts, with the R4 type model fhirpathpy ships (choice elements, element types), and evaluates in a
few microseconds.

It covers the FHIRPath used by FHIR constraints (navigation, operators with three-valued logic,
the existence / filtering / subsetting / string / conversion / type functions, and the FHIR
functions of :mod:`.fhirpath_functions`). Anything else raises :class:`Unsupported` at compile
time and the caller evaluates that expression with fhirpathpy instead. Runtime errors (a
non-singleton where one is required, …) raise :class:`FhirPathError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from fhirpathpy.models import models
from fhirpathpy.parser import parse

from nsp_sandbox.conformance import fhirpath_functions as fhir_functions

_MODEL = models["r4"]
_PATH_TO_TYPE: dict[str, str] = _MODEL["path2Type"]
_CHOICES: dict[str, list[str]] = _MODEL["choiceTypePaths"]
_ELSEWHERE: dict[str, str] = _MODEL["pathsDefinedElsewhere"]
_TYPE_PARENTS: dict[str, str] = _MODEL["type2Parent"]
_PRIMITIVE_NAMES = {"String", "Boolean", "Integer", "Decimal", "Uri", "Url", "Canonical", "Code", "Oid", "Id",
                    "Markdown", "Base64Binary", "Instant", "Date", "DateTime", "Time", "UnsignedInt",
                    "PositiveInt", "Uuid"}
_SYSTEM_OF_FHIR = {
    "boolean": "Boolean", "string": "String", "code": "String", "id": "String", "markdown": "String",
    "uri": "String", "url": "String", "canonical": "String", "oid": "String", "uuid": "String",
    "base64Binary": "String", "xhtml": "String", "integer": "Integer", "unsignedInt": "Integer",
    "positiveInt": "Integer", "decimal": "Decimal", "date": "Date", "dateTime": "DateTime",
    "instant": "DateTime", "time": "Time",
}


class Unsupported(Exception):
    """The expression uses something this compiler does not implement (use fhirpathpy)."""


class FhirPathError(Exception):
    """An evaluation error FHIRPath defines (e.g. a collection where a single value is needed)."""


class Item:
    """One value in a FHIRPath collection: the JSON data, its FHIR type and model path."""

    __slots__ = ("companion", "data", "path", "type")

    def __init__(self, data: Any, type_: str | None, path: str | None, companion: Any = None) -> None:
        self.data = data
        self.type = type_
        self.path = path
        self.companion = companion


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
        return Item(data, data["resourceType"], data["resourceType"])
    return Item(data, type_, type_)


class Program:
    """A compiled expression: ``program(focus, resource, root)`` gives the result as plain values.

    ``roots`` is set when the expression reads its focus only by navigating these child names
    (no functions or ``$this`` on the focus itself, no variables, no resolve/terminology/narrative
    functions): its value then depends only on those children, and when the focus has none of them
    the value is the same for every such focus of one type — the caller may keep it.
    """

    __slots__ = ("body", "roots", "uses_constants")

    def __init__(self, body: Fn, roots: frozenset[str] | None, uses_constants: bool = True) -> None:
        self.body = body
        self.roots = roots
        self.uses_constants = uses_constants  # False: never reads %resource / %rootResource / %context

    def __call__(self, focus: Item, resource: Item, root: Item) -> list[Any]:
        start = [focus]
        env = Env(start, [resource], [root])
        return [i.data for i in self.body(start, env)]


@lru_cache(maxsize=4096)
def compile_expression(expression: str) -> Program:
    """Compile ``expression`` (raises :class:`Unsupported` for what this compiler does not cover)."""
    tree = parse(expression)["children"][0]
    return Program(_compile(tree), _root_names(tree), _uses_constant(tree))


_IMPURE_FUNCTIONS = frozenset({"resolve", "conformsTo", "memberOf", "htmlChecks", "children", "descendants",
                               "hasValue", "now", "today", "timeOfDay"})


def _root_names(tree: dict[str, Any]) -> frozenset[str] | None:
    """The child names an expression reads from its focus, if it reads the focus only that way."""
    names: set[str] = set()

    def visit(node: dict[str, Any]) -> bool:
        kind = node.get("type")
        if kind == "ExternalConstantTerm":
            return False
        if kind == "Functn" and _identifier(_children(node)[0]) in _IMPURE_FUNCTIONS:
            return False
        if kind == "InvocationTerm":
            inner = _children(node)[0]
            if inner.get("type") != "MemberInvocation":
                return False  # a function or $this applied to the focus itself
            name = _identifier(_children(inner)[0])
            if name[:1].isupper():
                return False  # a type name selecting the focus
            names.add(name)
            return True
        return all(visit(c) for c in _children(node))

    return frozenset(names) if visit(tree) else None


# ---- compilation -------------------------------------------------------------------------------


def _compile(node: dict[str, Any]) -> Fn:
    kind = node.get("type")
    handler = _HANDLERS.get(kind or "")
    if handler is None:
        raise Unsupported(f"FHIRPath construct {kind}")
    fn = handler(node)
    if kind in _MEMO_KINDS and _uses_constant(node) and _independent(node):
        return _memoised(fn, node.get("text") or str(id(fn)))
    return fn


# Subexpressions that depend only on %resource / %rootResource and literals (``%resource.type =
# 'batch'`` inside ``entry.all(...)``) are computed once per evaluation; equal subexpressions
# (dom-3 walks ``%resource.descendants()`` four times) share one result.
_MEMO_KINDS = frozenset({"EqualityExpression", "InvocationExpression", "OrExpression", "AndExpression",
                         "MembershipExpression", "UnionExpression", "ParenthesizedTerm"})


# Functions whose parameter is a type name, read at compile time and never evaluated on the focus.
_TYPE_PARAMETER_FUNCTIONS = frozenset({"as", "is", "ofType"})


def _independent(node: dict[str, Any]) -> bool:
    kind = node.get("type")
    if kind == "InvocationTerm":
        return False
    if kind == "ExternalConstantTerm" and "context" in repr(node):
        return False
    if kind == "Functn" and _identifier(_children(node)[0]) in _TYPE_PARAMETER_FUNCTIONS:
        return True  # ``as(canonical)``: the parameter names a type (its input is judged by the caller)
    return all(_independent(c) for c in _children(node))


def _uses_constant(node: dict[str, Any]) -> bool:
    return node.get("type") == "ExternalConstantTerm" or any(_uses_constant(c) for c in _children(node))


def _memoised(fn: Fn, key: str) -> Fn:
    def run(focus: list[Item], env: Env) -> list[Item]:
        found = env.memo.get(key)
        if found is None:
            found = fn(focus, env)
            env.memo[key] = found
        return found

    return run


def _children(node: dict[str, Any]) -> list[dict[str, Any]]:
    return node.get("children") or []


def _op(node: dict[str, Any]) -> str:
    ops = node.get("terminalNodeText") or []
    return ops[0] if ops else ""


def _entire(node: dict[str, Any]) -> Fn:
    return _compile(_children(node)[0])


def _term_expression(node: dict[str, Any]) -> Fn:
    return _compile(_children(node)[0])


def _invocation_term(node: dict[str, Any]) -> Fn:
    inner = _children(node)[0]
    return _invocation(inner, at_root=True)


def _invocation_expression(node: dict[str, Any]) -> Fn:
    left, right = _children(node)
    source = _compile(left)
    step = _invocation(right, at_root=False)

    def run(focus: list[Item], env: Env) -> list[Item]:
        return step(source(focus, env), env)

    return run


def _invocation(node: dict[str, Any], at_root: bool) -> Fn:
    kind = node.get("type")
    if kind == "MemberInvocation":
        name = _identifier(_children(node)[0])
        return _member(name, at_root)
    if kind == "FunctionInvocation":
        return _function(_children(node)[0])
    if kind == "ThisInvocation":
        return lambda focus, env: env.this
    raise Unsupported(f"FHIRPath invocation {kind}")


def _identifier(node: dict[str, Any]) -> str:
    text = node.get("text") or "".join(node.get("terminalNodeText") or [])
    if text.startswith("`") and text.endswith("`"):
        text = text[1:-1]
    return text


def _member(name: str, at_root: bool) -> Fn:
    type_name = at_root and name[:1].isupper()

    def run(focus: list[Item], env: Env) -> list[Item]:
        if type_name and len(focus) == 1:
            # A leading type name (``Bundle.entry``) selects the focus when it has that type.
            item = focus[0]
            if isinstance(item.data, dict) and item.data.get("resourceType") == name:
                return focus
        out: list[Item] = []
        for item in focus:
            _navigate(item, name, out)
        return out

    return run


def _navigate(item: Item, name: str, out: list[Item]) -> None:
    data = item.data
    if not isinstance(data, dict):
        companion = item.companion
        if isinstance(companion, dict) and name in ("extension", "id"):
            found = companion.get(name)
            for value in found if isinstance(found, list) else ([found] if found is not None else []):
                out.append(Item(value, "Extension" if name == "extension" else "string",
                                "Extension" if name == "extension" else None))
        return
    step = _step(item.path or item.type, name)
    if step[0] is not None:
        for key, companion_key, fhir_type in step[0]:
            if key in data or companion_key in data:
                _append(out, data.get(key), data.get(companion_key), fhir_type, fhir_type)
        return
    value = data.get(name)
    companion = data.get(step[3])
    if value is None and companion is None:
        return
    _append(out, value, companion, step[1], step[2])


_Step = tuple[tuple[tuple[str, str, str], ...] | None, str | None, str | None, str]
_STEPS: dict[tuple[str | None, str], _Step] = {}


def _step(base_path: str | None, name: str) -> _Step:
    """How to navigate ``name`` from a node at model path ``base_path`` (cached)."""
    key = (base_path, name)
    found = _STEPS.get(key)
    if found is not None:
        return found
    choices = _CHOICES.get(f"{base_path}.{name}") if base_path else None
    result: _Step
    if choices:
        keys = tuple((name + suffix, "_" + name + suffix,
                      suffix if suffix not in _PRIMITIVE_NAMES else suffix[:1].lower() + suffix[1:])
                     for suffix in choices)
        result = (keys, None, None, "_" + name)
    elif base_path:
        child_path = _ELSEWHERE.get(f"{base_path}.{name}", f"{base_path}.{name}")
        child_type = _PATH_TO_TYPE.get(child_path)
        if child_type is None or child_type in ("BackboneElement", "Element"):
            next_path: str | None = child_path
        else:
            next_path = None if child_type.startswith("System.") else child_type
        result = (None, child_type, next_path, "_" + name)
    else:
        result = (None, None, None, "_" + name)
    _STEPS[key] = result
    return result


def _append(out: list[Item], value: Any, companion: Any, type_: str | None, path: str | None) -> None:
    if isinstance(value, list) or isinstance(companion, list):
        values = value if isinstance(value, list) else []
        comps = companion if isinstance(companion, list) else []
        for i in range(max(len(values), len(comps))):
            v = values[i] if i < len(values) else None
            c = comps[i] if i < len(comps) else None
            if v is None and c is None:
                continue
            out.append(_item(v, c, type_, path))
        return
    if value is None and companion is None:
        return
    out.append(_item(value, companion, type_, path))


def _item(value: Any, companion: Any, type_: str | None, path: str | None) -> Item:
    if isinstance(value, dict) and isinstance(value.get("resourceType"), str):
        return Item(value, value["resourceType"], value["resourceType"])
    return Item(value, type_, path, companion)


# ---- literals and constants --------------------------------------------------------------------


def _literal_term(node: dict[str, Any]) -> Fn:
    literal = _children(node)[0]
    kind = literal.get("type")
    text = literal.get("text") or "".join(literal.get("terminalNodeText") or [])
    value: Any
    if kind == "StringLiteral":
        value = _unescape(text[1:-1])
        result = [Item(value, "System.String", None)]
    elif kind == "NumberLiteral":
        value = int(text) if re.fullmatch(r"\d+", text) else Decimal(text)
        result = [Item(value, "System.Integer" if isinstance(value, int) else "System.Decimal", None)]
    elif kind == "BooleanLiteral":
        result = [Item(text == "true", "System.Boolean", None)]
    elif kind == "NullLiteral":
        result = []
    else:
        raise Unsupported(f"FHIRPath literal {kind}")
    return lambda focus, env: result


def _unescape(text: str) -> str:
    return re.sub(r"\\(u[0-9a-fA-F]{4}|.)", lambda m: (
        chr(int(m.group(1)[1:], 16)) if m.group(1).startswith("u") and len(m.group(1)) == 5 else
        {"n": "\n", "r": "\r", "t": "\t", "f": "\f"}.get(m.group(1), m.group(1))), text)


_CONSTANTS = {"ucum": "http://unitsofmeasure.org", "sct": "http://snomed.info/sct", "loinc": "http://loinc.org"}


def _external_constant_term(node: dict[str, Any]) -> Fn:
    constant = _children(node)[0]
    inner = _children(constant)[0]
    name = inner.get("text") or "".join(inner.get("terminalNodeText") or [])
    name = name.strip("`'\"")
    if name == "resource":
        return lambda focus, env: env.resource
    if name == "rootResource":
        return lambda focus, env: env.root
    if name == "context":
        return lambda focus, env: env.context
    if name in _CONSTANTS:
        result = [Item(_CONSTANTS[name], "System.String", None)]
        return lambda focus, env: result
    raise Unsupported(f"FHIRPath constant %{name}")


def _parenthesized(node: dict[str, Any]) -> Fn:
    return _compile(_children(node)[0])


# ---- operators ---------------------------------------------------------------------------------


def _singleton_bool(items: list[Item]) -> bool | None:
    if not items:
        return None
    if len(items) > 1:
        raise FhirPathError("expected a single boolean")
    value = items[0].data
    if isinstance(value, bool):
        return value
    return True  # a single non-boolean counts as true (FHIRPath singleton evaluation)


_TRUE = [Item(True, "System.Boolean", None)]
_FALSE = [Item(False, "System.Boolean", None)]


def _bool(value: bool | None) -> list[Item]:
    if value is None:
        return []
    return _TRUE if value else _FALSE


def _logic(node: dict[str, Any]) -> Fn:
    left, right = (_compile(c) for c in _children(node))
    op = _op(node)

    if op == "and":
        def run_and(focus: list[Item], env: Env) -> list[Item]:
            a = _singleton_bool(left(focus, env))
            if a is False:
                return _FALSE
            b = _singleton_bool(right(focus, env))
            if b is False:
                return _FALSE
            return _TRUE if a is True and b is True else []
        return run_and
    if op == "or":
        def run_or(focus: list[Item], env: Env) -> list[Item]:
            a = _singleton_bool(left(focus, env))
            if a is True:
                return _TRUE
            b = _singleton_bool(right(focus, env))
            if b is True:
                return _TRUE
            return _FALSE if a is False and b is False else []
        return run_or
    if op == "xor":
        def run_xor(focus: list[Item], env: Env) -> list[Item]:
            a = _singleton_bool(left(focus, env))
            b = _singleton_bool(right(focus, env))
            return [] if a is None or b is None else _bool(a != b)
        return run_xor
    if op == "implies":
        def run_implies(focus: list[Item], env: Env) -> list[Item]:
            a = _singleton_bool(left(focus, env))
            if a is False:
                return _TRUE
            b = _singleton_bool(right(focus, env))
            if b is True:
                return _TRUE
            if a is True:
                return _bool(b) if b is not None else []
            return [] if b is not True else _TRUE
        return run_implies
    raise Unsupported(f"FHIRPath operator {op}")


def _equal_values(a: Item, b: Item) -> bool | None:
    x, y = a.data, b.data
    if type(x) is str and type(y) is str and not (_is_temporal(a) or _is_temporal(b)):
        return x == y
    if isinstance(x, bool) or isinstance(y, bool):
        return x is y if isinstance(x, bool) and isinstance(y, bool) else False
    if isinstance(x, int | float | Decimal) and isinstance(y, int | float | Decimal):
        return Decimal(str(x)) == Decimal(str(y))
    if isinstance(x, str) and isinstance(y, str):
        if _is_temporal(a) or _is_temporal(b):
            return _temporal_equal(x, y)
        return x == y
    return bool(x == y)


def _is_temporal(item: Item) -> bool:
    return item.type in ("date", "dateTime", "instant", "time", "System.Date", "System.DateTime")


_DT = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$")


def _temporal_key(text: str) -> tuple[int, Any] | None:
    """(precision, comparable value) of a FHIR date / dateTime / instant; None when not one."""
    from datetime import datetime, timedelta, timezone

    m = _DT.match(text)
    if not m:
        return None
    year, month, day, hour, minute, second, frac, tz = m.groups()
    if hour is None:
        parts = [int(p) for p in (year, month, day) if p is not None]
        return len(parts), tuple(parts)
    offset = UTC
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        offset = timezone(sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6])))
    moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0),
                      int(float(frac or 0) * 1_000_000), tzinfo=offset)
    precision = 6 if second is not None else 5
    return precision, moment.astimezone(UTC)


def _temporal_equal(x: str, y: str) -> bool | None:
    kx, ky = _temporal_key(x), _temporal_key(y)
    if kx is None or ky is None:
        return x == y
    if kx[0] != ky[0] and (kx[0] < 4 or ky[0] < 4):
        return None
    return kx[1] == ky[1]


def _equality(node: dict[str, Any]) -> Fn:
    left, right = (_compile(c) for c in _children(node))
    op = _op(node)

    def equal(a: list[Item], b: list[Item]) -> bool | None:
        if not a or not b:
            return None
        if len(a) != len(b):
            return False
        result: bool | None = True
        for x, y in zip(a, b, strict=True):
            same = _equal_values(x, y)
            if same is False:
                return False
            if same is None:
                result = None
        return result

    def equivalent(a: list[Item], b: list[Item]) -> bool:
        if not a and not b:
            return True
        if len(a) != len(b):
            return False
        def norm(v: Any) -> Any:
            return " ".join(v.lower().split()) if isinstance(v, str) else v
        remaining = [norm(y.data) for y in b]
        for x in a:
            value = norm(x.data)
            if value in remaining:
                remaining.remove(value)
            else:
                return False
        return True

    if op == "=":
        return lambda focus, env: _bool(equal(left(focus, env), right(focus, env)))
    if op == "!=":
        def not_equal(focus: list[Item], env: Env) -> list[Item]:
            result = equal(left(focus, env), right(focus, env))
            return [] if result is None else _bool(not result)
        return not_equal
    if op == "~":
        return lambda focus, env: _bool(equivalent(left(focus, env), right(focus, env)))
    if op == "!~":
        return lambda focus, env: _bool(not equivalent(left(focus, env), right(focus, env)))
    raise Unsupported(f"FHIRPath operator {op}")


def _single(items: list[Item], what: str) -> Item | None:
    if not items:
        return None
    if len(items) > 1:
        raise FhirPathError(f"expected a single value for {what}")
    return items[0]


def _inequality(node: dict[str, Any]) -> Fn:
    left, right = (_compile(c) for c in _children(node))
    op = _op(node)

    def run(focus: list[Item], env: Env) -> list[Item]:
        a = _single(left(focus, env), op)
        b = _single(right(focus, env), op)
        if a is None or b is None:
            return []
        x, y = a.data, b.data
        if isinstance(x, str) and isinstance(y, str) and (_is_temporal(a) or _is_temporal(b) or (
                _temporal_key(x) and _temporal_key(y))):
            kx, ky = _temporal_key(x), _temporal_key(y)
            if kx is None or ky is None or kx[0] != ky[0]:
                return []
            x, y = kx[1], ky[1]
        elif isinstance(x, int | float | Decimal) and isinstance(y, int | float | Decimal):
            x, y = Decimal(str(x)), Decimal(str(y))
        elif type(x) is not type(y):
            raise FhirPathError(f"cannot compare {type(x).__name__} with {type(y).__name__}")
        if op == "<":
            return _bool(x < y)
        if op == "<=":
            return _bool(x <= y)
        if op == ">":
            return _bool(x > y)
        return _bool(x >= y)

    return run


def _membership(node: dict[str, Any]) -> Fn:
    left, right = (_compile(c) for c in _children(node))
    op = _op(node)

    def contained(element: list[Item], collection: list[Item]) -> list[Item]:
        # As the FHIR validator reads it: every item on the left must be in the collection.
        if not element:
            return []
        return _bool(all(any(_equal_values(one, other) is True for other in collection) for one in element))

    if op == "in":
        return lambda focus, env: contained(left(focus, env), right(focus, env))
    if op == "contains":
        return lambda focus, env: contained(right(focus, env), left(focus, env))
    raise Unsupported(f"FHIRPath operator {op}")


def _union(node: dict[str, Any]) -> Fn:
    left, right = (_compile(c) for c in _children(node))
    return lambda focus, env: _distinct(left(focus, env) + right(focus, env))


def _distinct(items: list[Item]) -> list[Item]:
    if all(type(i.data) is str and not _is_temporal(i) for i in items):
        seen: dict[str, Item] = {}
        for item in items:
            seen.setdefault(item.data, item)
        return list(seen.values())
    out: list[Item] = []
    for item in items:
        if not any(_equal_values(item, seen) is True for seen in out):
            out.append(item)
    return out


def _additive(node: dict[str, Any]) -> Fn:
    left, right = (_compile(c) for c in _children(node))
    op = _op(node)

    def run(focus: list[Item], env: Env) -> list[Item]:
        a = _single(left(focus, env), op)
        b = _single(right(focus, env), op)
        if op == "&":
            return [Item(("" if a is None else _text(a.data)) + ("" if b is None else _text(b.data)),
                         "System.String", None)]
        if a is None or b is None:
            return []
        x, y = a.data, b.data
        if isinstance(x, str) and isinstance(y, str) and op == "+":
            return [Item(x + y, "System.String", None)]
        if type(x) is int and type(y) is int:
            return [Item(x + y if op == "+" else x - y, "System.Integer", None)]
        if isinstance(x, int | float | Decimal) and isinstance(y, int | float | Decimal) and not (
                isinstance(x, bool) or isinstance(y, bool)):
            value = Decimal(str(x)) + Decimal(str(y)) if op == "+" else Decimal(str(x)) - Decimal(str(y))
            return [Item(value, "System.Decimal", None)]
        raise FhirPathError(f"cannot apply {op} to these values")

    return run


def _multiplicative(node: dict[str, Any]) -> Fn:
    left, right = (_compile(c) for c in _children(node))
    op = _op(node)

    def run(focus: list[Item], env: Env) -> list[Item]:
        a = _single(left(focus, env), op)
        b = _single(right(focus, env), op)
        if a is None or b is None:
            return []
        x, y = a.data, b.data
        if type(x) is int and type(y) is int and op != "/":
            if op == "*":
                return [Item(x * y, "System.Integer", None)]
            if y == 0:
                return []
            if op == "div":
                return [Item(int(x / y), "System.Integer", None)]
            if op == "mod":
                return [Item(x - y * int(x / y), "System.Integer", None)]
        if not (isinstance(x, int | float | Decimal) and isinstance(y, int | float | Decimal)):
            raise FhirPathError(f"cannot apply {op} to non-numbers")
        dx, dy = Decimal(str(x)), Decimal(str(y))
        integers = isinstance(x, int) and isinstance(y, int)
        try:
            if op == "*":
                value = dx * dy
            elif op == "/":
                if dy == 0:
                    return []
                return [Item(dx / dy, "System.Decimal", None)]
            elif op == "div":
                if dy == 0:
                    return []
                value = Decimal(int(dx / dy))
            elif op == "mod":
                if dy == 0:
                    return []
                value = dx % dy
            else:
                raise Unsupported(op)
        except InvalidOperation as exc:
            raise FhirPathError(str(exc)) from None
        if integers:
            return [Item(int(value), "System.Integer", None)]
        return [Item(value, "System.Decimal", None)]

    return run


def _polarity(node: dict[str, Any]) -> Fn:
    inner = _compile(_children(node)[0])
    op = _op(node)

    def run(focus: list[Item], env: Env) -> list[Item]:
        one = _single(inner(focus, env), op)
        if one is None:
            return []
        if not isinstance(one.data, int | float | Decimal):
            raise FhirPathError("polarity of a non-number")
        return [Item(-one.data if op == "-" else one.data, one.type, None)]

    return run


def _type_name(node: dict[str, Any]) -> str:
    text = node.get("text") or ""
    if not text:
        parts = []
        def collect(n: dict[str, Any]) -> None:
            if n.get("type") == "Identifier":
                parts.append(_identifier(n))
            for c in _children(n):
                collect(c)
        collect(node)
        text = ".".join(parts)
    return text.replace("`", "")


def _type_expression(node: dict[str, Any]) -> Fn:
    source_node, type_node = _children(node)
    source = _compile(source_node)
    name = _type_name(type_node)
    op = _op(node)

    def run(focus: list[Item], env: Env) -> list[Item]:
        items = source(focus, env)
        if op == "is":
            one = _single(items, "is")
            return [] if one is None else _bool(is_type(one, name))
        one = _single(items, "as")
        return [] if one is None or not is_type(one, name) else [one]

    return run


def _indexer(node: dict[str, Any]) -> Fn:
    source_node, index_node = _children(node)
    source = _compile(source_node)
    index = _compile(index_node)

    def run(focus: list[Item], env: Env) -> list[Item]:
        items = source(focus, env)
        which = _single(index(focus, env), "[]")
        if which is None or not isinstance(which.data, int):
            return []
        return [items[which.data]] if 0 <= which.data < len(items) else []

    return run


def item_type(item: Item) -> str | None:
    if isinstance(item.data, dict) and isinstance(item.data.get("resourceType"), str):
        return str(item.data["resourceType"])
    if item.type:
        return item.type
    data = item.data
    if isinstance(data, bool):
        return "System.Boolean"
    if isinstance(data, int):
        return "System.Integer"
    if isinstance(data, float | Decimal):
        return "System.Decimal"
    if isinstance(data, str):
        return "System.String"
    return None


def is_type(item: Item, name: str) -> bool:
    actual = item_type(item)
    if actual is None:
        return False
    key = (actual, name)
    found = _TYPE_MATCHES.get(key, _UNDECIDED)
    if found is _UNDECIDED:
        found = _type_match(actual, name)
        if len(_TYPE_MATCHES) < 100_000:
            _TYPE_MATCHES[key] = found
    if found is not None:
        return found  # type: ignore[return-value]
    data = item.data
    if isinstance(data, dict) and "resourceType" in data:
        wanted = name.removeprefix("FHIR.")
        return wanted == "Resource" or data["resourceType"] not in ("Bundle", "Parameters", "Binary")
    return False


_UNDECIDED = object()
_TYPE_MATCHES: dict[tuple[str, str], bool | None] = {}


def _type_match(actual: str, name: str) -> bool | None:
    """Is type ``actual`` a ``name``, by the type names alone? None: it depends on the instance
    (``Resource`` / ``DomainResource`` asked of a type outside the model's hierarchy)."""
    wanted = name.removeprefix("FHIR.")
    if wanted.startswith("System."):
        system = actual if actual.startswith("System.") else "System." + _SYSTEM_OF_FHIR.get(actual, "")
        return system == wanted
    current: str | None = actual
    while current:
        if current == wanted:
            return True
        current = _TYPE_PARENTS.get(current)
        if current is None and actual in _SYSTEM_OF_FHIR and wanted in ("Element",):
            return True
    if wanted in ("Resource", "DomainResource"):
        return None
    return False


# ---- functions ---------------------------------------------------------------------------------


def _function(node: dict[str, Any]) -> Fn:
    children = _children(node)
    name = _identifier(children[0])
    params = [] if len(children) < 2 else _children(children[1])
    factory = _FUNCTIONS.get(name)
    if factory is None:
        raise Unsupported(f"FHIRPath function {name}()")
    return factory(params)


def _arity(params: list[dict[str, Any]], *allowed: int) -> None:
    if len(params) not in allowed:
        raise Unsupported(f"wrong number of arguments ({len(params)})")


def _per_item(params: list[dict[str, Any]], fn: Callable[[Item, Env], list[Item]]) -> Fn:
    def run(focus: list[Item], env: Env) -> list[Item]:
        out: list[Item] = []
        saved = env.this
        for item in focus:
            env.this = [item]
            out.extend(fn(item, env))
        env.this = saved
        return out
    return run


def _with_this(expr: Fn, item: Item, env: Env) -> list[Item]:
    saved = env.this
    env.this = [item]
    try:
        return expr([item], env)
    finally:
        env.this = saved


def _f_exists(params: list[dict[str, Any]]) -> Fn:
    _arity(params, 0, 1)
    if not params:
        return lambda focus, env: _bool(bool(focus))
    criteria = _compile(params[0])
    return lambda focus, env: _bool(any(_singleton_bool(_with_this(criteria, i, env)) for i in focus))


def _f_empty(params: list[dict[str, Any]]) -> Fn:
    _arity(params, 0)
    return lambda focus, env: _bool(not focus)


def _f_not(params: list[dict[str, Any]]) -> Fn:
    _arity(params, 0)

    def run(focus: list[Item], env: Env) -> list[Item]:
        value = _singleton_bool(focus)
        return [] if value is None else _bool(not value)

    return run


def _f_where(params: list[dict[str, Any]]) -> Fn:
    _arity(params, 1)
    criteria = _compile(params[0])
    return lambda focus, env: [i for i in focus if _singleton_bool(_with_this(criteria, i, env)) is True]


def _f_all(params: list[dict[str, Any]]) -> Fn:
    _arity(params, 1)
    criteria = _compile(params[0])
    return lambda focus, env: _bool(all(_singleton_bool(_with_this(criteria, i, env)) is True for i in focus))


def _f_select(params: list[dict[str, Any]]) -> Fn:
    _arity(params, 1)
    projection = _compile(params[0])

    def run(focus: list[Item], env: Env) -> list[Item]:
        out: list[Item] = []
        for item in focus:
            out.extend(_with_this(projection, item, env))
        return out

    return run


def _f_count(params: list[dict[str, Any]]) -> Fn:
    _arity(params, 0)
    return lambda focus, env: [Item(len(focus), "System.Integer", None)]


def _f_first(params: list[dict[str, Any]]) -> Fn:
    _arity(params, 0)
    return lambda focus, env: focus[:1]


def _f_last(params: list[dict[str, Any]]) -> Fn:
    _arity(params, 0)
    return lambda focus, env: focus[-1:]


def _f_tail(params: list[dict[str, Any]]) -> Fn:
    _arity(params, 0)
    return lambda focus, env: focus[1:]


def _f_single(params: list[dict[str, Any]]) -> Fn:
    _arity(params, 0)

    def run(focus: list[Item], env: Env) -> list[Item]:
        if len(focus) > 1:
            raise FhirPathError("single() on more than one item")
        return focus

    return run


def _f_skip_take(skip: bool) -> Callable[[list[dict[str, Any]]], Fn]:
    def factory(params: list[dict[str, Any]]) -> Fn:
        _arity(params, 1)
        count = _compile(params[0])

        def run(focus: list[Item], env: Env) -> list[Item]:
            n = _single(count(env.this, env), "skip/take")
            if n is None or not isinstance(n.data, int):
                return []
            return focus[n.data:] if skip else focus[:n.data]

        return run
    return factory


def _f_distinct(params: list[dict[str, Any]]) -> Fn:
    _arity(params, 0)
    return lambda focus, env: _distinct(focus)


def _f_is_distinct(params: list[dict[str, Any]]) -> Fn:
    _arity(params, 0)
    return lambda focus, env: _bool(len(_distinct(focus)) == len(focus))


def _collection_param(params: list[dict[str, Any]]) -> Fn:
    _arity(params, 1)
    other = _compile(params[0])
    return lambda focus, env: other(env.this, env)


def _f_combine(params: list[dict[str, Any]]) -> Fn:
    other = _collection_param(params)
    return lambda focus, env: focus + other(focus, env)


def _f_union(params: list[dict[str, Any]]) -> Fn:
    other = _collection_param(params)
    return lambda focus, env: _distinct(focus + other(focus, env))


def _f_intersect(params: list[dict[str, Any]]) -> Fn:
    other = _collection_param(params)

    def run(focus: list[Item], env: Env) -> list[Item]:
        others = other(focus, env)
        return _distinct([i for i in focus if any(_equal_values(i, o) is True for o in others)])

    return run


def _f_exclude(params: list[dict[str, Any]]) -> Fn:
    other = _collection_param(params)

    def run(focus: list[Item], env: Env) -> list[Item]:
        others = other(focus, env)
        return [i for i in focus if not any(_equal_values(i, o) is True for o in others)]

    return run


def _f_bool_aggregate(kind: str) -> Callable[[list[dict[str, Any]]], Fn]:
    def factory(params: list[dict[str, Any]]) -> Fn:
        _arity(params, 0)

        def run(focus: list[Item], env: Env) -> list[Item]:
            values = [i.data for i in focus]
            if any(not isinstance(v, bool) for v in values):
                raise FhirPathError(f"{kind}() on non-booleans")
            if kind == "allTrue":
                return _bool(all(values))
            if kind == "anyTrue":
                return _bool(any(values))
            if kind == "allFalse":
                return _bool(not any(values))
            return _bool(not all(values))

        return run
    return factory


def _f_iif(params: list[dict[str, Any]]) -> Fn:
    _arity(params, 2, 3)
    criterion = _compile(params[0])
    then = _compile(params[1])
    otherwise = _compile(params[2]) if len(params) == 3 else None

    def run(focus: list[Item], env: Env) -> list[Item]:
        if len(focus) > 1:
            raise FhirPathError("iif() on more than one item")
        subject = focus[0] if focus else None
        saved = env.this
        if subject is not None:
            env.this = [subject]
        try:
            start = [subject] if subject is not None else env.this
            decided = _singleton_bool(criterion(start, env))
            if decided is True:
                return then(start, env)
            return otherwise(start, env) if otherwise is not None else []
        finally:
            env.this = saved

    return run


def _f_trace(params: list[dict[str, Any]]) -> Fn:
    _arity(params, 1, 2)
    return lambda focus, env: focus


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _string_fn(params: list[dict[str, Any]], arity: int,
               apply: Callable[[str, list[Any]], list[Item]]) -> Fn:
    _arity(params, arity)
    args = [_compile(p) for p in params]

    def run(focus: list[Item], env: Env) -> list[Item]:
        one = _single(focus, "string function")
        if one is None:
            return []
        if not isinstance(one.data, str):
            raise FhirPathError("string function on a non-string")
        values = []
        for arg in args:
            item = _single(arg(env.this, env), "argument")
            if item is None:
                return []
            values.append(item.data)
        return apply(one.data, values)

    return run


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.DOTALL)


def _f_matches(params: list[dict[str, Any]]) -> Fn:
    def apply(text: str, args: list[Any]) -> list[Item]:
        try:
            return _bool(_regex(str(args[0])).search(text) is not None)
        except re.error as exc:
            raise FhirPathError(f"bad regex: {exc}") from None
    return _string_fn(params, 1, apply)


def _f_replace_matches(params: list[dict[str, Any]]) -> Fn:
    def apply(text: str, args: list[Any]) -> list[Item]:
        try:
            return [Item(_regex(str(args[0])).sub(str(args[1]).replace("$", "\\"), text), "System.String", None)]
        except re.error as exc:
            raise FhirPathError(f"bad regex: {exc}") from None
    return _string_fn(params, 2, apply)


def _f_starts_with(params: list[dict[str, Any]]) -> Fn:
    return _string_fn(params, 1, lambda text, args: _bool(text.startswith(str(args[0]))))


def _f_ends_with(params: list[dict[str, Any]]) -> Fn:
    return _string_fn(params, 1, lambda text, args: _bool(text.endswith(str(args[0]))))


def _f_contains(params: list[dict[str, Any]]) -> Fn:
    return _string_fn(params, 1, lambda text, args: _bool(str(args[0]) in text))


def _f_length(params: list[dict[str, Any]]) -> Fn:
    return _string_fn(params, 0, lambda text, args: [Item(len(text), "System.Integer", None)])


def _f_upper(params: list[dict[str, Any]]) -> Fn:
    return _string_fn(params, 0, lambda text, args: [Item(text.upper(), "System.String", None)])


def _f_lower(params: list[dict[str, Any]]) -> Fn:
    return _string_fn(params, 0, lambda text, args: [Item(text.lower(), "System.String", None)])


def _f_index_of(params: list[dict[str, Any]]) -> Fn:
    return _string_fn(params, 1, lambda text, args: [Item(text.find(str(args[0])), "System.Integer", None)])


def _f_substring(params: list[dict[str, Any]]) -> Fn:
    if len(params) not in (1, 2):
        raise Unsupported("substring() arity")
    start = _compile(params[0])
    length = _compile(params[1]) if len(params) == 2 else None

    def run(focus: list[Item], env: Env) -> list[Item]:
        one = _single(focus, "substring")
        if one is None or not isinstance(one.data, str):
            return []
        s = _single(start(env.this, env), "substring start")
        if s is None or not isinstance(s.data, int) or s.data < 0 or s.data >= len(one.data):
            return []
        if length is None:
            return [Item(one.data[s.data:], "System.String", None)]
        n = _single(length(env.this, env), "substring length")
        if n is None or not isinstance(n.data, int):
            return [Item(one.data[s.data:], "System.String", None)]
        return [Item(one.data[s.data:s.data + max(n.data, 0)], "System.String", None)]

    return run


_INTEGER_TEXT = re.compile(r"[+-]?\d+")


def _f_to_integer(params: list[dict[str, Any]]) -> Fn:
    _arity(params, 0)

    def run(focus: list[Item], env: Env) -> list[Item]:
        one = _single(focus, "toInteger")
        if one is None:
            return []
        value = one.data
        if isinstance(value, bool):
            return [Item(int(value), "System.Integer", None)]
        if isinstance(value, int):
            return [one]
        if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value):
            return [Item(int(value), "System.Integer", None)]
        return []

    return run


def _f_to_string(params: list[dict[str, Any]]) -> Fn:
    _arity(params, 0)

    def run(focus: list[Item], env: Env) -> list[Item]:
        one = _single(focus, "toString")
        if one is None or isinstance(one.data, dict | list):
            return []
        return [Item(_text(one.data), "System.String", None)]

    return run


def _f_to_decimal(params: list[dict[str, Any]]) -> Fn:
    _arity(params, 0)

    def run(focus: list[Item], env: Env) -> list[Item]:
        one = _single(focus, "toDecimal")
        if one is None:
            return []
        try:
            return [Item(Decimal(str(one.data)), "System.Decimal", None)]
        except InvalidOperation:
            return []

    return run


def _f_of_type(params: list[dict[str, Any]]) -> Fn:
    _arity(params, 1)
    name = _type_name(params[0])
    return lambda focus, env: [i for i in focus if is_type(i, name)]


def _f_is(params: list[dict[str, Any]]) -> Fn:
    _arity(params, 1)
    name = _type_name(params[0])

    def run(focus: list[Item], env: Env) -> list[Item]:
        one = _single(focus, "is")
        return [] if one is None else _bool(is_type(one, name))

    return run


def _f_as(params: list[dict[str, Any]]) -> Fn:
    """``as(T)``: the items of type T (on a collection it filters, as the FHIR validator reads it)."""
    _arity(params, 1)
    name = _type_name(params[0])
    return lambda focus, env: [i for i in focus if is_type(i, name)]


def _children_of(item: Item) -> list[Item]:
    out: list[Item] = []
    data = item.data
    if not isinstance(data, dict):
        return out
    seen: set[str] = set()
    for key in data:
        name = key[1:] if key.startswith("_") else key
        if name in seen or name == "resourceType":
            continue
        seen.add(name)
        before = len(out)
        _navigate(item, name, out)
        if len(out) == before:  # a choice element keyed valueX: navigate by its base name
            for base in (name[:i] for i in range(len(name) - 1, 0, -1) if name[i].isupper()):
                _navigate(item, base, out)
                if len(out) > before:
                    break
    return out


def _f_children(params: list[dict[str, Any]]) -> Fn:
    _arity(params, 0)
    return lambda focus, env: [c for i in focus for c in _children_of(i)]


def _f_descendants(params: list[dict[str, Any]]) -> Fn:
    _arity(params, 0)

    def run(focus: list[Item], env: Env) -> list[Item]:
        out: list[Item] = []
        stack = [c for i in focus for c in reversed(_children_of(i))]
        while stack:
            item = stack.pop()
            out.append(item)
            stack.extend(reversed(_children_of(item)))
        return out

    return run


def _f_extension(params: list[dict[str, Any]]) -> Fn:
    _arity(params, 1)
    url_fn = _compile(params[0])

    def run(focus: list[Item], env: Env) -> list[Item]:
        url = _single(url_fn(env.this, env), "extension url")
        if url is None:
            return []
        out: list[Item] = []
        for item in focus:
            found: list[Item] = []
            _navigate(item, "extension", found)
            out.extend(e for e in found if isinstance(e.data, dict) and e.data.get("url") == url.data)
        return out

    return run


def _f_has_value(params: list[dict[str, Any]]) -> Fn:
    _arity(params, 0)
    return lambda focus, env: _bool(len(focus) == 1 and focus[0].data is not None
                                    and not isinstance(focus[0].data, dict | list))


def _f_resolve(params: list[dict[str, Any]]) -> Fn:
    _arity(params, 0)

    def run(focus: list[Item], env: Env) -> list[Item]:
        scope = fhir_functions.current_scope()
        out: list[Item] = []
        for item in focus:
            reference = item.data.get("reference") if isinstance(item.data, dict) else item.data
            if isinstance(reference, str):
                target = scope.resolve(reference)
                if target is not None:
                    out.append(item_of(target, None))
        return out

    return run


def _string_argument(params: list[dict[str, Any]]) -> Fn:
    _arity(params, 1)
    return _compile(params[0])


def _url_function(name: str, values: Callable[[list[Any], Any], list[bool]]) -> Callable[[list[dict[str, Any]]], Fn]:
    """A FHIR function taking one canonical URL (``conformsTo``, ``memberOf``), answered per input item."""

    def compile_call(params: list[dict[str, Any]]) -> Fn:
        url_fn = _string_argument(params)

        def run(focus: list[Item], env: Env) -> list[Item]:
            url = _single(url_fn(env.this, env), f"{name} url")
            if url is None or not focus:
                return []
            return [Item(v, "System.Boolean", None) for v in values([i.data for i in focus], url.data)]

        return run

    return compile_call


_f_conforms_to = _url_function("conformsTo", fhir_functions.conforms_to_values)
_f_member_of = _url_function("memberOf", fhir_functions.member_of_values)


def _f_html_checks(params: list[dict[str, Any]]) -> Fn:
    _arity(params, 0)
    return lambda focus, env: [Item(v, "System.Boolean", None) for v in
                               fhir_functions.html_checks_values([i.data for i in focus])]


_FUNCTIONS: dict[str, Callable[[list[dict[str, Any]]], Fn]] = {
    "exists": _f_exists, "empty": _f_empty, "not": _f_not, "where": _f_where, "all": _f_all,
    "select": _f_select, "count": _f_count, "first": _f_first, "last": _f_last, "tail": _f_tail,
    "single": _f_single, "skip": _f_skip_take(True), "take": _f_skip_take(False), "distinct": _f_distinct,
    "isDistinct": _f_is_distinct, "combine": _f_combine, "union": _f_union, "intersect": _f_intersect,
    "exclude": _f_exclude, "allTrue": _f_bool_aggregate("allTrue"), "anyTrue": _f_bool_aggregate("anyTrue"),
    "allFalse": _f_bool_aggregate("allFalse"), "anyFalse": _f_bool_aggregate("anyFalse"), "iif": _f_iif,
    "trace": _f_trace, "matches": _f_matches, "replaceMatches": _f_replace_matches,
    "startsWith": _f_starts_with, "endsWith": _f_ends_with, "contains": _f_contains, "length": _f_length,
    "upper": _f_upper, "lower": _f_lower, "indexOf": _f_index_of, "substring": _f_substring,
    "toInteger": _f_to_integer, "toString": _f_to_string, "toDecimal": _f_to_decimal, "ofType": _f_of_type,
    "is": _f_is, "as": _f_as, "children": _f_children, "descendants": _f_descendants,
    "extension": _f_extension, "hasValue": _f_has_value, "resolve": _f_resolve,
    "conformsTo": _f_conforms_to, "memberOf": _f_member_of, "htmlChecks": _f_html_checks,
}

_HANDLERS: dict[str, Callable[[dict[str, Any]], Fn]] = {
    "EntireExpression": _entire, "TermExpression": _term_expression, "InvocationTerm": _invocation_term,
    "InvocationExpression": _invocation_expression, "LiteralTerm": _literal_term,
    "ExternalConstantTerm": _external_constant_term, "ParenthesizedTerm": _parenthesized,
    "AndExpression": _logic, "OrExpression": _logic, "ImpliesExpression": _logic,
    "EqualityExpression": _equality, "InequalityExpression": _inequality,
    "MembershipExpression": _membership, "UnionExpression": _union, "AdditiveExpression": _additive,
    "MultiplicativeExpression": _multiplicative, "PolarityExpression": _polarity,
    "TypeExpression": _type_expression, "IndexerExpression": _indexer,
}
