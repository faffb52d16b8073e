"""Which slice an instance value belongs to: every discriminator of the slice (FHIR R4 §5.1.0.14:
``value``, ``pattern``, ``exists``, ``type``, ``profile``, with ``resolve()`` paths) must find what
the slice's definitions expect (:class:`~.slicing.SliceExpectations`, read once per slice).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nsp_sandbox.conformance.reference_rules import profile_type
from nsp_sandbox.conformance.references import reference_type
from nsp_sandbox.conformance.slicing import Expectation, fixed_matches, instance_values, pattern_matches

if TYPE_CHECKING:
    from nsp_sandbox.conformance.engines import Engines
    from nsp_sandbox.conformance.frames import Frame, Item, Resolver
    from nsp_sandbox.conformance.structure import ElementNode


def matches(walk: Resolver, engines: Engines, candidate: ElementNode, item: Item, frame: Frame) -> bool:
    """Does ``item`` belong to slice ``candidate``? (a slice with no discriminator matches nothing)"""
    expected = candidate.derived.get("discriminated")
    if expected is None:  # the slice's (discriminator, expectation) pairs, read from the definitions once
        expected = tuple((disc, engines.slice_expectations.of(candidate, disc))
                         for disc in _discriminators(candidate))
        candidate.derived["discriminated"] = expected
    if not expected:
        return False
    resolve = None
    for disc, expectation in expected:
        if expectation.kind == "none":
            return False
        if resolve is None:
            resolve = lambda ref, f=frame: _resolve_value(walk, ref, f)  # noqa: E731
        values = instance_values(item.value, item.type_code, disc.path, resolve)
        if not values and "resolve()" in disc.path and expectation.kind in ("types", "profiles"):
            # Not resolvable here (a standalone resource): judge by the type the reference names.
            if not _literal_type_matches(engines, item.value, expectation.value, candidate):
                return False
            continue
        if not _met(walk, engines, expectation, values, frame):
            return False
    return True


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
