"""The FHIR-specific FHIRPath functions fhirpathpy lacks, plugged in through ``userInvocationTable``.

``resolve()``, ``hasValue()``, ``conformsTo(url)``, ``memberOf(vs)`` and ``htmlChecks()`` need to
know where they are evaluated: the Bundle the focus sits in, the validator (for conformance), the
terminology, and which constraint is running. The validator sets that :class:`EvaluationScope` in a
context variable around each evaluation; the functions read it. A function that cannot answer
(an unknown profile or value set) raises :class:`NotChecked`, which turns the constraint into a
"not checked" finding instead of a silent pass or a false failure.

They exist twice, with one meaning: as fhirpathpy user functions (:data:`USER_FUNCTIONS`, on plain
values) and compiled (:data:`FHIR_FUNCTIONS`, on :class:`~.values.Item` collections).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final

from nsp_sandbox.conformance.fhirpath.narrative import narrative_checks, narrative_problems
from nsp_sandbox.conformance.fhirpath.values import (
    FALSE,
    TRUE,
    Compile,
    Env,
    Fn,
    FunctionFactory,
    Item,
    arity,
    item_of,
    single,
)


class NotChecked(Exception):
    """A function could not answer (unknown profile, value set, unresolvable input)."""


class EvaluationScope:
    """What the FHIR functions see during one evaluation.

    A plain class with its own ``__init__``: compiled, a dataclass's generated ``__init__`` would
    still run as Python, and the walk makes one scope per resource it checks."""

    def __init__(self, resolve: Callable[[str], dict[str, Any] | None],
                 conforms_to: Callable[[dict[str, Any], str], bool | None],
                 member_of: Callable[[Any, str], bool | None], constraint_key: str | None = None,
                 narratives: dict[int, tuple[Any, tuple[list[str], list[str]]]] | None = None) -> None:
        self.resolve = resolve
        self.conforms_to = conforms_to
        self.member_of = member_of
        self.constraint_key = constraint_key
        self.narratives: dict[int, tuple[Any, tuple[list[str], list[str]]]] = \
            {} if narratives is None else narratives


_scope: Final[contextvars.ContextVar[EvaluationScope | None]] = contextvars.ContextVar("fhirpath_scope", default=None)
SCOPE = _scope
"""The evaluation scope's context variable (``SCOPE.set`` / ``SCOPE.reset`` as enter_scope / leave_scope)."""


@contextmanager
def evaluation_scope(scope: EvaluationScope) -> Iterator[EvaluationScope]:
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


def enter_scope(scope: EvaluationScope) -> contextvars.Token[EvaluationScope | None]:
    return _scope.set(scope)


def leave_scope(token: contextvars.Token[EvaluationScope | None]) -> None:
    _scope.reset(token)


def current_scope() -> EvaluationScope:
    scope = _scope.get()
    if scope is None:
        raise NotChecked("no evaluation scope (resolve/conformsTo/memberOf used outside validation)")
    return scope


def _resolve(inputs: list[Any]) -> list[Any]:
    scope = current_scope()
    out = []
    for item in inputs:
        reference = item.get("reference") if isinstance(item, dict) else item
        if isinstance(reference, str):
            target = scope.resolve(reference)
            if target is not None:
                out.append(target)
    return out


def _has_value(inputs: list[Any]) -> list[bool]:
    return [len(inputs) == 1 and inputs[0] is not None and not isinstance(inputs[0], (dict, list))]


def conforms_to_values(inputs: list[Any], url: Any) -> list[bool]:
    """``conformsTo(url)`` for each input resource."""
    if not inputs:
        return []
    scope = current_scope()
    urls = url if isinstance(url, list) else [url]
    if len(urls) != 1 or not isinstance(urls[0], str):
        raise NotChecked("conformsTo() needs one profile URL")
    results = []
    for item in inputs:
        if not isinstance(item, dict) or "resourceType" not in item:
            results.append(False)
            continue
        answer = scope.conforms_to(item, urls[0])
        if answer is None:
            raise NotChecked(f"profile {urls[0]} is not available in the loaded packages")
        results.append(answer)
    return results


def member_of_values(inputs: list[Any], value_set: Any) -> list[bool]:
    """``memberOf(vs)`` for each input code, Coding or CodeableConcept."""
    if not inputs:
        return []
    scope = current_scope()
    urls = value_set if isinstance(value_set, list) else [value_set]
    if len(urls) != 1 or not isinstance(urls[0], str):
        raise NotChecked("memberOf() needs one value set URL")
    results = []
    for item in inputs:
        answer = scope.member_of(item, urls[0])
        if answer is None:
            raise NotChecked(f"membership of value set {urls[0]} could not be checked")
        results.append(answer)
    return results


def html_checks_values(inputs: list[Any]) -> list[bool]:
    """``htmlChecks()``: the narrative check of the running constraint (txt-1 / txt-2)."""
    if not inputs:
        return []
    scope = _scope.get()
    key = scope.constraint_key if scope else None
    results = []
    for item in inputs:
        if scope is None:
            results.append(not narrative_problems(item, key))
            continue
        cached = scope.narratives.get(id(item))
        if cached is None or cached[0] is not item:
            cached = (item, narrative_checks(item))
            scope.narratives[id(item)] = cached
        markup, content = cached[1]
        problems = markup if key == "txt-1" else content if key == "txt-2" else markup + content
        results.append(not problems)
    return results


USER_FUNCTIONS: dict[str, dict[str, Any]] = {
    "resolve": {"fn": _resolve, "arity": {0: []}},
    "hasValue": {"fn": _has_value, "arity": {0: []}},
    "conformsTo": {"fn": conforms_to_values, "arity": {1: ["String"]}},
    "memberOf": {"fn": member_of_values, "arity": {1: ["String"]}},
    "htmlChecks": {"fn": html_checks_values, "arity": {0: []}},
}


# ---- compiled ---------------------------------------------------------------------------------


def _f_resolve(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    arity(params, 0)

    def run(focus: list[Item], env: Env) -> list[Item]:
        scope = current_scope()
        out: list[Item] = []
        for item in focus:
            reference = item[0].get("reference") if isinstance(item[0], dict) else item[0]
            if isinstance(reference, str):
                target = scope.resolve(reference)
                if target is not None:
                    out.append(item_of(target, None))
        return out

    return run


def _string_argument(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    arity(params, 1)
    return compile_node(params[0])


def _url_function(name: str, values: Callable[[list[Any], Any], list[bool]]) -> FunctionFactory:
    """A FHIR function taking one canonical URL (``conformsTo``, ``memberOf``), answered per input item."""

    def compile_call(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
        url_fn = _string_argument(params, compile_node)

        def run(focus: list[Item], env: Env) -> list[Item]:
            url = single(url_fn(env.this, env), f"{name} url")
            if url is None or not focus:
                return []
            return [(v, "System.Boolean", None, None) for v in values([i[0] for i in focus], url[0])]

        return run

    return compile_call


_f_conforms_to: FunctionFactory = _url_function("conformsTo", conforms_to_values)
_f_member_of: FunctionFactory = _url_function("memberOf", member_of_values)


def _f_html_checks(params: list[dict[str, Any]], compile_node: Compile) -> Fn:
    arity(params, 0)
    return lambda focus, env: [TRUE[0] if v else FALSE[0] for v in html_checks_values([i[0] for i in focus])]


FHIR_FUNCTIONS: dict[str, FunctionFactory] = {
    "resolve": _f_resolve, "conformsTo": _f_conforms_to, "memberOf": _f_member_of, "htmlChecks": _f_html_checks,
}
