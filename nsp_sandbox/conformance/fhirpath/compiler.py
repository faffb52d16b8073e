"""A FHIRPath compiler for constraint expressions: fhirpathpy's parse tree turned into closures.

fhirpathpy interprets its parse tree on every call (about 50-1000 µs per constraint); a message
with a few hundred constraint evaluations would take tens of milliseconds. This module compiles
the same parse tree (``fhirpathpy.parser.parse``) once into nested Python closures over plain
dicts, with the R4 type model fhirpathpy ships (choice elements, element types: :mod:`.model`),
and evaluates in a few microseconds.

It covers the FHIRPath used by FHIR constraints (navigation, operators with three-valued logic,
the existence / filtering / subsetting / string / conversion / type functions, and the FHIR
functions of :mod:`.fhir_functions`). Anything else raises :class:`Unsupported` at compile
time and the caller evaluates that expression with fhirpathpy instead. Runtime errors (a
non-singleton where one is required, …) raise :class:`FhirPathError`.

This module compiles an expression's structure: navigation, invocations, literals and constants;
the operators are compiled by :mod:`.operators` and the functions by :mod:`.functions`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache
from typing import Any, Final

from fhirpathpy.parser import parse

from nsp_sandbox.conformance.fhirpath.functions import FUNCTIONS
from nsp_sandbox.conformance.fhirpath.model import navigate
from nsp_sandbox.conformance.fhirpath.operators import OPERATORS
from nsp_sandbox.conformance.fhirpath.values import (
    FALSE,
    TRUE,
    Compile,
    Env,
    Fn,
    Item,
    Unsupported,
    child_nodes,
    identifier,
)


class Program:
    """A compiled expression: ``program(focus, resource, root)`` gives the result as plain values.

    ``roots`` is set when the expression reads its focus only by navigating these child names
    (no functions or ``$this`` on the focus itself, no variables, no resolve/terminology/narrative
    functions): its value then depends only on those children, and when the focus has none of them
    the value is the same for every such focus of one type — the caller may keep it. ``guards`` is set
    when the expression is a chain that starts by navigating one of these children
    (``contained.where(…).empty()``) and goes on only with navigation and functions that answer an empty
    collection without evaluating their arguments: a focus without that child then gives one value,
    whatever the rest of the expression reads — the caller may keep that too. ``pure``: the
    expression calls no such function; with no variables either, its value on a primitive focus
    depends only on that value and its type.
    """

    __slots__ = ("body", "guards", "pure", "reads_env", "roots", "uses_constants")

    def __init__(self, body: Fn, roots: frozenset[str] | None, uses_constants: bool = True,
                 pure: bool = False, reads_env: bool = True, guards: frozenset[str] | None = None) -> None:
        self.body = body
        self.roots = roots
        self.guards = guards
        self.uses_constants = uses_constants  # False: never reads %resource / %rootResource / %context
        self.pure = pure  # calls nothing that reads beyond its input (resolve, terminology, narrative, clock)
        self.reads_env = reads_env  # False: no variable, $this or function argument: the Env is never used

    def __call__(self, focus: Item, resource: Item, root: Item) -> list[Any]:
        start = [focus]
        result = self.body(start, Env(start, [resource], [root]) if self.reads_env else _UNUSED_ENV)
        if result is TRUE:
            return [True]
        if result is FALSE:
            return [False]
        return [i[0] for i in result]


@lru_cache(maxsize=4096)
def compile_expression(expression: str) -> Program:
    """Compile ``expression`` (raises :class:`Unsupported` for what this compiler does not cover)."""
    tree = parse(expression)["children"][0]
    return Program(_compile(tree), _root_names(tree), _uses_constant(tree), not _calls_impure(tree),
                   _reads_env(tree), _guard_names(tree))


# An expression without these never reads nor sets its Env (variables, $this, the focus a function's
# arguments are evaluated on, the memo of constant subexpressions): one shared Env serves them all.
_ENV_NODES: Final = frozenset({"ParamList", "ThisInvocation", "ExternalConstantTerm", "IndexInvocation",
                               "TotalInvocation"})
_UNUSED_ENV: Final = Env([], [], [])


def _reads_env(node: dict[str, Any]) -> bool:
    return node.get("type") in _ENV_NODES or any(_reads_env(c) for c in child_nodes(node))


def _calls_impure(node: dict[str, Any]) -> bool:
    if node.get("type") == "Functn" and identifier(child_nodes(node)[0]) in _IMPURE_FUNCTIONS:
        return True
    return any(_calls_impure(c) for c in child_nodes(node))


_IMPURE_FUNCTIONS: Final = frozenset({"resolve", "conformsTo", "memberOf", "htmlChecks", "children", "descendants",
                                      "hasValue", "now", "today", "timeOfDay"})


def _root_names(tree: dict[str, Any]) -> frozenset[str] | None:
    """The child names an expression reads from its focus, if it reads the focus only that way."""
    names: set[str] = set()

    def visit(node: dict[str, Any]) -> bool:
        kind = node.get("type")
        if kind == "ExternalConstantTerm":
            return False
        if kind == "Functn" and identifier(child_nodes(node)[0]) in _IMPURE_FUNCTIONS:
            return False
        if kind == "InvocationTerm":
            inner = child_nodes(node)[0]
            if inner.get("type") != "MemberInvocation":
                return False  # a function or $this applied to the focus itself
            name = identifier(child_nodes(inner)[0])
            if name[:1].isupper():
                return False  # a type name selecting the focus
            names.add(name)
            return True
        return all(visit(c) for c in child_nodes(node))

    return frozenset(names) if visit(tree) else None


# Functions that answer an empty collection with a fixed value (empty, true, false, 0) and evaluate their
# arguments, if any, once per item of their input: on an empty input never.
_EMPTY_FIXED: Final = frozenset({"where", "select", "trace", "exists", "empty", "all", "not", "count", "first", "last",
                                 "ofType"})


def _guard_names(node: dict[str, Any]) -> frozenset[str] | None:
    """The child a chain expression starts from, when the rest of it is navigation and :data:`_EMPTY_FIXED`
    functions (see :class:`Program`); None for any other expression."""
    kind = node.get("type")
    if kind == "TermExpression":
        term = child_nodes(node)[0]
        if term.get("type") != "InvocationTerm":
            return None
        member = child_nodes(term)[0]
        if member.get("type") != "MemberInvocation":
            return None
        name = identifier(child_nodes(member)[0])
        return None if name[:1].isupper() else frozenset({name})  # a type name selects the focus itself
    if kind == "InvocationExpression":
        left, right = child_nodes(node)
        step = right.get("type")
        if step == "MemberInvocation" or (
                step == "FunctionInvocation" and identifier(child_nodes(child_nodes(right)[0])[0]) in _EMPTY_FIXED):
            return _guard_names(left)
    return None


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
_MEMO_KINDS: Final = frozenset({"EqualityExpression", "InvocationExpression", "OrExpression", "AndExpression",
                                "MembershipExpression", "UnionExpression", "ParenthesizedTerm"})


# Functions whose parameter is a type name, read at compile time and never evaluated on the focus.
_TYPE_PARAMETER_FUNCTIONS: Final = frozenset({"as", "is", "ofType"})


def _independent(node: dict[str, Any]) -> bool:
    kind = node.get("type")
    if kind == "InvocationTerm":
        return False
    if kind == "ExternalConstantTerm" and "context" in repr(node):
        return False
    if kind == "Functn" and identifier(child_nodes(node)[0]) in _TYPE_PARAMETER_FUNCTIONS:
        return True  # ``as(canonical)``: the parameter names a type (its input is judged by the caller)
    return all(_independent(c) for c in child_nodes(node))


def _uses_constant(node: dict[str, Any]) -> bool:
    return node.get("type") == "ExternalConstantTerm" or any(_uses_constant(c) for c in child_nodes(node))


def _memoised(fn: Fn, key: str) -> Fn:
    def run(focus: list[Item], env: Env) -> list[Item]:
        found = env.memo.get(key)
        if found is None:
            found = fn(focus, env)
            env.memo[key] = found
        return found

    return run


def _entire(node: dict[str, Any]) -> Fn:
    return _compile(child_nodes(node)[0])


def _term_expression(node: dict[str, Any]) -> Fn:
    return _compile(child_nodes(node)[0])


def _invocation_term(node: dict[str, Any]) -> Fn:
    inner = child_nodes(node)[0]
    return _invocation(inner, at_root=True)


def _invocation_expression(node: dict[str, Any]) -> Fn:
    left, right = child_nodes(node)
    source = _compile(left)
    # The two commonest steps run inline (one call less per step): a member (``.code``) and a
    # parameterless ``exists()`` / ``empty()``; they mean what :func:`_member` and the functions do.
    if right.get("type") == "MemberInvocation":
        name = identifier(child_nodes(right)[0])

        def run_member(focus: list[Item], env: Env) -> list[Item]:
            out: list[Item] = []
            for item in source(focus, env):
                navigate(item, name, out)
            return out

        return run_member
    if right.get("type") == "FunctionInvocation":
        call = child_nodes(right)[0]
        parts = child_nodes(call)
        if len(parts) == 1 and identifier(parts[0]) in ("exists", "empty"):
            if identifier(parts[0]) == "exists":
                return lambda focus, env: TRUE if source(focus, env) else FALSE
            return lambda focus, env: FALSE if source(focus, env) else TRUE
    step = _invocation(right, at_root=False)

    def run(focus: list[Item], env: Env) -> list[Item]:
        return step(source(focus, env), env)

    return run


def _invocation(node: dict[str, Any], at_root: bool) -> Fn:
    kind = node.get("type")
    if kind == "MemberInvocation":
        name = identifier(child_nodes(node)[0])
        return _member(name, at_root)
    if kind == "FunctionInvocation":
        return _function(child_nodes(node)[0])
    if kind == "ThisInvocation":
        return lambda focus, env: env.this
    raise Unsupported(f"FHIRPath invocation {kind}")


def _member(name: str, at_root: bool) -> Fn:
    type_name = at_root and name[:1].isupper()

    def run(focus: list[Item], env: Env) -> list[Item]:
        if type_name and len(focus) == 1:
            # A leading type name (``Bundle.entry``) selects the focus when it has that type.
            item = focus[0]
            if isinstance(item[0], dict) and item[0].get("resourceType") == name:
                return focus
        out: list[Item] = []
        for item in focus:
            navigate(item, name, out)
        return out

    return run


def _literal_term(node: dict[str, Any]) -> Fn:
    literal = child_nodes(node)[0]
    kind = literal.get("type")
    text = literal.get("text") or "".join(literal.get("terminalNodeText") or [])
    value: Any
    result: list[Item]
    if kind == "StringLiteral":
        value = _unescape(text[1:-1])
        result = [(value, "System.String", None, None)]
    elif kind == "NumberLiteral":
        value = int(text) if re.fullmatch(r"[0-9]+", text) else Decimal(text)
        result = [(value, "System.Integer" if isinstance(value, int) else "System.Decimal", None, None)]
    elif kind == "BooleanLiteral":
        result = [(text == "true", "System.Boolean", None, None)]
    elif kind == "NullLiteral":
        result = []
    else:
        raise Unsupported(f"FHIRPath literal {kind}")
    return lambda focus, env: result


def _unescape(text: str) -> str:
    return re.sub(r"\\(u[0-9a-fA-F]{4}|.)", lambda m: (
        chr(int(m.group(1)[1:], 16)) if m.group(1).startswith("u") and len(m.group(1)) == 5 else
        {"n": "\n", "r": "\r", "t": "\t", "f": "\f"}.get(m.group(1), m.group(1))), text)


_CONSTANTS: Final = {"ucum": "http://unitsofmeasure.org", "sct": "http://snomed.info/sct", "loinc": "http://loinc.org"}


def _external_constant_term(node: dict[str, Any]) -> Fn:
    constant = child_nodes(node)[0]
    inner = child_nodes(constant)[0]
    name = inner.get("text") or "".join(inner.get("terminalNodeText") or [])
    name = name.strip("`'\"")
    if name == "resource":
        return lambda focus, env: env.resource
    if name == "rootResource":
        return lambda focus, env: env.root
    if name == "context":
        return lambda focus, env: env.context
    if name in _CONSTANTS:
        result: list[Item] = [(_CONSTANTS[name], "System.String", None, None)]
        return lambda focus, env: result
    raise Unsupported(f"FHIRPath constant %{name}")


def _parenthesized(node: dict[str, Any]) -> Fn:
    return _compile(child_nodes(node)[0])


# ---- function calls ----------------------------------------------------------------------------


def _function(node: dict[str, Any]) -> Fn:
    children = child_nodes(node)
    name = identifier(children[0])
    params = [] if len(children) < 2 else child_nodes(children[1])
    factory = FUNCTIONS.get(name)
    if factory is None:
        raise Unsupported(f"FHIRPath function {name}()")
    return factory(params, _compile)


def _with_operands(operator: Callable[[dict[str, Any], Compile], Fn]) -> Callable[[dict[str, Any]], Fn]:
    return lambda node: operator(node, _compile)


_HANDLERS: Final[dict[str, Callable[[dict[str, Any]], Fn]]] = {
    "EntireExpression": _entire, "TermExpression": _term_expression, "InvocationTerm": _invocation_term,
    "InvocationExpression": _invocation_expression, "LiteralTerm": _literal_term,
    "ExternalConstantTerm": _external_constant_term, "ParenthesizedTerm": _parenthesized,
    **{kind: _with_operands(operator) for kind, operator in OPERATORS.items()},
}
