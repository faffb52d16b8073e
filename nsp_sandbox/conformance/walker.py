"""One validation run: an instance walked against compiled element trees.

The walk visits every JSON property of the resource with the element that defines it and checks,
from the snapshot: unknown elements, JSON shape (array or single), cardinality, primitive formats,
``fixed[x]`` / ``pattern[x]``, slicing and slice cardinality, types, bindings, constraints,
extensions by URL, references (resolvable, of an allowed type, meeting the target profiles) and
nested resources (Bundle entries, contained) against the profiles they must meet.

Issues are computed per (resource, profile) with expressions rooted at the resource type and kept
for the run, so a resource checked once — as an entry, as a reference target, by ``conformsTo()`` —
is never walked twice; they are placed under the entry's path when reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nsp_sandbox.conformance.fhirpath import EvaluationScope, NotChecked
from nsp_sandbox.conformance.invariants import is_structural
from nsp_sandbox.conformance.references import BundleIndex, reference_type, resolve_contained
from nsp_sandbox.conformance.slicing import Expectation, fixed_matches, instance_values, pattern_matches
from nsp_sandbox.conformance.structure import CompiledStructure, Constraint, ElementNode, TypeRef
from nsp_sandbox.outcome import Issue

if TYPE_CHECKING:
    from nsp_sandbox.conformance.packages import FhirPackage
    from nsp_sandbox.conformance.validator import Validator

# Extension URL bases of packages MedCom depends on that are not available here: their extensions
# are reported as "not checked" (warning), not as unknown.
UNAVAILABLE_EXTENSION_BASES = (
    ("http://hl7.org/fhir/StructureDefinition/", "hl7.fhir.uv.extensions.r4"),
    ("http://hl7.org/fhir/5.0/StructureDefinition/", "hl7.fhir.uv.xver-r5.r4"),
    ("http://hl7.org/fhir/4.3/StructureDefinition/", "hl7.fhir.uv.xver-r4b.r4"),
    ("https://profiles.ihe.net/ITI/MHD/StructureDefinition/", "ihe.iti.mhd"),
    ("http://terminology.hl7.org/StructureDefinition/", "hl7.terminology.r4"),
)
JSON_TYPES: dict[str, tuple[type, ...]] = {
    "boolean": (bool,), "integer": (int,), "unsignedInt": (int,), "positiveInt": (int,),
    "decimal": (int, float), "integer64": (str,),
}


@dataclass(frozen=True)
class Frame:
    """Where the walk is: the resource being checked, its container and Bundle, the package context."""

    resource: dict[str, Any]
    root: dict[str, Any]
    bundle: BundleIndex | None
    full_url: str | None
    package: FhirPackage | None


@dataclass(slots=True)
class Item:
    """One value of an element in the instance, with its type and FHIRPath."""

    type_code: str | None
    value: Any
    companion: Any
    path: str
    category: str | None = None  # primitive | resource | complex, when known from the definitions


class Walk:
    """The state of one ``Validator.validate`` call."""

    def __init__(self, validator: Validator, context_given: bool = False) -> None:
        self.v = validator
        self.context_given = context_given  # the caller named the IG whose versions decide canonicals
        self.library = validator.structures
        self._results: dict[tuple[int, str], list[Issue]] = {}
        self._in_progress: set[tuple[int, str]] = set()
        self._frames: dict[int, Frame] = {}
        self._scopes: dict[int, tuple[Frame, EvaluationScope]] = {}
        self._walked: dict[int, list[CompiledStructure]] = {}

    # ---- resources and profiles -----------------------------------------------------------------

    def resource(self, resource: dict[str, Any], profiles: list[str], frame: Frame,
                 path: str, required: tuple[str, ...] = ()) -> list[Issue]:
        """Issues of ``resource`` against ``required`` profiles, its ``meta.profile``s and ``profiles``.

        Expressions are placed under ``path`` (the resource's own type at top level).
        """
        rtype = resource.get("resourceType")
        if not isinstance(rtype, str):
            return [Issue("error", "structure", "A resource needs a resourceType", expression=path,
                          rule="resource-type")]
        base = self.library.base_type(rtype, frame.package)
        if base is None or base.kind != "resource":
            return [Issue("error", "structure", f"Unknown resource type '{rtype}'", expression=path,
                          rule="resource-type")]
        self._frames.setdefault(id(resource), frame)
        issues: list[Issue] = []
        structures: list[CompiledStructure] = []
        meta = resource.get("meta")
        declared = meta.get("profile") if isinstance(meta, dict) else None
        declared_list = [p for p in declared if isinstance(p, str)] if isinstance(declared, list) else []
        wanted: list[tuple[str, str, str | None]] = [(p, "required", None) for p in required]
        wanted += [(p, "given", None) for p in profiles]
        wanted += [(p, "meta", f"{rtype}.meta.profile[{i}]") for i, p in enumerate(declared_list)]
        seen: set[str] = set()
        for url, why, where in wanted:
            if url in seen:
                continue
            seen.add(url)
            structure = self.library.get(url, frame.package)
            if structure is None:
                issues.append(self._missing_profile(url, why, where or rtype))
                continue
            if why == "meta" and "|" not in url and not self.context_given and path == rtype:
                versions = self.library.known_versions(url)
                if len(versions) > 1:
                    issues.append(Issue(
                        "information", "informational",
                        f"Profile {url} has no version and {len(versions)} versions are loaded "
                        f"({', '.join(versions)}); checked against {structure.version}. Name the IG "
                        "(--ig NAME#VERSION) or use a versioned canonical to choose.",
                        expression=where, source=url, rule="profile-version"))
            if structure.type != rtype:
                issues.append(Issue("error", "invalid",
                                    f"Profile {url} is for {structure.type}, not {rtype}",
                                    expression=where or rtype, source=structure.url, rule="profile"))
                continue
            if all(s.url != structure.url for s in structures):
                structures.append(structure)
        if not structures:
            structures = [base]
        for structure in structures:
            issues.extend(self.against(resource, structure, frame))
        return [i.prefixed(path) for i in issues] if path != rtype else issues

    def _missing_profile(self, url: str, why: str, where: str) -> Issue:
        plain, _, version = url.partition("|")
        loaded = self.library.known_versions(plain)
        if version and loaded:
            return Issue("error", "invalid",
                         f"Profile {url}: version {version} is not available (loaded: {', '.join(loaded)})",
                         expression=where, source=plain, rule="profile")
        # A profile the definitions or the caller require must be checkable; a declared one is a claim.
        severity = "error" if why in ("required", "given") else "warning"
        return Issue(severity, "not-supported",
                     f"Profile {url} is not available in the loaded packages; not checked",
                     expression=where, source=plain, rule="profile")

    def against(self, resource: dict[str, Any], structure: CompiledStructure, frame: Frame) -> list[Issue]:
        """Issues of ``resource`` against one profile (expressions rooted at its resource type)."""
        key = (id(resource), structure.canonical)
        found = self._results.get(key)
        if found is not None:
            return found
        if key in self._in_progress or structure.root is None:
            return []
        self._in_progress.add(key)
        try:
            inner = Frame(resource, frame.root, frame.bundle, frame.full_url, structure.package or frame.package)
            if resource.get("resourceType") == "Bundle":
                inner = Frame(resource, resource, BundleIndex.of(resource), frame.full_url,
                              structure.package or frame.package)
            issues: list[Issue] = []
            self._complex(structure.root, structure.type, resource, structure.type, inner, issues, True)
        finally:
            self._in_progress.discard(key)
        self._results[key] = issues
        self._walked.setdefault(id(resource), []).append(structure)
        return issues

    def conforms(self, resource: dict[str, Any], url: str, frame: Frame) -> bool | None:
        """Does ``resource`` meet profile ``url``? None when the profile is not loaded."""
        structure = self.library.get(url, frame.package)
        if structure is None:
            return None
        if structure.type != resource.get("resourceType") and structure.kind == "resource":
            return False
        # Met by a profile derived from it by constraint: then it is met (derived profiles only narrow).
        for other in self._walked.get(id(resource), ()):
            if structure in self.library.ancestors(other) and not any(
                    i.is_error for i in self._results[(id(resource), other.canonical)]):
                return True
        target_frame = self._frames.get(id(resource)) or self._frame_for(resource, frame)
        return not any(i.is_error for i in self.against(resource, structure, target_frame))

    def _frame_for(self, resource: dict[str, Any], near: Frame) -> Frame:
        if near.bundle is not None and id(resource) in near.bundle.full_url_of:
            return Frame(resource, resource, near.bundle, near.bundle.full_url_of[id(resource)], near.package)
        return Frame(resource, near.root if resource is not near.root else resource, near.bundle, near.full_url,
                     near.package)

    def resolve(self, reference: str, frame: Frame) -> dict[str, Any] | None:
        if reference.startswith("#"):
            return resolve_contained(reference, frame.root)
        if frame.bundle is not None:
            return frame.bundle.resolve(reference, frame.full_url)
        return None

    def resolve_for_fhirpath(self, reference: str, frame: Frame) -> dict[str, Any] | None:
        """``resolve()`` in a constraint: outside a Bundle a non-contained reference is unknowable."""
        if not reference.startswith("#") and frame.bundle is None:
            raise NotChecked(f"reference '{reference}' cannot be resolved outside a Bundle")
        return self.resolve(reference, frame)

    # ---- elements -------------------------------------------------------------------------------

    def _complex(self, node: ElementNode, type_code: str | None, obj: Any, path: str, frame: Frame,
                 issues: list[Issue], is_resource: bool = False, check_rules: bool = True) -> None:
        if not isinstance(obj, dict):
            issues.append(Issue("error", "structure",
                                f"Expected an object for {type_code or node.path}, found {_json_kind(obj)}",
                                expression=path, source=node.source, rule="type"))
            return
        child_set = node.child_sets.get(type_code) or self.library.child_set(node, type_code)
        if check_rules and not is_resource and (not obj or (len(obj) == 1 and "id" in obj)):
            issues.append(Issue("error", "invariant", "Constraint failed: ele-1: All FHIR elements must "
                                "have a @value or children", expression=path, source=node.source,
                                rule="invariant:ele-1"))
        groups: dict[ElementNode, list[Item]] = {}  # nodes hash by identity
        keys_get = child_set.keys.get
        get = obj.get
        for key, value in obj.items():
            if key.startswith("_"):
                name = key[1:]
                if name in obj:
                    continue
                value, companion = None, obj[key]
            elif is_resource and key == "resourceType":
                continue
            else:
                name = key
                companion = get(_companion_key(key))
            entry = keys_get(name)
            if entry is None:
                if name == "fhir_comments":
                    continue
                issues.append(Issue("error", "structure", f"Unknown element '{key}'",
                                    expression=f"{path}.{key}", source=node.source, rule="unknown-element"))
                continue
            child, code, shown, category = entry
            items: list[Item]
            if isinstance(value, list) or (value is None and isinstance(companion, list)):
                values = value if isinstance(value, list) else [None] * len(companion)
                if child.base_max == 1:
                    issues.append(Issue("error", "structure", f"'{name}' must be a single value, not an array",
                                        expression=f"{path}.{shown}", source=child.source, rule="type"))
                comps = companion if isinstance(companion, list) else []
                if not values:
                    issues.append(Issue("error", "structure", f"'{name}' is an empty array",
                                        expression=f"{path}.{shown}", source=child.source, rule="type"))
                items = [Item(code, v, comps[i] if i < len(comps) else None, f"{path}.{shown}[{i}]", category)
                         for i, v in enumerate(values)]
            else:
                if child.base_max != 1:
                    issues.append(Issue("error", "structure", f"'{name}' must be an array",
                                        expression=f"{path}.{shown}", source=child.source, rule="type"))
                    items = [Item(code, value, companion, f"{path}.{shown}[0]", category)]
                else:
                    items = [Item(code, value, companion, f"{path}.{shown}", category)]
            group = groups.get(child)
            if group is None:
                groups[child] = items
            else:
                if child.is_choice:
                    issues.append(Issue("error", "structure",
                                        f"Only one type of {child.base_name}[x] is allowed",
                                        expression=f"{path}.{child.base_name}", source=child.source, rule="type"))
                group.extend(items)
        if check_rules:
            for child in child_set.required:
                if child not in groups:
                    issues.append(Issue("error", "required",
                                        f"{child.path} is required (min {child.min}) but missing",
                                        expression=f"{path}.{child.base_name}", source=child.source,
                                        rule="cardinality"))
        for child, items in groups.items():
            if check_rules:
                count = len(items)
                if child.max is not None and count > child.max:
                    where = items[0].path.rsplit("[", 1)[0] if items[0].path.endswith("]") else items[0].path
                    issues.append(Issue("error", "structure",
                                        f"{child.path} allows at most {child.max} but has {count}",
                                        expression=where, source=child.source, rule="cardinality"))
                elif count < child.min:
                    where = items[0].path.rsplit("[", 1)[0] if items else f"{path}.{child.base_name}"
                    issues.append(Issue("error", "required",
                                        f"{child.path} needs at least {child.min} but has {count}",
                                        expression=where, source=child.source, rule="cardinality"))
            if child.slicing is not None or (child.name in ("extension", "modifierExtension") and check_rules):
                self._sliced(child, items, frame, issues)
            else:
                for item in items:
                    self._item(child, item, frame, issues, obj)
        if check_rules:
            focus_type = node.path if type_code in (None, "BackboneElement", "Element") else type_code
            self._constraints(node, child_set.constraints, obj, focus_type, path, frame, issues, is_resource)

    def _item(self, node: ElementNode, item: Item, frame: Frame, issues: list[Issue],
              parent: dict[str, Any] | None = None) -> None:
        code = item.type_code
        if code is None:
            codes = node.type_codes
            code = codes[0] if len(codes) == 1 else None
            if code is None and node.content_reference:
                code = "BackboneElement"
        if code is None:
            issues.append(Issue("error", "structure", f"Cannot tell the type of {node.path}",
                                expression=item.path, source=node.source, rule="type"))
            return
        category = item.category if item.type_code == code and item.category else None
        if category is None:
            kind = self.library.kind(code, node.structure.package)
            category = "primitive" if kind == "primitive-type" else "resource" if (
                kind == "resource" or code in ("Resource", "DomainResource")) else "complex"
        if category == "primitive":
            self._primitive(node, code, item, frame, issues, parent)
            return
        value = item.value
        if category == "resource":
            self._nested_resource(node, code, item, frame, issues)
            return
        self._complex(node, code, value, item.path, frame, issues)
        if not isinstance(value, dict):
            return
        if node.fixed is not None or node.pattern is not None:
            self._fixed_pattern(node, value, item.path, issues)
        source = node.source
        if node.binding is not None:
            issues.extend(self.v.bindings.check(node.binding, code, value, item.path, source,
                                                node.structure.package))
        if code == "Coding":
            issues.extend(self.v.bindings.check_code_system(value, item.path, source, node.structure.package))
        elif code == "Reference":
            self._reference(node, value, item.path, frame, issues)
        elif code == "Extension":
            self._extension_rules(node, value, item.path, issues)

    def _primitive(self, node: ElementNode, code: str, item: Item, frame: Frame, issues: list[Issue],
                   parent: dict[str, Any] | None) -> None:
        value, path = item.value, item.path
        if value is None and item.companion is None:
            issues.append(Issue("error", "structure", "null is not a valid value", expression=path,
                                source=node.source, rule="type"))
            return
        if value is not None:
            if not self._primitive_value(node, code, value, path, issues):
                return
            fixed = node.fixed or node.pattern
            if fixed is not None and not fixed_matches(value, fixed[1]):
                rule = "fixed" if fixed[0].startswith("fixed") else "pattern"
                issues.append(Issue("error", "value", f"Value is {value!r} but must be {fixed[1]!r} ({fixed[0]})",
                                    expression=path, source=node.source, rule=rule))
            if node.binding is not None:
                hint = parent.get("system") if node.name == "code" and isinstance(parent, dict) else None
                issues.extend(self.v.bindings.check(node.binding, code, value, path, node.source,
                                                    node.structure.package, system_hint=hint))
            if node.evaluated is None or node.evaluated:  # not known to have no FHIRPath constraints
                self._constraints(node, (), value, code, path, frame, issues, False)
        if item.companion is not None:
            self._complex(node, code, item.companion, path, frame, issues, check_rules=False)

    def _primitive_value(self, node: ElementNode, code: str, value: Any, path: str, issues: list[Issue]) -> bool:
        expected = JSON_TYPES.get(code, (str,))
        if not isinstance(value, expected) or (isinstance(value, bool) and bool not in expected):
            issues.append(Issue("error", "structure",
                                f"{code} value must be a JSON {_json_name(expected)}, found {_json_kind(value)}",
                                expression=path, source=node.source, rule="type"))
            return False
        if isinstance(value, str):
            if (not value or value.isspace()) and code != "xhtml":  # as ``not value.strip()``
                issues.append(Issue("error", "value", f"A {code} must not be empty or only whitespace",
                                    expression=path, source=node.source, rule="type"))
                return False
            regex = self.library.primitive_regex(code, node.structure.package)
            if regex is not None and not regex.fullmatch(value):
                issues.append(Issue("error", "value", f"{value!r} is not a valid {code}",
                                    expression=path, source=node.source, rule="type"))
                return False
            if node.max_length is not None and len(value) > node.max_length:
                issues.append(Issue("error", "value", f"Value is longer than maxLength {node.max_length}",
                                    expression=path, source=node.source, rule="max-length"))
        elif code in ("unsignedInt", "positiveInt") and (value < 0 or (code == "positiveInt" and value < 1)):
            issues.append(Issue("error", "value", f"{value} is not a valid {code}", expression=path,
                                source=node.source, rule="type"))
            return False
        return True

    def _fixed_pattern(self, node: ElementNode, value: dict[str, Any], path: str, issues: list[Issue]) -> None:
        if node.fixed is not None and not fixed_matches(value, node.fixed[1]):
            issues.append(Issue("error", "value", f"Value does not equal the fixed value {node.fixed[1]!r}",
                                expression=path, source=node.source, rule="fixed"))
        if node.pattern is not None and not pattern_matches(value, node.pattern[1]):
            issues.append(Issue("error", "value", f"Value does not match the pattern {node.pattern[1]!r}",
                                expression=path, source=node.source, rule="pattern"))

    # ---- constraints ----------------------------------------------------------------------------

    def _constraints(self, node: ElementNode, extra: tuple[Constraint, ...], focus: Any, focus_type: str,
                     path: str, frame: Frame, issues: list[Issue], is_resource: bool) -> None:
        constraints = _evaluated(node, extra)
        if not constraints:
            return
        scope = self._scope(frame)
        kind = focus.get("resourceType", focus_type) if is_resource else focus_type
        self.v.invariants.check_all(constraints, focus, kind, frame.resource, frame.root, scope, path, issues)

    def _scope(self, frame: Frame) -> EvaluationScope:
        """The FHIRPath function scope of ``frame`` (one per frame and walk)."""
        found = self._scopes.get(id(frame))
        if found is not None and found[0] is frame:
            return found[1]
        scope = EvaluationScope(
            resolve=lambda ref: self.resolve_for_fhirpath(ref, frame),
            conforms_to=lambda res, url: self.conforms(res, url, frame),
            member_of=lambda value, vs: self.v.member_of(value, vs, frame.package),
        )
        self._scopes[id(frame)] = (frame, scope)
        return scope

    # ---- slicing --------------------------------------------------------------------------------

    def _sliced(self, node: ElementNode, items: list[Item], frame: Frame, issues: list[Issue]) -> None:
        slicing = node.slicing
        slices = node.slices
        counts = {id(s): 0 for s in slices}
        last_index = -1
        is_extension = node.name in ("extension", "modifierExtension")
        for item in items:
            chosen: ElementNode | None = None
            for index, candidate in enumerate(slices):
                if self._matches(candidate, item, frame):
                    chosen = candidate
                    if slicing is not None and slicing.ordered and index < last_index:
                        issues.append(Issue("error", "structure",
                                            f"{node.path} is ordered: slice {candidate.slice_name} is out of order",
                                            expression=item.path, source=candidate.source, rule="slice-order"))
                    last_index = max(last_index, index)
                    break
            if chosen is not None:
                counts[id(chosen)] += 1
                self._item(chosen, item, frame, issues)
                continue
            if slicing is not None and slicing.rules == "closed" and not is_extension:
                issues.append(Issue("error", "structure",
                                    f"{node.path} is closed: this item matches none of its slices "
                                    f"({', '.join(s.slice_name or '?' for s in slices)})",
                                    expression=item.path, source=node.source, rule="slice-closed"))
            if is_extension:
                self._unsliced_extension(node, item, frame, issues)
            else:
                self._item(node, item, frame, issues)
        for candidate in slices:
            count = counts[id(candidate)]
            if count < candidate.min or (candidate.max is not None and count > candidate.max):
                bound = f"{candidate.min}..{'*' if candidate.max is None else candidate.max}"
                where = items[0].path.rsplit("[", 1)[0] if items and items[0].path.endswith("]") else (
                    items[0].path if items else node.path)
                issues.append(Issue("error", "required" if count < candidate.min else "structure",
                                    f"Slice {node.path}:{candidate.slice_name} needs {bound} but has {count}",
                                    expression=where, source=candidate.source, rule="slice-cardinality"))

    def _matches(self, candidate: ElementNode, item: Item, frame: Frame) -> bool:
        expected = candidate.derived.get("discriminated")
        if expected is None:  # the slice's (discriminator, expectation) pairs, read from the definitions once
            expected = tuple((disc, self.v.slice_expectations.of(candidate, disc))
                             for disc in self._discriminators(candidate))
            candidate.derived["discriminated"] = expected
        if not expected:
            return False
        resolve = None
        for disc, expectation in expected:
            if expectation.kind == "none":
                return False
            if resolve is None:
                resolve = lambda ref, f=frame: self._resolve_value(ref, f)  # noqa: E731
            values = instance_values(item.value, item.type_code, disc.path, resolve)
            if not values and "resolve()" in disc.path and expectation.kind in ("types", "profiles"):
                # Not resolvable here (a standalone resource): judge by the type the reference names.
                if not self._literal_type_matches(item.value, expectation.value, candidate):
                    return False
                continue
            if not self._met(expectation, values, frame):
                return False
        return True

    def _met(self, expectation: Expectation, values: list[tuple[Any, str | None]], frame: Frame) -> bool:
        kind, wanted = expectation.kind, expectation.value
        if kind == "fixed":
            return any(fixed_matches(v, wanted) for v, _ in values)
        if kind == "pattern":
            return any(pattern_matches(v, wanted) for v, _ in values)
        if kind == "binding":
            value_set, package = wanted
            return any(self.v.member_of(v, value_set, package) for v, _ in values)
        if kind == "types":
            return any(isinstance(t, str) and t in wanted for _, t in values)
        if kind == "exists":
            return bool(values) == wanted
        if kind == "profiles":
            return any(isinstance(v, dict) and any(self.conforms(v, p, frame) for p in wanted) for v, _ in values)
        return False

    def _literal_type_matches(self, value: Any, expected: Any, candidate: ElementNode) -> bool:
        reference = value.get("reference") if isinstance(value, dict) else None
        named = reference_type(reference) if isinstance(reference, str) else None
        if named is None:
            return False
        if isinstance(expected, frozenset):
            return named in expected
        return any(self._profile_type(p, candidate) == named for p in expected)

    def _discriminators(self, candidate: ElementNode) -> tuple[Any, ...]:
        sliced_id, _, _ = candidate.id.rpartition(":")
        sliced = candidate.structure.by_id.get(sliced_id)
        if sliced is None or sliced.slicing is None:
            return ()
        return sliced.slicing.discriminators

    def _resolve_value(self, value: Any, frame: Frame) -> dict[str, Any] | None:
        reference = value.get("reference") if isinstance(value, dict) else value
        return self.resolve(reference, frame) if isinstance(reference, str) else None

    # ---- extensions, references, nested resources -----------------------------------------------

    def _unsliced_extension(self, node: ElementNode, item: Item, frame: Frame, issues: list[Issue]) -> None:
        value = item.value
        url = value.get("url") if isinstance(value, dict) else None
        if not isinstance(url, str):
            self._item(node, item, frame, issues)
            return
        structure = self.library.get(url, node.structure.package)
        if structure is not None and structure.root is not None and structure.type == "Extension":
            self._item(structure.root, Item("Extension", value, item.companion, item.path), frame, issues)
            return
        self._item(node, item, frame, issues)
        modifier = node.name == "modifierExtension"
        for base, package in UNAVAILABLE_EXTENSION_BASES:
            if url.startswith(base) and not modifier:
                issues.append(Issue("warning", "not-supported",
                                    f"Extension {url} not checked: its definition ({package}) is not loaded",
                                    expression=item.path, source=url, rule="extension-not-checked"))
                return
        issues.append(Issue("error", "structure",
                            f"Unknown extension {url}: no loaded package defines it"
                            + (" (a modifier extension must be understood)" if modifier else ""),
                            expression=item.path, source=url, rule="extension-unknown"))

    def _extension_rules(self, node: ElementNode, value: dict[str, Any], path: str, issues: list[Issue]) -> None:
        has_value = any(k.startswith("value") for k in value)
        nested = bool(value.get("extension"))
        if has_value == nested:
            issues.append(Issue("error", "invariant",
                                "Constraint failed: ext-1: Must have either extensions or value[x], not both",
                                expression=path, source=f"{node.structure.url}#ext-1", rule="invariant:ext-1"))

    def _reference(self, node: ElementNode, value: dict[str, Any], path: str, frame: Frame,
                   issues: list[Issue]) -> None:
        reference = value.get("reference")
        if not isinstance(reference, str):
            return
        ref = node.type_ref("Reference")
        target_profiles = ref.target_profiles if ref else ()
        aggregation = ref.aggregation if ref else ()
        target = self.resolve(reference, frame)
        if target is None:
            in_bundle = frame.bundle is not None
            must = "bundled" in aggregation or reference.startswith("#") or (
                in_bundle and frame.bundle is not None and frame.bundle.bundle.get("type") == "document")
            if in_bundle or reference.startswith("#"):
                issues.append(Issue("error" if must else "warning", "not-found",
                                    f"Reference '{reference}' cannot be resolved"
                                    + (" inside the Bundle" if in_bundle else ""),
                                    expression=f"{path}.reference", source=node.source,
                                    rule="reference-unresolved"))
            named = reference_type(reference)
            if named and target_profiles and not self._type_allowed(named, target_profiles, node):
                issues.append(Issue("error", "structure", f"Reference to {named} is not allowed here "
                                    f"(allowed: {', '.join(target_profiles)})", expression=f"{path}.reference",
                                    source=node.source, rule="reference-type"))
            return
        rtype = target.get("resourceType", "?")
        if not target_profiles:
            return
        if not self._type_allowed(rtype, target_profiles, node):
            issues.append(Issue("error", "structure",
                                f"Reference to {rtype} is not allowed here (allowed: {', '.join(target_profiles)})",
                                expression=f"{path}.reference", source=node.source, rule="reference-type"))
            return
        candidates = [p for p in target_profiles if self._profile_type(p, node) == rtype]
        if not candidates or any(p.split("|")[0] == f"http://hl7.org/fhir/StructureDefinition/{rtype}"
                                 for p in candidates):
            return
        answers = [self.conforms(target, p, frame) for p in candidates]
        if any(a is True for a in answers):
            return
        if all(a is None for a in answers):
            issues.append(Issue("warning", "not-supported",
                                f"Target profile(s) {', '.join(candidates)} not loaded; reference not checked",
                                expression=path, source=node.source, rule="profile"))
            return
        issues.append(Issue("error", "invalid",
                            f"The resource referenced by '{reference}' does not conform to "
                            f"{' or '.join(c for c, a in zip(candidates, answers, strict=True) if a is False)}",
                            expression=path, source=node.source, rule="profile"))

    def _profile_type(self, profile: str, node: ElementNode) -> str | None:
        structure = self.library.get(profile, node.structure.package)
        if structure is not None:
            return structure.type
        return profile.split("|")[0].rsplit("/", 1)[-1] if profile.startswith(
            "http://hl7.org/fhir/StructureDefinition/") else None

    def _type_allowed(self, rtype: str, target_profiles: tuple[str, ...], node: ElementNode) -> bool:
        for profile in target_profiles:
            kind = self._profile_type(profile, node)
            if kind is None or kind in (rtype, "Resource", "DomainResource"):
                return True
        return False

    def _nested_resource(self, node: ElementNode, code: str, item: Item, frame: Frame,
                         issues: list[Issue]) -> None:
        value = item.value
        if not isinstance(value, dict):
            issues.append(Issue("error", "structure", f"Expected a resource, found {_json_kind(value)}",
                                expression=item.path, source=node.source, rule="type"))
            return
        rtype = value.get("resourceType")
        ref = node.type_ref(code) or (node.types[0] if node.types else TypeRef(code))
        if isinstance(rtype, str) and code not in ("Resource", "DomainResource") and rtype != code:
            issues.append(Issue("error", "structure", f"{node.path} must be a {code}, found {rtype}",
                                expression=item.path, source=node.source, rule="type"))
            return
        if frame.bundle is not None and frame.resource is frame.bundle.bundle and id(value) in \
                frame.bundle.entry_index_of:
            inner = Frame(value, value, frame.bundle, frame.bundle.full_url_of.get(id(value)), frame.package)
        else:
            inner = Frame(value, frame.root if node.name == "contained" else value, frame.bundle, frame.full_url,
                          frame.package)
        issues.extend(self.resource(value, [], inner, item.path, required=ref.profiles))


_COMPANION_KEYS: dict[str, str] = {}


def _companion_key(key: str) -> str:
    """``_key``: the JSON name of a primitive's id / extension companion (kept per name)."""
    found = _COMPANION_KEYS.get(key)
    if found is None:
        found = "_" + key
        if len(_COMPANION_KEYS) < 20_000:
            _COMPANION_KEYS[key] = found
    return found


def _evaluated(node: ElementNode, extra: tuple[Constraint, ...]) -> tuple[tuple[Constraint, str], ...]:
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


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _json_name(types: tuple[type, ...]) -> str:
    if bool in types:
        return "boolean"
    if int in types:
        return "number"
    return "string"
