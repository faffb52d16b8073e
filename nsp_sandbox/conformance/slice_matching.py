"""Which slice an instance value belongs to: every discriminator of the slice (FHIR R4 §5.1.0.14:
``value``, ``pattern``, ``exists``, ``type``, ``profile``, with ``resolve()`` paths) must find what
the slice's definitions expect (:class:`~.slicing.SliceExpectations`, read once per slice).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from nsp_sandbox.conformance.reference_rules import profile_type
from nsp_sandbox.conformance.references import reference_type
from nsp_sandbox.conformance.slicing import (
    Expectation,
    fixed_matches,
    instance_values,
    pattern_matches,
    split_path,
)

if TYPE_CHECKING:
    from nsp_sandbox.conformance.engines import Engines
    from nsp_sandbox.conformance.frames import Frame, Item, Resolver
    from nsp_sandbox.conformance.structure import ElementNode


def matches(walk: Resolver, engines: Engines, candidate: ElementNode, item: Item, frame: Frame) -> bool:
    """Does ``item`` belong to slice ``candidate``? (a slice with no discriminator matches nothing)"""
    expected = candidate.derived.get("discriminated")
    if expected is None:  # the slice's (discriminator, expectation, plain steps), read from the definitions once
        expected = tuple((disc, expectation, _plain_steps(disc.path, expectation))
                         for disc in _discriminators(candidate)
                         for expectation in (engines.slice_expectations.of(candidate, disc),))
        candidate.derived["discriminated"] = expected
    if not expected:
        return False
    resolve = None
    for disc, expectation, steps in expected:
        if expectation.kind == "none":
            return False
        if steps is not None:  # a fixed value or pattern at a path of element names: compared directly
            test = fixed_matches if expectation.kind == "fixed" else pattern_matches
            wanted = expectation.value
            for value in _values_at(item[1], steps):
                if test(value, wanted):
                    break
            else:
                return False
            continue
        if resolve is None:
            resolve = lambda ref, f=frame: _resolve_value(walk, ref, f)  # noqa: E731
        values = instance_values(item[1], item[0], disc.path, resolve)
        if not values and "resolve()" in disc.path and expectation.kind in ("types", "profiles"):
            # Not resolvable here (a standalone resource): judge by the type the reference names.
            if not _literal_type_matches(engines, item[1], expectation.value, candidate):
                return False
            continue
        if not _met(walk, engines, expectation, values, frame):
            return False
    return True


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _plain_steps(path: str, expectation: Expectation) -> tuple[str, ...] | None:
    """The element names of a discriminator ``path`` when it has nothing else (no ``resolve()``,
    ``ofType()``, ``extension()``) and the slice expects a fixed value or pattern there: such a
    discriminator is matched by :func:`_values_at` (what :func:`instance_values` finds, without the
    types a fixed value or pattern does not read)."""
    if expectation.kind not in ("fixed", "pattern"):
        return None
    steps = tuple(step for step in split_path(path) if step != "$this")
    return steps if all(_NAME.fullmatch(step) for step in steps) else None


def _values_at(value: Any, steps: tuple[str, ...]) -> list[Any]:
    """The values at a path of element names, as :func:`instance_values` finds them."""
    current = [value]
    for step in steps:
        found: list[Any] = []
        for item in current:
            if not isinstance(item, dict):
                continue
            if step in item:
                child = item[step]
                if isinstance(child, list):
                    found.extend(child)
                else:
                    found.append(child)
            else:  # a choice element: value -> valueCoding etc.
                for key, child in item.items():
                    if key.startswith(step) and key[len(step):len(step) + 1].isupper():
                        if isinstance(child, list):
                            found.extend(child)
                        else:
                            found.append(child)
        current = found
    return current


def _met(walk: Resolver, engines: Engines, expectation: Expectation, values: list[tuple[Any, str | None]],
         frame: Frame) -> bool:
    kind, wanted = expectation.kind, expectation.value
    if kind == "fixed":
        return any(fixed_matches(v, wanted) for v, _ in values)
    if kind == "pattern":
        return any(pattern_matches(v, wanted) for v, _ in values)
    if kind == "binding":
        value_set, package = wanted
        return any(engines.member_of(v, value_set, package) for v, _ in values)
    if kind == "types":
        return any(isinstance(t, str) and t in wanted for _, t in values)
    if kind == "exists":
        return bool(values) == wanted
    if kind == "profiles":
        return any(isinstance(v, dict) and any(walk.conforms(v, p, frame) for p in wanted) for v, _ in values)
    return False


def _literal_type_matches(engines: Engines, value: Any, expected: Any, candidate: ElementNode) -> bool:
    reference = value.get("reference") if isinstance(value, dict) else None
    named = reference_type(reference) if isinstance(reference, str) else None
    if named is None:
        return False
    if isinstance(expected, frozenset):
        return named in expected
    return any(profile_type(engines.structures, p, candidate) == named for p in expected)


def _discriminators(candidate: ElementNode) -> tuple[Any, ...]:
    sliced_id, _, _ = candidate.id.rpartition(":")
    sliced = candidate.structure.by_id.get(sliced_id)
    if sliced is None or sliced.slicing is None:
        return ()
    return sliced.slicing.discriminators


def _resolve_value(walk: Resolver, value: Any, frame: Frame) -> dict[str, Any] | None:
    reference = value.get("reference") if isinstance(value, dict) else value
    return walk.resolve(reference, frame) if isinstance(reference, str) else None
