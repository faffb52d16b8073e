"""The FHIRPath functions, compiled: existence, filtering and projection, subsetting, combining,
boolean aggregates, ``iif``, type functions and tree navigation; with the string functions of
:mod:`.strings` and the FHIR functions of :mod:`.fhir_functions`, all in :data:`FUNCTIONS`.

Each takes its parameters' parse-tree nodes and the compiler for them, and raises
:class:`~.values.Unsupported` for a call it does not cover.
"""

from __future__ import annotations

from typing import Any, Final

from nsp_sandbox.conformance.fhirpath.equality import distinct, equal_values
from nsp_sandbox.conformance.fhirpath.fhir_functions import FHIR_FUNCTIONS
from nsp_sandbox.conformance.fhirpath.model import children_of, is_type, navigate
from nsp_sandbox.conformance.fhirpath.strings import STRING_FUNCTIONS
from nsp_sandbox.conformance.fhirpath.values import (
    FALSE,
    TRUE,
    Compile,
    Env,
    FhirPathError,
    Fn,
    FunctionFactory,
    Item,
    arity,
    boolean,
    single,
    singleton_bool,
    type_name_of,
)


def with_this(expr: Fn, item: Item, env: Env) -> list[Item]:
    """Evaluate ``expr`` on ``item`` with ``$this`` bound to it."""
    saved = env.this
    env.this = [item]
    try:
        return expr([item], env)
    finally:
        env.this = saved


def _f_exists(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    arity(params, 0, 1)
    if not params:
        return lambda focus, env: TRUE if focus else FALSE
    criteria = compile_node(params[0])
    return lambda focus, env: boolean(any(singleton_bool(with_this(criteria, i, env)) for i in focus))


def _f_empty(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    arity(params, 0)
    return lambda focus, env: FALSE if focus else TRUE


def _f_not(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    arity(params, 0)

    def run(focus: list[Item], env: Env) -> list[Item]:
        if focus is TRUE:
            return FALSE
        if focus is FALSE:
            return TRUE
        value = singleton_bool(focus)
        return [] if value is None else boolean(not value)

    return run


def _f_where(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    arity(params, 1)
    criteria = compile_node(params[0])
    return lambda focus, env: [i for i in focus if singleton_bool(with_this(criteria, i, env)) is True]


def _f_all(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    arity(params, 1)
    criteria = compile_node(params[0])
    return lambda focus, env: boolean(all(singleton_bool(with_this(criteria, i, env)) is True for i in focus))


def _f_select(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    arity(params, 1)
    projection = compile_node(params[0])

    def run(focus: list[Item], env: Env) -> list[Item]:
        out: list[Item] = []
        for item in focus:
            out.extend(with_this(projection, item, env))
        return out

    return run


def _f_count(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    arity(params, 0)
    return lambda focus, env: [(len(focus), "System.Integer", None, None)]


def _f_first(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    arity(params, 0)
    return lambda focus, env: focus[:1]


def _f_last(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    arity(params, 0)
    return lambda focus, env: focus[-1:]


def _f_tail(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    arity(params, 0)
    return lambda focus, env: focus[1:]


def _f_single(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    arity(params, 0)

    def run(focus: list[Item], env: Env) -> list[Item]:
        if len(focus) > 1:
            raise FhirPathError("single() on more than one item")
        return focus

    return run


def _f_skip_take(skip: bool) -> FunctionFactory:
    def factory(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
        arity(params, 1)
        count = compile_node(params[0])

        def run(focus: list[Item], env: Env) -> list[Item]:
            n = single(count(env.this, env), "skip/take")
            if n is None or not isinstance(n[0], int):
                return []
            return focus[n[0]:] if skip else focus[:n[0]]

        return run
    return factory


def _f_distinct(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    arity(params, 0)
    return lambda focus, env: distinct(focus)


def _f_is_distinct(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    arity(params, 0)
    return lambda focus, env: boolean(len(distinct(focus)) == len(focus))


def _collection_param(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    arity(params, 1)
    other = compile_node(params[0])
    return lambda focus, env: other(env.this, env)


def _f_combine(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    other = _collection_param(params, compile_node)
    return lambda focus, env: focus + other(focus, env)


def _f_union(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    other = _collection_param(params, compile_node)
    return lambda focus, env: distinct(focus + other(focus, env))


def _f_intersect(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    other = _collection_param(params, compile_node)

    def run(focus: list[Item], env: Env) -> list[Item]:
        others = other(focus, env)
        return distinct([i for i in focus if any(equal_values(i, o) is True for o in others)])

    return run


def _f_exclude(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    other = _collection_param(params, compile_node)

    def run(focus: list[Item], env: Env) -> list[Item]:
        others = other(focus, env)
        return [i for i in focus if not any(equal_values(i, o) is True for o in others)]

    return run


def _f_bool_aggregate(kind: str) -> FunctionFactory:
    def factory(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
        arity(params, 0)

        def run(focus: list[Item], env: Env) -> list[Item]:
            values = [i[0] for i in focus]
            if any(not isinstance(v, bool) for v in values):
                raise FhirPathError(f"{kind}() on non-booleans")
            if kind == "allTrue":
                return boolean(all(values))
            if kind == "anyTrue":
                return boolean(any(values))
            if kind == "allFalse":
                return boolean(not any(values))
            return boolean(not all(values))

        return run
    return factory


def _f_iif(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    arity(params, 2, 3)
    criterion = compile_node(params[0])
    then = compile_node(params[1])
    otherwise = compile_node(params[2]) if len(params) == 3 else None

    def run(focus: list[Item], env: Env) -> list[Item]:
        if len(focus) > 1:
            raise FhirPathError("iif() on more than one item")
        subject = focus[0] if focus else None
        saved = env.this
        if subject is not None:
            env.this = [subject]
        try:
            start = [subject] if subject is not None else env.this
            decided = singleton_bool(criterion(start, env))
            if decided is True:
                return then(start, env)
            return otherwise(start, env) if otherwise is not None else []
        finally:
            env.this = saved

    return run


def _f_trace(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    arity(params, 1, 2)
    return lambda focus, env: focus


def _f_of_type(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    arity(params, 1)
    name = type_name_of(params[0])
    return lambda focus, env: [i for i in focus if is_type(i, name)]


def _f_is(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    arity(params, 1)
    name = type_name_of(params[0])

    def run(focus: list[Item], env: Env) -> list[Item]:
        one = single(focus, "is")
        return [] if one is None else boolean(is_type(one, name))

    return run


def _f_as(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    """``as(T)``: the items of type T (on a collection it filters, as the FHIR validator reads it)."""
    arity(params, 1)
    name = type_name_of(params[0])
    return lambda focus, env: [i for i in focus if is_type(i, name)]


def _f_children(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    arity(params, 0)
    return lambda focus, env: [c for i in focus for c in children_of(i)]


def _f_descendants(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    arity(params, 0)

    def run(focus: list[Item], env: Env) -> list[Item]:
        out: list[Item] = []
        for item in reversed(focus):  # the last item's first, as the engine has always given them
            _descend(item, out, 0)
        return out

    return run


def _descend(item: Item, out: list[Item], depth: int) -> None:
    """Append the descendants of ``item`` to ``out``, each followed by its own (depth first, in document order).

    Only an object has children: a primitive's item is not asked for any. Compiled, these calls are C calls
    that Python's recursion limit does not count, so below ``_DEEP`` levels the rest is walked with a stack.
    """
    if type(item[0]) is not dict:
        return
    if depth >= _DEEP:
        stack = list(reversed(children_of(item)))
        while stack:
            deeper = stack.pop()
            out.append(deeper)
            stack.extend(reversed(children_of(deeper)))
        return
    for child in children_of(item):
        out.append(child)
        _descend(child, out, depth + 1)


_DEEP: Final = 64  # levels walked by recursion; an HCO message's deepest element is about 12 levels down


def _f_extension(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    arity(params, 1)
    url_fn = compile_node(params[0])

    def run(focus: list[Item], env: Env) -> list[Item]:
        url = single(url_fn(env.this, env), "extension url")
        if url is None:
            return []
        out: list[Item] = []
        for item in focus:
            found: list[Item] = []
            navigate(item, "extension", found)
            out.extend(e for e in found if isinstance(e[0], dict) and e[0].get("url") == url[0])
        return out

    return run


def _f_has_value(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    arity(params, 0)
    return lambda focus, env: boolean(len(focus) == 1 and focus[0][0] is not None
                                    and not isinstance(focus[0][0], (dict, list)))


FUNCTIONS: dict[str, FunctionFactory] = {
    "exists": _f_exists, "empty": _f_empty, "not": _f_not, "where": _f_where, "all": _f_all,
    "select": _f_select, "count": _f_count, "first": _f_first, "last": _f_last, "tail": _f_tail,
    "single": _f_single, "skip": _f_skip_take(True), "take": _f_skip_take(False), "distinct": _f_distinct,
    "isDistinct": _f_is_distinct, "combine": _f_combine, "union": _f_union, "intersect": _f_intersect,
    "exclude": _f_exclude, "allTrue": _f_bool_aggregate("allTrue"), "anyTrue": _f_bool_aggregate("anyTrue"),
    "allFalse": _f_bool_aggregate("allFalse"), "anyFalse": _f_bool_aggregate("anyFalse"), "iif": _f_iif,
    "trace": _f_trace, "ofType": _f_of_type, "is": _f_is, "as": _f_as, "children": _f_children,
    "descendants": _f_descendants, "extension": _f_extension, "hasValue": _f_has_value,
    **STRING_FUNCTIONS, **FHIR_FUNCTIONS,
}
