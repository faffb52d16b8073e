"""StructureDefinition snapshots compiled into element trees the validator walks.

A profile's ``snapshot.element`` list is turned once into a tree of :class:`ElementNode` (children by
name, slices under the sliced element) and kept by ``url|version``. Elements the snapshot does not
expand (a ``Identifier`` inside a profile, a ``contentReference``) are expanded on demand from the
type's own StructureDefinition — the type profile named on the element, else the base type — and
that expansion is cached too, so a validation never re-reads a snapshot.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from nsp_sandbox.conformance.regex_equivalents import PROFILE_REGEX_FLAGS, Matcher, matcher

if TYPE_CHECKING:
    from nsp_sandbox.conformance.packages import FhirPackage, PackageRegistry

CORE_SD = "http://hl7.org/fhir/StructureDefinition/"
FHIRPATH_SYSTEM = "http://hl7.org/fhirpath/System."
REGEX_EXTENSION = "http://hl7.org/fhir/StructureDefinition/regex"

# The FHIR R4 primitive types. A type code is primitive when its StructureDefinition says
# ``kind = primitive-type``; this set only answers for types whose definition is not loaded.
R4_PRIMITIVES = frozenset({
    "base64Binary", "boolean", "canonical", "code", "date", "dateTime", "decimal", "id", "instant",
    "integer", "markdown", "oid", "positiveInt", "string", "time", "unsignedInt", "uri", "url", "uuid",
    "xhtml",
})


@dataclass(frozen=True)
class TypeRef:
    """One ``ElementDefinition.type``: a type code with the profiles it must meet."""

    code: str
    profiles: tuple[str, ...] = ()
    target_profiles: tuple[str, ...] = ()
    aggregation: tuple[str, ...] = ()


@dataclass(frozen=True)
class Constraint:
    key: str
    severity: str
    human: str
    expression: str | None
    source: str  # profile URL the constraint was read from


@dataclass(frozen=True)
class Binding:
    strength: str
    value_set: str | None
    description: str | None = None


@dataclass(frozen=True)
class Discriminator:
    type: str  # value | pattern | type | profile | exists
    path: str


@dataclass(frozen=True)
class Slicing:
    discriminators: tuple[Discriminator, ...]
    rules: str  # open | closed | openAtEnd
    ordered: bool


@dataclass(eq=False)
class ElementNode:
    """One element of a compiled snapshot, with its children and slices."""

    id: str
    path: str
    name: str  # last path segment, e.g. ``value[x]``
    min: int
    max: int | None  # None: unbounded
    base_max: int | None  # the base resource's max: decides array-ness in JSON
    types: tuple[TypeRef, ...]
    structure: CompiledStructure
    fixed: tuple[str, Any] | None = None  # ("fixedUri", value)
    pattern: tuple[str, Any] | None = None
    binding: Binding | None = None
    constraints: tuple[Constraint, ...] = ()
    slicing: Slicing | None = None
    slice_name: str | None = None
    content_reference: str | None = None
    max_length: int | None = None
    children: dict[str, ElementNode] = field(default_factory=dict)
    slices: list[ElementNode] = field(default_factory=list)
    derived: dict[Any, Any] = field(default_factory=dict, repr=False)  # facts the validator derives once
    evaluated: tuple[Any, ...] | None = field(default=None, repr=False)  # its FHIRPath constraints (walker)
    child_sets: dict[str | None, ChildSet] = field(default_factory=dict, repr=False)  # by type code (library's)
    is_choice: bool = field(init=False, default=False)  # ``value[x]``
    base_name: str = field(init=False, default="")  # the name without ``[x]``

    source: str = field(init=False, default="", repr=False)  # ``<profile URL>#<element id>``, for issues

    def __post_init__(self) -> None:
        self.is_choice = self.name.endswith("[x]")
        self.base_name = self.name[:-3] if self.is_choice else self.name
        self.source = f"{self.structure.url}#{self.id}"

    @property
    def type_codes(self) -> tuple[str, ...]:
        return tuple(t.code for t in self.types)

    def type_ref(self, code: str) -> TypeRef | None:
        for t in self.types:
            if t.code == code:
                return t
        return None

    def __repr__(self) -> str:
        return f"<ElementNode {self.structure.url}#{self.id}>"


@dataclass(eq=False)
class CompiledStructure:
    """A StructureDefinition compiled to a tree; ``package`` is the context for its canonicals."""

    url: str
    version: str | None
    name: str
    type: str
    kind: str
    derivation: str | None
    base_definition: str | None
    package: FhirPackage | None
    root: ElementNode | None = None
    by_id: dict[str, ElementNode] = field(default_factory=dict)

    @property
    def canonical(self) -> str:
        return f"{self.url}|{self.version}" if self.version else self.url


class KeyInfo(NamedTuple):
    """What a JSON property of an instance is: its element, type, FHIRPath step and kind of type."""

    element: ElementNode
    type_code: str | None
    step: str  # the FHIRPath step: ``code``, or ``value.ofType(Quantity)`` for a choice
    category: str | None  # primitive | resource | complex | None (type not known here)


@dataclass(eq=False)
class ChildSet:
    """The children that apply to one element of one type, ready for instance matching."""

    children: dict[str, ElementNode]
    keys: dict[str, KeyInfo]  # JSON property name -> what it is
    required: tuple[ElementNode, ...]  # children with min > 0
    constraints: tuple[Constraint, ...]  # the type's own root constraints (e.g. ref-1 on Reference)


_MISSING: Final = object()


def _max(value: Any) -> int | None:
    if value in (None, "*"):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _type_refs(element: dict[str, Any]) -> tuple[TypeRef, ...]:
    refs = []
    for t in element.get("type") or ():
        code = t.get("code")
        if not isinstance(code, str):
            continue
        # FHIRPath system types on id / url / Extension.url carry the FHIR type in an extension.
        for ext in t.get("extension") or ():
            if ext.get("url") == "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type":
                code = ext.get("valueUrl") or ext.get("valueUri") or code
        refs.append(TypeRef(
            code=code,
            profiles=tuple(t.get("profile") or ()),
            target_profiles=tuple(t.get("targetProfile") or ()),
            aggregation=tuple(t.get("aggregation") or ()),
        ))
    return tuple(refs)


def _fixed_and_pattern(element: dict[str, Any]) -> tuple[tuple[str, Any] | None, tuple[str, Any] | None]:
    fixed = pattern = None
    for key, value in element.items():
        if key.startswith("fixed"):
            fixed = (key, value)
        elif key.startswith("pattern"):
            pattern = (key, value)
    return fixed, pattern


def compile_structure(sd: dict[str, Any], package: FhirPackage | None) -> CompiledStructure:
    """Compile the snapshot of ``sd`` into a tree (ids ``A.b:slice.c`` give parent and slice)."""
    compiled = CompiledStructure(
        url=sd.get("url", ""), version=sd.get("version"), name=sd.get("name", ""),
        type=sd.get("type", ""), kind=sd.get("kind", ""), derivation=sd.get("derivation"),
        base_definition=sd.get("baseDefinition"), package=package,
    )
    elements = (sd.get("snapshot") or {}).get("element") or []
    for element in elements:
        eid = element.get("id") or element.get("path")
        path = element.get("path", eid)
        if not isinstance(eid, str):
            continue
        segments = eid.split(".")
        last = segments[-1]
        name, _, slice_name = last.partition(":")
        fixed, pattern = _fixed_and_pattern(element)
        binding = element.get("binding")
        slicing = element.get("slicing")
        node = ElementNode(
            id=eid, path=path, name=name,
            min=int(element.get("min") or 0), max=_max(element.get("max", "*")),
            base_max=_max((element.get("base") or {}).get("max", element.get("max", "*"))),
            types=_type_refs(element), structure=compiled, fixed=fixed, pattern=pattern,
            binding=Binding(binding.get("strength", ""), binding.get("valueSet"), binding.get("description"))
            if isinstance(binding, dict) else None,
            constraints=tuple(
                Constraint(c.get("key", "?"), c.get("severity", "error"), c.get("human", ""),
                           c.get("expression"), c.get("source") or compiled.url)
                for c in element.get("constraint") or () if isinstance(c, dict)
            ),
            slicing=Slicing(
                tuple(Discriminator(d.get("type", ""), d.get("path", "$this"))
                      for d in slicing.get("discriminator") or ()),
                slicing.get("rules", "open"), bool(slicing.get("ordered", False)),
            ) if isinstance(slicing, dict) else None,
            slice_name=slice_name or None,
            content_reference=element.get("contentReference"),
            max_length=element.get("maxLength") if isinstance(element.get("maxLength"), int) else None,
        )
        compiled.by_id[eid] = node
        if len(segments) == 1 and not slice_name:
            compiled.root = node
            continue
        if slice_name:
            sliced = compiled.by_id.get(".".join([*segments[:-1], name]))
            if sliced is not None:
                sliced.slices.append(node)
            continue
        parent = compiled.by_id.get(".".join(segments[:-1]))
        if parent is not None:
            parent.children[name] = node
    return compiled


def _capitalised(code: str) -> str:
    return code[:1].upper() + code[1:]


class StructureLibrary:
    """Compiled StructureDefinitions of a registry, built once and shared by every validation."""

    def __init__(self, registry: PackageRegistry) -> None:
        self.registry = registry
        # By the package asked in (by identity: ``id`` of None for none), then by canonical: two look-ups of keys
        # whose hashes are kept, rather than a tuple built and hashed at each.
        self._by_canonical: dict[int, dict[str, CompiledStructure | None]] = {}
        self._compiled: dict[int, CompiledStructure] = {}
        self._child_sets: dict[tuple[int, str | None], ChildSet] = {}
        self._kinds: dict[str, str | None] = {}
        self._regexes: dict[str, Matcher | None] = {}
        self.regexes: Mapping[str, Matcher | None] = self._regexes  # primitive_regex's, by type code
        self._ancestors: dict[int, tuple[CompiledStructure, ...]] = {}
        self._lock = threading.RLock()

    # ---- finding structures ---------------------------------------------------------------------

    def get(self, canonical: str, context: FhirPackage | None = None) -> CompiledStructure | None:
        """The compiled profile ``canonical`` (``url`` or ``url|version``), or None when not loaded."""
        by_package = self._by_canonical.get(id(context))
        if by_package is not None:
            found = by_package.get(canonical, _MISSING)
            if found is not _MISSING:
                return found  # type: ignore[return-value]
        sd = self.registry.structure_definition(canonical, context)
        compiled = self._compile(sd) if sd is not None else None
        with self._lock:
            self._by_canonical.setdefault(id(context), {})[canonical] = compiled
        return compiled

    def base_type(self, code: str, context: FhirPackage | None = None) -> CompiledStructure | None:
        if code.startswith("http://") or code.startswith("https://"):
            return self.get(code, context)
        return self.get(CORE_SD + code, context)

    def _compile(self, sd: dict[str, Any]) -> CompiledStructure | None:
        with self._lock:
            found = self._compiled.get(id(sd))
            if found is not None:
                return found
            if not (sd.get("snapshot") or {}).get("element"):
                return None
            compiled = compile_structure(sd, self.registry.package_of(sd))
            self._compiled[id(sd)] = compiled
            return compiled

    def ancestors(self, structure: CompiledStructure) -> tuple[CompiledStructure, ...]:
        """The profiles ``structure`` is derived from by constraint (its ``baseDefinition`` chain)."""
        found = self._ancestors.get(id(structure))
        if found is not None:
            return found
        chain: list[CompiledStructure] = []
        current = structure
        while current.derivation == "constraint" and current.base_definition:
            parent = self.get(current.base_definition, current.package)
            if parent is None or parent in chain or parent is structure:
                break
            chain.append(parent)
            current = parent
        result = tuple(chain)
        with self._lock:
            self._ancestors[id(structure)] = result
        return result

    def known_versions(self, url: str) -> list[str]:
        """Versions of ``url`` loaded in any package (for "wrong version" messages)."""
        return self.registry.canonical_versions(url, "StructureDefinition")

    # ---- type facts -----------------------------------------------------------------------------

    def kind(self, code: str, context: FhirPackage | None = None) -> str | None:
        """``primitive-type`` | ``complex-type`` | ``resource`` | None (unknown type)."""
        found = self._kinds.get(code, _MISSING)
        if found is not _MISSING:
            return found  # type: ignore[return-value]
        if code.startswith(FHIRPATH_SYSTEM):
            return "primitive-type"
        structure = self.base_type(code, context)
        kind = structure.kind if structure is not None else ("primitive-type" if code in R4_PRIMITIVES else None)
        with self._lock:
            self._kinds[code] = kind
        return kind

    def is_primitive(self, code: str, context: FhirPackage | None = None) -> bool:
        return self.kind(code, context) == "primitive-type"

    def primitive_regex(self, code: str, context: FhirPackage | None = None) -> Matcher | None:
        """The value regex the primitive type's definition declares (``value`` element), as its fastest matcher
        (:mod:`.regex_equivalents`)."""
        found = self._regexes.get(code, _MISSING)
        if found is not _MISSING:
            return found  # type: ignore[return-value]
        pattern = None
        structure = self.base_type(code, context)
        if structure is not None and structure.root is not None:
            value = structure.root.children.get("value")
            if value is not None:
                sd = self.registry.structure_definition(structure.canonical, context)
                pattern = _regex_of(sd, value.id) if sd is not None else None
        compiled: Matcher | None = None
        if pattern:
            try:
                compiled = matcher(re.compile(pattern, PROFILE_REGEX_FLAGS))
            except re.error:
                compiled = None
        with self._lock:
            self._regexes[code] = compiled
        return compiled

    # ---- children of an element -----------------------------------------------------------------

    def child_set(self, node: ElementNode, type_code: str | None) -> ChildSet:
        """The children of ``node`` when its instance has type ``type_code``.

        Expanded in the snapshot: those; else from ``contentReference`` or from the type's
        definition (the element's type profile when it names one, else the base type).
        """
        found = node.child_sets.get(type_code)
        if found is not None:
            return found
        key = (id(node), type_code)
        found = self._child_sets.get(key)
        if found is not None:
            return found
        children, constraints = self._resolve_children(node, type_code)
        child_set = _make_child_set(children, constraints, self, node.structure.package)
        with self._lock:
            self._child_sets[key] = child_set
            node.child_sets[type_code] = child_set
        return child_set

    def _resolve_children(self, node: ElementNode, type_code: str | None,
                          ) -> tuple[dict[str, ElementNode], tuple[Constraint, ...]]:
        context = node.structure.package
        target = node
        if node.content_reference and not node.children:
            content_ref = node.content_reference
            ref_id = content_ref.partition("#")[2]
            target = node.structure.by_id.get(ref_id) or node
            if target is node and content_ref.partition("#")[0]:
                other = self.get(content_ref.partition("#")[0], context)
                if other is not None:
                    target = other.by_id.get(ref_id) or node
        type_constraints: tuple[Constraint, ...] = ()
        type_structure: CompiledStructure | None = None
        ref = target.type_ref(type_code) if type_code else (target.types[0] if len(target.types) == 1 else None)
        code = ref.code if ref else type_code
        if ref is not None and ref.profiles:
            type_structure = self.get(ref.profiles[0], context)
        if type_structure is None and code and code not in ("BackboneElement", "Element"):
            type_structure = self.base_type(code, context)
        if type_structure is not None and type_structure.root is not None and type_structure.kind != "resource":
            type_constraints = type_structure.root.constraints
        if target.children:
            return target.children, type_constraints
        if type_structure is not None and type_structure.root is not None:
            return type_structure.root.children, type_constraints
        return {}, type_constraints


def _regex_of(sd: dict[str, Any], element_id: str) -> str | None:
    for element in (sd.get("snapshot") or {}).get("element") or ():
        if element.get("id") != element_id:
            continue
        for t in element.get("type") or ():
            for ext in t.get("extension") or ():
                if ext.get("url") == REGEX_EXTENSION:
                    return ext.get("valueString")
    return None


def _make_child_set(children: dict[str, ElementNode], constraints: tuple[Constraint, ...],
                    library: StructureLibrary, context: FhirPackage | None) -> ChildSet:
    def category(code: str | None) -> str | None:
        if code is None:
            return None
        if code in ("Resource", "DomainResource"):
            return "resource"
        kind = library.kind(code, context)
        return {"primitive-type": "primitive", "resource": "resource"}.get(kind or "", "complex")

    keys: dict[str, KeyInfo] = {}
    for name, child in children.items():
        if child.is_choice:
            types = child.type_codes
            if not types and child.slices:
                types = tuple(t for s in child.slices for t in s.type_codes)
            for code in types:
                keys[child.base_name + _capitalised(code)] = KeyInfo(
                    child, code, f"{child.base_name}.ofType({code})", category(code))
        else:
            single = child.types[0].code if len(child.types) == 1 else None
            if single is None and child.content_reference:
                single = "BackboneElement"
            keys[name] = KeyInfo(child, single, name, category(single))
    required = tuple(c for c in children.values() if c.min > 0)
    return ChildSet(children, keys, required, tuple(c for c in constraints if c.key not in ("ele-1",)))


def iter_nodes(node: ElementNode) -> Iterator[ElementNode]:
    """``node`` and every element below it, slices included (for tests and diagnostics)."""
    yield node
    for child in node.children.values():
        yield from iter_nodes(child)
    for sliced in node.slices:
        yield from iter_nodes(sliced)
