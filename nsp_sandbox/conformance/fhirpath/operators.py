"""The FHIRPath operators, compiled: logic (three-valued), equality and equivalence, comparison,
membership, union, arithmetic, polarity, ``is`` / ``as`` and indexing.

Each takes its parse-tree node and the compiler for its operands; :data:`OPERATORS` maps the
node kinds to them.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from nsp_sandbox.conformance.fhirpath.equality import distinct, equal_values, is_temporal, temporal_key
from nsp_sandbox.conformance.fhirpath.model import is_type
from nsp_sandbox.conformance.fhirpath.values import (
    FALSE,
    TRUE,
    Compile,
    Env,
    FhirPathError,
    Fn,
    Item,
    Unsupported,
    as_text,
    boolean,
    child_nodes,
    identifier,
    operator_text,
    single,
    singleton_bool,
    type_name_of,
)


def _logic(node: dict[str, Any], compile_node: Compile) -> Fn:
    left, right = (compile_node(c) for c in child_nodes(node))
    op = operator_text(node)

    if op == "and":
        def run_and(focus: list[Item], env: Env) -> list[Item]:
            items = left(focus, env)
            a = True if items is TRUE else False if items is FALSE else singleton_bool(items)
            if a is False:
                return FALSE
            items = right(focus, env)
            b = True if items is TRUE else False if items is FALSE else singleton_bool(items)
            if b is False:
                return FALSE
            return TRUE if a is True and b is True else []
        return run_and
    if op == "or":
        def run_or(focus: list[Item], env: Env) -> list[Item]:
            items = left(focus, env)
            a = True if items is TRUE else False if items is FALSE else singleton_bool(items)
            if a is True:
                return TRUE
            items = right(focus, env)
            b = True if items is TRUE else False if items is FALSE else singleton_bool(items)
            if b is True:
                return TRUE
            return FALSE if a is False and b is False else []
        return run_or
    if op == "xor":
        def run_xor(focus: list[Item], env: Env) -> list[Item]:
            a = singleton_bool(left(focus, env))
            b = singleton_bool(right(focus, env))
            return [] if a is None or b is None else boolean(a != b)
        return run_xor
    if op == "implies":
        def run_implies(focus: list[Item], env: Env) -> list[Item]:
            items = left(focus, env)
            a = True if items is TRUE else False if items is FALSE else singleton_bool(items)
            if a is False:
                return TRUE
            items = right(focus, env)
            b = True if items is TRUE else False if items is FALSE else singleton_bool(items)
            if b is True:
                return TRUE
            if a is True:
                return boolean(b) if b is not None else []
            return [] if b is not True else TRUE
        return run_implies
    raise Unsupported(f"FHIRPath operator {op}")


def _equality(node: dict[str, Any], compile_node: Compile) -> Fn:
    left, right = (compile_node(c) for c in child_nodes(node))
    op = operator_text(node)

    def equal(a: list[Item], b: list[Item]) -> bool | None:
        if not a or not b:
            return None
        count = len(a)
        if count != len(b):
            return False
        if count == 1:  # the common case, without a zip (whose keyword alone costs more than the comparison)
            return equal_values(a[0], b[0])
        result: bool | None = True
        for i in range(count):
            same = equal_values(a[i], b[i])
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
        remaining = [norm(y[0]) for y in b]
        for x in a:
            value = norm(x[0])
            if value in remaining:
                remaining.remove(value)
            else:
                return False
        return True

    if op == "=":
        return lambda focus, env: boolean(equal(left(focus, env), right(focus, env)))
    if op == "!=":
        def not_equal(focus: list[Item], env: Env) -> list[Item]:
            result = equal(left(focus, env), right(focus, env))
            return [] if result is None else boolean(not result)
        return not_equal
    if op == "~":
        return lambda focus, env: boolean(equivalent(left(focus, env), right(focus, env)))
    if op == "!~":
        return lambda focus, env: boolean(not equivalent(left(focus, env), right(focus, env)))
    raise Unsupported(f"FHIRPath operator {op}")


def _inequality(node: dict[str, Any], compile_node: Compile) -> Fn:
    left, right = (compile_node(c) for c in child_nodes(node))
    op = operator_text(node)

    def run(focus: list[Item], env: Env) -> list[Item]:
        a = single(left(focus, env), op)
        b = single(right(focus, env), op)
        if a is None or b is None:
            return []
        x, y = a[0], b[0]
        if isinstance(x, str) and isinstance(y, str) and (is_temporal(a) or is_temporal(b) or (
                temporal_key(x) and temporal_key(y))):
            kx, ky = temporal_key(x), temporal_key(y)
            if kx is None or ky is None or kx[0] != ky[0]:
                return []
            x, y = kx[1], ky[1]
        elif isinstance(x, (int, float, Decimal)) and isinstance(y, (int, float, Decimal)):
            x, y = Decimal(str(x)), Decimal(str(y))
        elif type(x) is not type(y):
            raise FhirPathError(f"cannot compare {type(x).__name__} with {type(y).__name__}")
        if op == "<":
            return boolean(x < y)
        if op == "<=":
            return boolean(x <= y)
        if op == ">":
            return boolean(x > y)
        return boolean(x >= y)

    return run


def _membership(node: dict[str, Any], compile_node: Compile) -> Fn:
    left, right = (compile_node(c) for c in child_nodes(node))
    op = operator_text(node)

    def contained(element: list[Item], collection: list[Item]) -> list[Item]:
        # As the FHIR validator reads it: every item on the left must be in the collection.
        if not element:
            return []
        return boolean(all(any(equal_values(one, other) is True for other in collection) for one in element))

    operands = _union_operands(child_nodes(node)[1]) if op == "in" else None
    if operands is not None:
        # ``x in (a | b | …)``, each operand a plain navigation: the operands one by one, until every text on
        # the left has been met. True then, as over the whole union: a text equal to one of an operand's
        # texts is equal to what the union keeps of it. Otherwise the union, as written. (dom-3's
        # ``'#'+id in (%resource.descendants().reference | ….as(canonical) | ….as(uri) | ….as(url))``
        # mostly ends at the first operand, without three type filters over every descendant.)
        parts = [compile_node(operand) for operand in operands]

        def run_in(focus: list[Item], env: Env) -> list[Item]:
            element = left(focus, env)
            if element and all(type(one[0]) is str and not is_temporal(one) for one in element):
                wanted = {one[0] for one in element}
                for part in parts:
                    for item in part(focus, env):
                        text = item[0]
                        if type(text) is str and text in wanted and not is_temporal(item):
                            wanted.discard(text)
                    if not wanted:
                        return TRUE
            return contained(element, right(focus, env))

        return run_in
    if op == "in":
        return lambda focus, env: contained(left(focus, env), right(focus, env))
    if op == "contains":
        return lambda focus, env: contained(right(focus, env), left(focus, env))
    raise Unsupported(f"FHIRPath operator {op}")


# Steps that select and never fail: what a union operand may be made of for ``in`` to read it operand by operand.
_PLAIN_FUNCTIONS: Final = frozenset({"descendants", "children", "as", "ofType"})
_PLAIN_CONSTANTS: Final = frozenset({"resource", "rootResource"})


def _union_operands(node: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The operands of a union ``(a | b | …)``, in order, when each is a plain navigation (from ``%resource``,
    ``%rootResource`` or the focus, by members, ``descendants()``, ``children()``, ``as(T)`` and ``ofType(T)``,
    none of which ends in an error); else None."""
    while node.get("type") in ("TermExpression", "ParenthesizedTerm") and len(child_nodes(node)) == 1:
        node = child_nodes(node)[0]
    if node.get("type") != "UnionExpression":
        return None
    operands: list[dict[str, Any]] = []
    pending = [node]
    while pending:
        current = pending.pop()
        if current.get("type") == "UnionExpression":
            pending.extend(reversed(child_nodes(current)))
        else:
            operands.append(current)
    return operands if all(_plain_navigation(o) for o in operands) else None


def _plain_navigation(node: dict[str, Any]) -> bool:
    kind = node.get("type")
    children = child_nodes(node)
    if kind == "InvocationExpression" and len(children) == 2:
        step = children[1]
        if step.get("type") == "MemberInvocation":
            return _plain_navigation(children[0])
        if step.get("type") == "FunctionInvocation":
            name = identifier(child_nodes(child_nodes(step)[0])[0])
            return name in _PLAIN_FUNCTIONS and _plain_navigation(children[0])
        return False
    if kind == "TermExpression" and len(children) == 1:
        return _plain_navigation(children[0])
    if kind == "ExternalConstantTerm" and len(children) == 1:
        constant = child_nodes(children[0])
        return len(constant) == 1 and identifier(constant[0]) in _PLAIN_CONSTANTS
    if kind == "InvocationTerm" and len(children) == 1:
        return children[0].get("type") in ("MemberInvocation", "ThisInvocation")
    return False


def _union(node: dict[str, Any], compile_node: Compile) -> Fn:
    left, right = (compile_node(c) for c in child_nodes(node))
    return lambda focus, env: distinct(left(focus, env) + right(focus, env))


def _additive(node: dict[str, Any], compile_node: Compile) -> Fn:
    left, right = (compile_node(c) for c in child_nodes(node))
    op = operator_text(node)

    def run(focus: list[Item], env: Env) -> list[Item]:
        a = single(left(focus, env), op)
        b = single(right(focus, env), op)
        if op == "&":
            return [(("" if a is None else as_text(a[0])) + ("" if b is None else as_text(b[0])),
                     "System.String", None, None)]
        if a is None or b is None:
            return []
        x, y = a[0], b[0]
        if isinstance(x, str) and isinstance(y, str) and op == "+":
            return [(x + y, "System.String", None, None)]
        if type(x) is int and type(y) is int:
            return [(x + y if op == "+" else x - y, "System.Integer", None, None)]
        if isinstance(x, (int, float, Decimal)) and isinstance(y, (int, float, Decimal)) and not (
                isinstance(x, bool) or isinstance(y, bool)):
            value = Decimal(str(x)) + Decimal(str(y)) if op == "+" else Decimal(str(x)) - Decimal(str(y))
            return [(value, "System.Decimal", None, None)]
        raise FhirPathError(f"cannot apply {op} to these values")

    return run


def _multiplicative(node: dict[str, Any], compile_node: Compile) -> Fn:
    left, right = (compile_node(c) for c in child_nodes(node))
    op = operator_text(node)

    def run(focus: list[Item], env: Env) -> list[Item]:
        a = single(left(focus, env), op)
        b = single(right(focus, env), op)
        if a is None or b is None:
            return []
        x, y = a[0], b[0]
        if type(x) is int and type(y) is int and op != "/":
            if op == "*":
                return [(x * y, "System.Integer", None, None)]
            if y == 0:
                return []
            if op == "div":
                return [(int(x / y), "System.Integer", None, None)]
            if op == "mod":
                return [(x - y * int(x / y), "System.Integer", None, None)]
        if not (isinstance(x, (int, float, Decimal)) and isinstance(y, (int, float, Decimal))):
            raise FhirPathError(f"cannot apply {op} to non-numbers")
        dx, dy = Decimal(str(x)), Decimal(str(y))
        integers = isinstance(x, int) and isinstance(y, int)
        try:
            if op == "*":
                value = dx * dy
            elif op == "/":
                if dy == 0:
                    return []
                return [(dx / dy, "System.Decimal", None, None)]
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
            return [(int(value), "System.Integer", None, None)]
        return [(value, "System.Decimal", None, None)]

    return run


def _polarity(node: dict[str, Any], compile_node: Compile) -> Fn:
    inner = compile_node(child_nodes(node)[0])
    op = operator_text(node)

    def run(focus: list[Item], env: Env) -> list[Item]:
        one = single(inner(focus, env), op)
        if one is None:
            return []
        if not isinstance(one[0], (int, float, Decimal)):
            raise FhirPathError("polarity of a non-number")
        return [(-one[0] if op == "-" else one[0], one[1], None, None)]

    return run


def _type_expression(node: dict[str, Any], compile_node: Compile) -> Fn:
    source_node, type_node = child_nodes(node)
    source = compile_node(source_node)
    name = type_name_of(type_node)
    op = operator_text(node)

    def run(focus: list[Item], env: Env) -> list[Item]:
        items = source(focus, env)
        if op == "is":
            one = single(items, "is")
            return [] if one is None else boolean(is_type(one, name))
        one = single(items, "as")
        return [] if one is None or not is_type(one, name) else [one]

    return run


def _indexer(node: dict[str, Any], compile_node: Compile) -> Fn:
    source_node, index_node = child_nodes(node)
    source = compile_node(source_node)
    index = compile_node(index_node)

    def run(focus: list[Item], env: Env) -> list[Item]:
        items = source(focus, env)
        which = single(index(focus, env), "[]")
        if which is None or not isinstance(which[0], int):
            return []
        return [items[which[0]]] if 0 <= which[0] < len(items) else []

    return run


OPERATORS: dict[str, Callable[[dict[str, Any], Compile], Fn]] = {
    "AndExpression": _logic, "OrExpression": _logic, "ImpliesExpression": _logic,
    "EqualityExpression": _equality, "InequalityExpression": _inequality,
    "MembershipExpression": _membership, "UnionExpression": _union, "AdditiveExpression": _additive,
    "MultiplicativeExpression": _multiplicative, "PolarityExpression": _polarity,
    "TypeExpression": _type_expression, "IndexerExpression": _indexer,
}
