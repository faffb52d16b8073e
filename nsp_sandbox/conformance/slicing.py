"""Slicing: which slice an instance item belongs to, by the slicing's discriminators.

For every slice and discriminator the *expectation* is read once from the slice's definition
(a fixed or pattern value at the discriminator path, the allowed types, the required profiles, or
whether the path must exist) and kept. Matching an item evaluates the discriminator path on the
item — a small FHIRPath subset: names, ``$this``, ``extension('url')``, ``ofType(T)``,
``resolve()`` — and compares. An item matches a slice when every discriminator matches.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nsp_sandbox.conformance.structure import Discriminator, ElementNode, StructureLibrary

_STEP = re.compile(r"extension\('([^']*)'\)|ofType\(([^)]*)\)|resolve\(\)|\$this|[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Expectation:
    kind: str  # fixed | pattern | binding | types | profiles | exists | none
    value: Any = None


NO_EXPECTATION = Expectation("none")


def split_path(path: str) -> list[str]:
    return list(_steps(path))


_SPLIT: dict[str, tuple[str, ...]] = {}


def _steps(path: str) -> tuple[str, ...]:
    """The steps of a discriminator path (kept per path: there are few)."""
    found = _SPLIT.get(path)
    if found is None:
        found = tuple(m.group(0) for m in _STEP.finditer(path))
        if len(_SPLIT) < 10_000:
            _SPLIT[path] = found
    return found


def fixed_matches(value: Any, fixed: Any) -> bool:
    """Exact equality, FHIR style (numbers compared by value, objects and arrays wholly)."""
    if isinstance(fixed, dict):
        return isinstance(value, dict) and value.keys() == fixed.keys() and all(
            fixed_matches(value[k], fixed[k]) for k in fixed)
    if isinstance(fixed, list):
        return isinstance(value, list) and len(value) == len(fixed) and all(
            fixed_matches(value[i], fixed[i]) for i in range(len(fixed)))
    if isinstance(fixed, bool) or isinstance(value, bool):
        return value is fixed
    if isinstance(fixed, (int, float)) and isinstance(value, (int, float)):
        return float(value) == float(fixed)
    return bool(value == fixed)


def pattern_matches(value: Any, pattern: Any) -> bool:
    """``value`` holds at least what ``pattern`` holds (arrays: each pattern item somewhere)."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(k in value and pattern_matches(value[k], p) for k, p in pattern.items())
    if isinstance(pattern, list):
        return isinstance(value, list) and all(any(pattern_matches(v, p) for v in value) for p in pattern)
    return fixed_matches(value, pattern)


class SliceExpectations:
    """Expectations per (slice, discriminator), read from the compiled definitions once."""

    def __init__(self, library: StructureLibrary) -> None:
        self.library = library
        self._cache: dict[tuple[int, Discriminator], Expectation] = {}

    def of(self, slice_node: ElementNode, disc: Discriminator) -> Expectation:
        key = (id(slice_node), disc)
        found = self._cache.get(key)
        if found is None:
            found = self._compute(slice_node, disc)
            self._cache[key] = found
        return found

    def _compute(self, slice_node: ElementNode, disc: Discriminator) -> Expectation:
        steps = [s for s in split_path(disc.path) if s != "$this"]
        resolves = "resolve()" in steps
        steps = [s for s in steps if s != "resolve()"]
        node: ElementNode | None = slice_node
        type_code: str | None = None
        for index, step in enumerate(steps):
            assert node is not None
            fixed = node.fixed or node.pattern
            if fixed is not None:  # the rest of the path lies inside the fixed / pattern value
                return self._inside(fixed, steps[index:], disc)
            node, type_code = self._step(node, type_code, step)
            if node is None:
                return NO_EXPECTATION
        assert node is not None
        if disc.type in ("value", "pattern"):
            if node.fixed is not None:
                return Expectation("fixed", node.fixed[1])
            if node.pattern is not None:
                return Expectation("pattern", node.pattern[1])
            if steps and steps[-1] == "url" and slice_node.types and slice_node.types[0].profiles:
                return Expectation("fixed", slice_node.types[0].profiles[0])
            if node.binding is not None and node.binding.strength == "required" and node.binding.value_set:
                return Expectation("binding", (node.binding.value_set, node.structure.package))
            return NO_EXPECTATION
        if disc.type == "type":
            if resolves:
                types = set()
                for t in node.types:
                    for profile in t.target_profiles:
                        structure = self.library.get(profile, node.structure.package)
                        types.add(structure.type if structure else profile.rsplit("/", 1)[-1].split("|")[0])
                return Expectation("types", frozenset(types))
            codes = {type_code} if type_code else set(node.type_codes)
            return Expectation("types", frozenset(codes))
        if disc.type == "profile":
            profiles = tuple(p for t in node.types for p in (t.target_profiles if resolves else t.profiles))
            return Expectation("profiles", profiles) if profiles else NO_EXPECTATION
        if disc.type == "exists":
            if node.min >= 1:
                return Expectation("exists", True)
            if node.max == 0:
                return Expectation("exists", False)
            return NO_EXPECTATION
        return NO_EXPECTATION

    def _step(self, node: ElementNode, type_code: str | None, step: str) -> tuple[ElementNode | None, str | None]:
        if step.startswith("ofType("):
            return node, step[7:-1]
        child_set = self.library.child_set(node, type_code)
        if step.startswith("extension("):
            url = step[len("extension('"):-2]
            ext = child_set.children.get("extension")
            if ext is None:
                return None, None
            for candidate in ext.slices:
                url_node = self.library.child_set(candidate, "Extension").children.get("url")
                fixed = url_node.fixed[1] if url_node is not None and url_node.fixed else None
                if fixed == url or url in (candidate.types[0].profiles if candidate.types else ()):
                    return candidate, "Extension"
            return None, None
        child = child_set.children.get(step) or child_set.children.get(step + "[x]")
        if child is None:
            return None, None
        if child.slices and child.fixed is None and child.pattern is None:
            # A sliced element on the path: the slice every instance must have decides.
            required = [s for s in child.slices if s.min >= 1] or child.slices
            if len(required) == 1:
                child = required[0]
        code = child.types[0].code if len(child.types) == 1 else None
        return child, code

    @staticmethod
    def _inside(fixed: tuple[str, Any], steps: list[str], disc: Discriminator) -> Expectation:
        kind = "fixed" if fixed[0].startswith("fixed") else "pattern"
        value = fixed[1]
        for step in steps:
            if step.startswith("ofType("):
                continue
            if not isinstance(value, dict) or step not in value:
                return NO_EXPECTATION
            value = value[step]
        if disc.type == "exists":
            return Expectation("exists", True)
        return Expectation(kind, value)


def instance_values(value: Any, type_code: str | None, path: str,
                    resolve: Callable[[Any], dict[str, Any] | None]) -> list[tuple[Any, str | None]]:
    """The values (with their FHIR type where known) at discriminator ``path`` of one item."""
    current: list[tuple[Any, str | None]] = [(value, type_code)]
    for step in _steps(path):
        if step == "$this":
            continue
        nxt: list[tuple[Any, str | None]] = []
        for item, item_type in current:
            if step == "resolve()":
                target = resolve(item)
                if target is not None:
                    nxt.append((target, _type_name(target)))
            elif step.startswith("ofType("):
                wanted = step[7:-1]
                if item_type == wanted:
                    nxt.append((item, item_type))
            elif step.startswith("extension("):
                url = step[len("extension('"):-2]
                extensions = item.get("extension") if isinstance(item, dict) else None
                if isinstance(extensions, list):
                    nxt.extend((e, "Extension") for e in extensions if isinstance(e, dict) and e.get("url") == url)
            elif isinstance(item, dict):
                if step in item:
                    found = item[step]
                    nxt.extend((f, _type_name(f)) for f in (found if isinstance(found, list) else [found]))
                else:  # a choice element: value -> valueCoding etc.
                    for key, found in item.items():
                        if key.startswith(step) and key[len(step):len(step) + 1].isupper():
                            kind = choice_type(key[len(step):])
                            nxt.extend((f, kind) for f in (found if isinstance(found, list) else [found]))
        current = nxt
    return current


def _type_name(value: Any) -> str | None:
    kind = value.get("resourceType") if isinstance(value, dict) else None
    return kind if isinstance(kind, str) else None


# Type names of choice suffixes that keep their capital (complex types); others are primitives.
_COMPLEX_CHOICE = frozenset({
    "Address", "Age", "Annotation", "Attachment", "CodeableConcept", "Coding", "ContactPoint", "Count",
    "Distance", "Duration", "HumanName", "Identifier", "Money", "Period", "Quantity", "Range", "Ratio",
    "Reference", "SampledData", "Signature", "Timing", "ContactDetail", "Contributor", "DataRequirement",
    "Expression", "ParameterDefinition", "RelatedArtifact", "TriggerDefinition", "UsageContext", "Dosage",
    "Meta",
})


def choice_type(suffix: str) -> str:
    """The FHIR type code named by a choice suffix (``Quantity`` → Quantity, ``DateTime`` → dateTime)."""
    return suffix if suffix in _COMPLEX_CHOICE else suffix[:1].lower() + suffix[1:]
