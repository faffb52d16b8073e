"""Constraints (``ElementDefinition.constraint``) evaluated as FHIRPath.

Each expression is parsed by fhirpathpy and compiled once (kept per expression). Two engines share
that parse: :mod:`.fhirpath` compiles it into closures (microseconds per evaluation) and is
used whenever it covers the expression; anything it does not cover is evaluated by fhirpathpy
itself. ``InvariantEngine(engine="fhirpathpy")`` uses fhirpathpy for everything (the tests compare
both engines on every constraint of the loaded packages).

Evaluation sees plain dicts with the focus's FHIR type (so ``value`` finds ``valueQuantity``),
``%resource`` / ``%rootResource``, and the FHIR functions of :mod:`.fhirpath.fhir_functions`. The result
is read as the FHIR validator reads it: ``true`` passes; ``false`` or empty fails. An expression
that cannot be evaluated is reported as "not checked" (information, naming the constraint key),
never passed silently.

Two constraints present on every element are checked structurally by the walker instead of through
FHIRPath, recognised by their exact expression text: ``ele-1`` (an element has a value or
children) and ``ext-1`` (an extension has a value or nested extensions, not both).

A few more are answered at once where the shape of the data decides them, recognised the same way, and evaluated
as written otherwise (:mod:`.shortcuts`).
"""

from __future__ import annotations

import re
import threading
from typing import Any, Final, Literal

import fhirpathpy
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models

from nsp_sandbox.conformance.fhirpath import (
    CHOICE_NAMES,
    SCOPE,
    USER_FUNCTIONS,
    EvaluationScope,
    FhirPathError,
    NotChecked,
    Program,
    Unsupported,
    compile_expression,
    enter_scope,
    evaluation_scope,
    item_of,
    leave_scope,
)
from nsp_sandbox.conformance.shortcuts import Runner, answered_at_once
from nsp_sandbox.conformance.structure import Constraint, ElementNode
from nsp_sandbox.kept import kept
from nsp_sandbox.outcome import Issue, Severity

# Expressions the walker checks natively (same meaning, no FHIRPath evaluation per element).
STRUCTURAL_EXPRESSIONS: Final = frozenset({
    "hasValue() or (children().count() > id.count())",
    "hasValue() or (children().count() > id.count()) or $this is Parameters",
    "extension.exists() != value.exists()",
})

_LEADING_VALUE: Final = re.compile(r"^value\b(?!\s*\()")
_OPTIONS: Final = {"userInvocationTable": USER_FUNCTIONS, "traceFn": lambda *_args: None}
_R4: Final = models["r4"]

Engine = Literal["compiled", "fhirpathpy"]


def is_structural(constraint: Constraint) -> bool:
    return constraint.expression in STRUCTURAL_EXPRESSIONS


def evaluated_constraints(node: ElementNode,
                          extra: tuple[Constraint, ...]) -> tuple[tuple[Constraint, str], ...]:
    """The constraints of ``node`` (and its type) that need FHIRPath, each with its issue source; cached."""
    if not extra:
        found = node.evaluated
        if found is not None:
            return found
        key: Any = None
    else:
        key = id(extra)  # a type's root constraints, kept by the library: compared by identity below
        kept = node.derived.get(key)
        if kept is not None and kept[0] is extra:
            return kept[1]  # type: ignore[no-any-return]
    seen: set[str] = set()
    out: list[tuple[Constraint, str]] = []
    for constraint in node.constraints + extra:
        if constraint.key in seen or is_structural(constraint) or constraint.key == "ext-1":
            continue
        seen.add(constraint.key)
        out.append((constraint, f"{node.structure.url}#{constraint.key}"))
    result = tuple(out)
    if key is None:
        node.evaluated = result
    else:
        node.derived[key] = (extra, result)
    return result


def _compiled_runner(text: str) -> Runner:
    program = compile_expression(text)
    runner = answered_at_once(text, _program_runner(program))
    if program.roots is None and program.guards is not None:
        return _guarded(runner, program.guards)
    return runner


def _guarded(runner: Runner, guards: frozenset[str]) -> Runner:
    """``runner``, its answer kept per type for a focus without the child the expression starts from (see
    :class:`~nsp_sandbox.conformance.fhirpath.compiler.Program`: ``dom-3``'s ``contained.where(…)`` on a
    resource that contains nothing reads neither ``%resource`` nor anything else)."""
    present = tuple(frozenset("_" + name for name in guards) | guards)
    typed = _typed_keys(guards)
    fixed: dict[str, list[Any]] = {}

    def run_guarded(focus: Any, focus_type: str, resource: dict[str, Any], root: dict[str, Any]) -> list[Any]:
        if isinstance(focus, dict) and _lacks(focus, present, typed):
            kind = _kind(focus, focus_type)
            found = fixed.get(kind)
            if found is None:
                found = kept(fixed, kind, runner(focus, focus_type, resource, root), _KEPT_VALUES)
            return found
        return runner(focus, focus_type, resource, root)

    return run_guarded


def _typed_keys(names: frozenset[str]) -> tuple[str, ...]:
    """The prefixes of the keys a choice element among ``names`` may have (``value`` → ``valueQuantity``,
    ``_valueString``): a focus with a key beginning with one is not without that element."""
    choices = sorted(names & CHOICE_NAMES)
    return tuple(choices) + tuple("_" + name for name in choices)


def _program_runner(program: Program) -> Runner:
    evaluate = program.__call__  # a bound method: called without the type slot's detour
    roots = program.roots
    if roots is not None:
        # The value depends only on these children of the focus: without them it is fixed per type.
        # (Such an expression reads no variable, so %resource / %rootResource are never built.)
        bare: dict[str, list[Any]] = {}
        companions = tuple(frozenset("_" + name for name in roots) | roots)
        typed = _typed_keys(roots)  # a choice element is keyed by its type as well (valueQuantity)

        def run_pure(focus: Any, focus_type: str, resource: dict[str, Any], root: dict[str, Any]) -> list[Any]:
            if isinstance(focus, dict):
                rtype = focus.get("resourceType")
                if _lacks(focus, companions, typed):
                    kind = _kind(focus, focus_type)
                    found = bare.get(kind)
                    if found is None:  # (a document may name any number of resource types)
                        found = kept(bare, kind, evaluate(item_of(focus, focus_type), _NO_RESOURCE, _NO_RESOURCE),
                                     _KEPT_VALUES)
                    return found
                # item_of(focus, focus_type), without the call
                item = (focus, rtype, rtype, None) if isinstance(rtype, str) else (focus, focus_type, focus_type, None)
                return evaluate(item, _NO_RESOURCE, _NO_RESOURCE)
            return evaluate(item_of(focus, focus_type), _NO_RESOURCE, _NO_RESOURCE)

        return run_pure

    def run(focus: Any, focus_type: str, resource: dict[str, Any], root: dict[str, Any]) -> list[Any]:
        resource_item = item_of(resource, None)
        return evaluate(item_of(focus, focus_type), resource_item,
                       resource_item if root is resource else item_of(root, None))

    if not program.uses_constants:
        focus_only = _NO_RESOURCE
        if program.pure:
            # On a primitive its value is a function of the value and its type: kept per value (a GLN's
            # modulus-10 check, a URI's pattern), as the same identifiers recur message after message.
            values: dict[tuple[type, Any, str], list[Any]] = {}

            def run_value(focus: Any, focus_type: str, resource: dict[str, Any], root: dict[str, Any]) -> list[Any]:
                if isinstance(focus, (dict, list)):
                    return evaluate(item_of(focus, focus_type), focus_only, focus_only)
                key = (type(focus), focus, focus_type)
                found = values.get(key)
                if found is None:
                    found = kept(values, key, evaluate(item_of(focus, focus_type), focus_only, focus_only),
                                 _KEPT_VALUES)
                return found

            return run_value

        def run_focus(focus: Any, focus_type: str, resource: dict[str, Any], root: dict[str, Any]) -> list[Any]:
            return evaluate(item_of(focus, focus_type), focus_only, focus_only)  # %resource is never read

        return run_focus
    return run


_KEPT_VALUES: Final = 4096  # per expression; emptied when full


def _lacks(focus: dict[str, Any], keys: tuple[str, ...], prefixes: tuple[str, ...]) -> bool:
    """Whether ``focus`` has none of ``keys`` and no key beginning with one of ``prefixes`` (:func:`_typed_keys`).

    Each of the few ``keys`` is looked up in ``focus``: ``frozenset.isdisjoint`` would go through every key of
    ``focus`` instead."""
    for key in keys:
        if key in focus:
            return False
    return not (prefixes and any(key.startswith(prefixes) for key in focus))


def _kind(focus: dict[str, Any], focus_type: str) -> str:
    """What an answer kept for ``focus`` is kept by: its resource type, else the type it is judged as (a
    ``resourceType`` that is not a string, as malformed JSON may hold, is not a type)."""
    rtype = focus.get("resourceType")
    return rtype if isinstance(rtype, str) and rtype else focus_type


_NO_RESOURCE: Final = item_of(None, None)


def _fhirpathpy_runner(text: str) -> Runner:
    # fhirpathpy binds $this only inside functions; select() binds it to the focus.
    program = fhirpathpy.compile(f"select({text})" if "$this" in text else text, model=_R4, options=_OPTIONS)

    def run(focus: Any, focus_type: str, resource: dict[str, Any], root: dict[str, Any]) -> list[Any]:
        node = focus if isinstance(focus, dict) and "resourceType" in focus else ResourceNode.create_node(
            focus, focus_type)
        return list(program(node, {"resource": resource, "rootResource": root}))

    return run


class InvariantEngine:
    """Compiles constraint expressions once and evaluates them against instance nodes."""

    def __init__(self, engine: Engine = "compiled") -> None:
        self.engine = engine
        # Compiled expressions by their text: on a primitive's value, and on an object (keyed by the text alone, whose
        # hash the string keeps, rather than by a tuple built and hashed at each look-up).
        self._runners_on_values: dict[str, Runner | str] = {}
        self._runners_on_objects: dict[str, Runner | str] = {}
        self._lock = threading.Lock()

    def runner(self, expression: str, primitive_focus: bool = False) -> Runner | str:
        """The compiled expression, or the reason it does not compile.

        On a primitive focus, a leading ``value`` step names the primitive's own value (the
        ``value`` child every FHIR primitive type defines), as the FHIR validator reads it.
        """
        runners = self._runners_on_values if primitive_focus else self._runners_on_objects
        found = runners.get(expression)  # read without the lock: dict.get is atomic
        if found is not None:
            return found
        text = expression
        if primitive_focus and _LEADING_VALUE.match(text):
            text = "$this" + text[len("value"):]
        result: Runner | str
        try:
            if self.engine == "compiled":
                try:
                    result = _compiled_runner(text)
                except Unsupported:
                    result = _fhirpathpy_runner(text)
            else:
                result = _fhirpathpy_runner(text)
        except Exception as exc:  # the parser raises plain Exceptions on syntax it does not know
            result = f"{type(exc).__name__}: {exc}"
        with self._lock:
            runners[expression] = result
        return result

    def evaluate(self, expression: str, focus: Any, focus_type: str, resource: dict[str, Any],
                 root: dict[str, Any], scope: EvaluationScope) -> list[Any]:
        """The raw result of ``expression`` on ``focus`` (raises on errors; for tests and tools)."""
        runner = self.runner(expression, not isinstance(focus, (dict, list)))
        if isinstance(runner, str):
            raise FhirPathError(runner)
        with evaluation_scope(scope):
            return runner(focus, focus_type, resource, root)

    def check(self, constraint: Constraint, focus: Any, focus_type: str, resource: dict[str, Any],
              root_resource: dict[str, Any], scope: EvaluationScope, expression_path: str,
              source: str) -> Issue | None:
        """Evaluate ``constraint`` on ``focus``; an Issue when it fails or cannot be evaluated."""
        if not constraint.expression:
            return None
        runner = self.runner(constraint.expression, not isinstance(focus, (dict, list)))
        if isinstance(runner, str):
            return _not_checked(constraint, runner, expression_path, source)
        scope.constraint_key = constraint.key
        token = enter_scope(scope)
        try:
            result = runner(focus, focus_type, resource, root_resource)
        except NotChecked as unknowable:
            return _not_checked(constraint, str(unknowable), expression_path, source)
        except Exception as exc:  # FhirPathError, and fhirpathpy's plain Exceptions
            return _not_checked(constraint, f"{type(exc).__name__}: {exc}", expression_path, source)
        finally:
            leave_scope(token)
        if _truthy(result):
            return None
        return _failed(constraint, expression_path, source)

    def check_all(self, constraints: tuple[tuple[Constraint, str], ...], focus: Any, focus_type: str,
                  resource: dict[str, Any], root_resource: dict[str, Any], scope: EvaluationScope,
                  expression_path: str, issues: list[Issue]) -> None:
        """:meth:`check` each (constraint, issue source) on one focus; issues go to ``issues``.

        The same evaluation as :meth:`check`, with the scope entered once for the whole list, and not at all when it
        is in already (the walk enters each resource's scope once for all the resource's elements: ``Walk.against``).
        """
        primitive_focus = not isinstance(focus, (dict, list))  # a tuple is checked faster than a union
        runners = self._runners_on_values if primitive_focus else self._runners_on_objects
        token = SCOPE.set(scope) if SCOPE.get() is not scope else None
        try:
            for constraint, source in constraints:
                expression = constraint.expression
                if not expression:
                    continue
                runner = runners.get(expression) or self.runner(expression, primitive_focus)
                if isinstance(runner, str):
                    issues.append(_not_checked(constraint, runner, expression_path, source))
                    continue
                scope.constraint_key = constraint.key
                try:
                    result = runner(focus, focus_type, resource, root_resource)
                except NotChecked as unknowable:
                    issues.append(_not_checked(constraint, str(unknowable), expression_path, source))
                    continue
                except Exception as exc:  # FhirPathError, and fhirpathpy's plain Exceptions
                    issues.append(_not_checked(constraint, f"{type(exc).__name__}: {exc}", expression_path, source))
                    continue
                if (len(result) == 1 and result[0] is False) if type(result) is list else not _truthy(result):
                    issues.append(_failed(constraint, expression_path, source))
        finally:
            if token is not None:
                SCOPE.reset(token)


def _failed(constraint: Constraint, expression_path: str, source: str) -> Issue:
    severity: Severity = "warning" if constraint.severity == "warning" else "error"
    return Issue(severity, "invariant", f"Constraint failed: {constraint.key}: {constraint.human}",
                 expression=expression_path, source=source, rule=f"invariant:{constraint.key}")


def _truthy(result: Any) -> bool:
    """Is the constraint met? A single boolean is its value; anything else non-empty is true.

    An empty result means the expression had nothing to judge (the elements it reads are absent):
    the constraint is not violated. Base R4 ``ref-1`` relies on this for logical references (R5
    spells it out as ``reference.exists() implies …``); presence itself is the cardinality rules' job.
    """
    if not isinstance(result, list):
        result = [result]
    if not result:
        return True
    if len(result) == 1 and isinstance(result[0], bool):
        return result[0]
    return True


def _not_checked(constraint: Constraint, why: str, expression_path: str, source: str) -> Issue:
    return Issue("information", "informational",
                 f"Constraint {constraint.key} not checked: {why}",
                 expression=expression_path, source=source, rule=f"invariant:{constraint.key}")
