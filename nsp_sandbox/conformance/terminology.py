"""Terminology from the loaded packages: ValueSet expansion and code membership.

Expansion follows ``ValueSet.compose``: enumerated concepts, whole code systems, ``is-a`` /
``descendent-of`` / ``is-not-a`` / ``=`` / ``in`` / ``exists`` filters over a code system's
hierarchy, imported value sets, and excludes; a stored ``ValueSet.expansion`` is used when there is
no compose. Whatever cannot be enumerated (a code system that is not loaded or is only a fragment,
e.g. SNOMED CT or LOINC) makes the expansion *incomplete for that system*: a code of such a system
is answered "not-checked", never silently accepted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeVar

from nsp_sandbox.conformance.packages import FhirPackage, PackageRegistry

CodeStatus = Literal["valid", "invalid", "not-checked"]
_MISSING: Final = object()
T = TypeVar("T")


class CodeCheck:
    """The answer to "is this code valid here?" (a plain class: see ``EvaluationScope``)."""

    def __init__(self, status: CodeStatus, message: str, display: str | None = None) -> None:
        self.status = status
        self.message = message
        self.display = display

    def __repr__(self) -> str:
        return f"CodeCheck({self.status!r}, {self.message!r}, {self.display!r})"

    @property
    def valid(self) -> bool:
        return self.status == "valid"


@dataclass
class Expansion:
    """The codes of a value set; ``open_systems`` are systems whose codes could not be enumerated."""

    url: str
    version: str | None
    codes: dict[tuple[str, str], str | None] = field(default_factory=dict)  # (system, code) -> display
    open_systems: dict[str, str] = field(default_factory=dict)  # system -> why it is not enumerable
    problems: list[str] = field(default_factory=list)  # imports or filters that could not be evaluated
    # The codes without their systems, set once the expansion is final (kept by Terminology.expand).
    plain_codes: frozenset[str] | None = field(default=None, repr=False, compare=False)
    # The systems of ``codes``, sorted and joined for a finding, set with ``plain_codes``.
    systems_shown: str | None = field(default=None, repr=False, compare=False)
    # :meth:`systems`, set with ``plain_codes`` (a large value set's codes are not walked at every look-up).
    system_set: frozenset[str] | None = field(default=None, repr=False, compare=False)

    @property
    def label(self) -> str:
        return f"{self.url}|{self.version}" if self.version else self.url

    @property
    def complete(self) -> bool:
        return not self.open_systems and not self.problems

    def contains(self, system: str | None, code: str) -> bool | None:
        """True / False, or None when the answer is unknown (the system is not enumerable)."""
        if system is None:
            plain = self.plain_codes
            if plain is not None and code in plain:
                return True
            if plain is None and any(c == code for (_, c) in self.codes):
                return True
            return None if not self.complete else False
        if (system, code) in self.codes:
            return True
        if system in self.open_systems or self.problems:
            return None
        return False

    def systems(self) -> frozenset[str]:
        """The systems of ``codes`` and ``open_systems``."""
        if self.system_set is not None:
            return self.system_set
        return frozenset({s for (s, _) in self.codes} | set(self.open_systems))


class Terminology:
    """Expands value sets and checks codes against them; expansions are computed once and kept."""

    def __init__(self, registry: PackageRegistry) -> None:
        self.registry = registry
        self._expansions: dict[tuple[str, str | None], Expansion | None] = {}
        self._hierarchies: dict[int, _Hierarchy] = {}
        self._code_systems: dict[tuple[str, str | None], Any] = {}
        self._derived: dict[Hashable, Any] = {}
        self._lock = threading.RLock()

    # ---- public API --------------------------------------------------------------------------

    def derived(self, key: Hashable, make: Callable[[], T]) -> T:
        """What ``make()`` works out from the loaded packages, worked out once and kept under ``key``
        (as :meth:`FhirPackage.derived` for one package): DDS's names of code systems, say."""
        found = self._derived.get(key, _MISSING)  # read without the lock: dict.get is atomic
        if found is _MISSING:
            with self._lock:
                found = self._derived.get(key, _MISSING)
                if found is _MISSING:
                    found = self._derived[key] = make()
        return found  # type: ignore[no-any-return]

    def expand(self, value_set: str, context: FhirPackage | None = None) -> Expansion | None:
        """The expansion of ``value_set`` (``url`` or ``url|version``); None when it is not loaded."""
        key = (value_set, context.id if context else None)
        found = self._expansions.get(key, _MISSING)  # read without the lock: dict.get is atomic
        if found is not _MISSING:
            return found  # type: ignore[return-value]
        with self._lock:
            if key in self._expansions:
                return self._expansions[key]
            resource = self.registry.value_set(value_set, context)
            expansion = None if resource is None else self._expand(resource, context, frozenset({value_set}))
            if expansion is not None:
                expansion.plain_codes = frozenset(c for (_, c) in expansion.codes)
                expansion.systems_shown = ", ".join(sorted({s for s, _ in expansion.codes}))
                expansion.system_set = frozenset({s for s, _ in expansion.codes} | set(expansion.open_systems))
            self._expansions[key] = expansion
            return expansion

    def in_value_set(self, value_set: str, system: str | None, code: str,
                     context: FhirPackage | None = None) -> bool:
        """Is ``system|code`` surely in ``value_set``? (:meth:`check_code`'s "valid", without its message.)"""
        expansion = self.expand(value_set, context)
        return expansion is not None and expansion.contains(system, code) is True

    def check_code(self, value_set: str, system: str | None, code: str,
                   context: FhirPackage | None = None) -> CodeCheck:
        """Is ``system|code`` in ``value_set``? ``system`` None means a plain ``code`` element."""
        expansion = self.expand(value_set, context)
        if expansion is None:
            return CodeCheck("not-checked", f"value set {value_set} is not available in the loaded packages")
        found = expansion.contains(system, code)
        shown = f"{system}|{code}" if system else code
        if found is True:
            display = expansion.codes.get((system, code)) if system else None
            return CodeCheck("valid", f"{shown} is in {expansion.label}", display)
        if found is None:
            why = expansion.open_systems.get(system or "", "") or "; ".join(expansion.problems)
            return CodeCheck("not-checked", f"{shown} could not be checked against {expansion.label}: {why}")
        allowed = expansion.systems_shown
        if allowed is None:
            allowed = ", ".join(sorted({s for s, _ in expansion.codes}))
        return CodeCheck("invalid", f"{shown} is not in value set {expansion.label}"
                         + (f" (systems: {allowed})" if allowed else ""))

    def check_in_code_system(self, system: str, code: str, context: FhirPackage | None = None) -> CodeCheck:
        """Is ``code`` defined by code system ``system``?"""
        key = (system, context.id if context else None)
        cs = self._code_systems.get(key, _MISSING)
        if cs is _MISSING:
            cs = self._code_systems[key] = self.registry.code_system(system, context)
        if cs is None:
            return CodeCheck("not-checked", f"code system {system} is not available in the loaded packages")
        hierarchy = self._hierarchy(cs)
        if code in hierarchy.display:
            return CodeCheck("valid", f"{system}|{code} is defined", hierarchy.display[code])
        if cs.get("content") in ("fragment", "not-present", "example"):
            return CodeCheck("not-checked", f"code system {system} is only partly present ({cs.get('content')})")
        return CodeCheck("invalid", f"{code} is not a code of {system}")

    # ---- expansion ---------------------------------------------------------------------------

    def _expand(self, vs: dict[str, Any], context: FhirPackage | None, seen: frozenset[str]) -> Expansion:
        context = self.registry.package_of(vs) or context
        out = Expansion(vs.get("url", ""), vs.get("version"))
        compose = vs.get("compose")
        if not compose:
            stored = vs.get("expansion")
            if stored:
                self._add_contains(out, stored.get("contains") or [])
                if stored.get("total") is not None and len(out.codes) < stored["total"]:
                    out.problems.append("the stored expansion is paged")
            else:
                out.problems.append("the value set has neither compose nor expansion")
            return out
        for include in compose.get("include") or []:
            self._apply(out, include, context, seen, exclude=False)
        excluded = Expansion(out.url, out.version)
        for exclude in compose.get("exclude") or []:
            self._apply(excluded, exclude, context, seen, exclude=True)
        for key in excluded.codes:
            out.codes.pop(key, None)
        return out

    def _add_contains(self, out: Expansion, contains: Iterable[dict[str, Any]]) -> None:
        for item in contains:
            if item.get("system") and item.get("code") and not item.get("abstract"):
                out.codes[(item["system"], item["code"])] = item.get("display")
            self._add_contains(out, item.get("contains") or [])

    def _apply(self, out: Expansion, part: dict[str, Any], context: FhirPackage | None,
               seen: frozenset[str], *, exclude: bool) -> None:
        system = part.get("system")
        imported: list[Expansion] = []
        for ref in part.get("valueSet") or []:
            if ref in seen:
                out.problems.append(f"value set {ref} imports itself")
                continue
            resource = self.registry.value_set(ref, context)
            if resource is None:
                out.problems.append(f"imported value set {ref} is not available")
                continue
            imported.append(self._expand(resource, context, seen | {ref}))
        if system is None:
            # Only imports: their intersection.
            if imported:
                first, *rest = imported
                for key, display in first.codes.items():
                    if all(key in other.codes for other in rest):
                        out.codes[key] = display
                for other in imported:
                    out.open_systems.update(other.open_systems)
                    out.problems.extend(other.problems)
            return
        selected: dict[tuple[str, str], str | None] = {}
        concepts = part.get("concept")
        filters = part.get("filter")
        cs = self.registry.code_system(system, context)
        if concepts:
            hierarchy = self._hierarchy(cs) if cs else None
            for concept in concepts:
                code = concept.get("code")
                if code:
                    display = concept.get("display") or (hierarchy.display.get(code) if hierarchy else None)
                    selected[(system, code)] = display
        elif cs is None or cs.get("content") in ("not-present", "fragment", "example"):
            if not exclude:
                why = ("its code system is not available in the loaded packages" if cs is None
                       else f"its code system is only partly present ({cs.get('content')})")
                out.open_systems[system] = why
            return
        else:
            hierarchy = self._hierarchy(cs)
            candidates = set(hierarchy.display)
            for flt in filters or []:
                matched = hierarchy.filter(flt)
                if matched is None:
                    out.problems.append(
                        f"filter {flt.get('property')} {flt.get('op')} {flt.get('value')} on {system} "
                        "is not supported")
                    return
                candidates &= matched
            for code in candidates:
                if not hierarchy.abstract.get(code):
                    selected[(system, code)] = hierarchy.display.get(code)
        if imported:
            selected = {k: v for k, v in selected.items() if all(k in other.codes for other in imported)}
        out.codes.update(selected)

    def _hierarchy(self, cs: dict[str, Any]) -> _Hierarchy:
        key = id(cs)
        hierarchy = self._hierarchies.get(key)
        if hierarchy is None:
            hierarchy = _Hierarchy(cs)
            self._hierarchies[key] = hierarchy
        return hierarchy


class _Hierarchy:
    """A code system's concepts with their parent/child links and properties."""

    def __init__(self, cs: dict[str, Any]) -> None:
        self.display: dict[str, str | None] = {}
        self.parents: dict[str, set[str]] = {}
        self.properties: dict[str, dict[str, list[Any]]] = {}
        self.abstract: dict[str, bool] = {}
        self._walk(cs.get("concept") or [], None)

    def _walk(self, concepts: list[dict[str, Any]], parent: str | None) -> None:
        for concept in concepts:
            code = concept.get("code")
            if not code:
                continue
            self.display[code] = concept.get("display")
            parents = self.parents.setdefault(code, set())
            if parent:
                parents.add(parent)
            props = self.properties.setdefault(code, {})
            for prop in concept.get("property") or []:
                value = next((v for k, v in prop.items() if k.startswith("value")), None)
                props.setdefault(prop.get("code", ""), []).append(value)
                if prop.get("code") in ("parent", "subsumedBy") and isinstance(value, str):
                    parents.add(value)
                if prop.get("code") in ("notSelectable", "abstract") and value is True:
                    self.abstract[code] = True
            self._walk(concept.get("concept") or [], code)

    def descendants(self, code: str) -> set[str]:
        children: dict[str, set[str]] = {}
        for child, parents in self.parents.items():
            for p in parents:
                children.setdefault(p, set()).add(child)
        out: set[str] = set()
        stack = [code]
        while stack:
            for child in children.get(stack.pop(), ()):
                if child not in out:
                    out.add(child)
                    stack.append(child)
        return out

    def filter(self, flt: dict[str, Any]) -> set[str] | None:
        prop: Any = flt.get("property")
        op, value = flt.get("op"), flt.get("value", "")
        if prop in ("concept", "code") and op == "is-a":
            return ({value} | self.descendants(value)) if value in self.display else set()
        if prop in ("concept", "code") and op == "descendent-of":
            return self.descendants(value)
        if prop in ("concept", "code") and op == "is-not-a":
            return set(self.display) - ({value} | self.descendants(value))
        if prop in ("concept", "code") and op == "in":
            return {v.strip() for v in value.split(",")} & set(self.display)
        if prop in ("concept", "code") and op == "=":
            return {value} & set(self.display)
        if op == "=":
            return {c for c, props in self.properties.items() if str(value) in map(str, props.get(prop, []))}
        if op == "exists":
            want = str(value).lower() == "true"
            return {c for c, props in self.properties.items() if (prop in props) == want}
        return None
