"""One validation run: an instance walked against compiled element trees.

The walk visits every JSON property of the resource with the element that defines it and checks,
from the snapshot: unknown elements, JSON shape (array or single), cardinality, primitive formats,
``fixed[x]`` / ``pattern[x]``, slicing and slice cardinality, types, bindings, constraints,
extensions by URL, references (resolvable, of an allowed type, meeting the target profiles) and
nested resources (Bundle entries, contained) against the profiles they must meet.

Issues are computed per (resource, profile) with expressions rooted at the resource type and kept
for the run, so a resource checked once — as an entry, as a reference target, by ``conformsTo()`` —
is never walked twice; they are placed under the entry's path when reported.

The rules of one value live beside: :mod:`.primitives`, :mod:`.reference_rules`,
:mod:`.extensions` and :mod:`.slice_matching`; the walk gets its engines as :class:`~.engines.Engines`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nsp_sandbox.conformance.extensions import ext1_issues, undefined_extension_issue
from nsp_sandbox.conformance.fhirpath import SCOPE, EvaluationScope, NotChecked
from nsp_sandbox.conformance.frames import Frame, Item
from nsp_sandbox.conformance.invariants import evaluated_constraints
from nsp_sandbox.conformance.json_bounds import MAX_DEPTH
from nsp_sandbox.conformance.primitives import fixed_pattern_issues, json_kind, primitive_value_ok
from nsp_sandbox.conformance.reference_rules import reference_issues
from nsp_sandbox.conformance.references import BundleIndex, resolve_contained
from nsp_sandbox.conformance.slice_matching import matches
from nsp_sandbox.conformance.slicing import fixed_matches
from nsp_sandbox.conformance.structure import TypeRef
from nsp_sandbox.outcome import Issue, Severity

if TYPE_CHECKING:
    from nsp_sandbox.conformance.engines import Engines
    from nsp_sandbox.conformance.structure import ChildSet, CompiledStructure, Constraint, ElementNode


class Walk:
    """The state of one ``Validator.validate`` call, checking with ``engines``."""

    def __init__(self, engines: Engines, context_given: bool = False) -> None:
        self.engines = engines
        self.context_given = context_given  # the caller named the IG whose versions decide canonicals
        self.library = engines.structures
        self._results: dict[tuple[int, str], list[Issue]] = {}
        self._in_progress: set[tuple[int, str]] = set()
        self._frames: dict[int, Frame] = {}
        self._scopes: dict[int, tuple[Frame, EvaluationScope]] = {}
        self._walked: dict[int, list[CompiledStructure]] = {}
        self._depth = 0  # objects being walked, one inside the other (_complex)

    def close(self) -> None:
        """Let go of the FHIRPath scopes once the validation is over. Each holds functions that refer back to the
        walk: a cycle that would leave the walk, and all it kept (frames, results, the Bundle's index), to the
        garbage collector. Without them, reference counting frees it all as the validation returns."""
        self._scopes.clear()

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
        severity: Severity = "error" if why in ("required", "given") else "warning"
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
            # The resource's FHIRPath scope entered once for all its elements' constraints (check_all then leaves
            # it as it is), and left when the resource is walked.
            token = SCOPE.set(self._scope(inner))
            try:
                self._complex(structure.root, structure.type, resource, structure.type, inner, issues, True)
            finally:
                SCOPE.reset(token)
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
        """Walk one object; deeper than ``MAX_DEPTH`` objects, ``RecursionError`` (the validator's
        ``validator-limit``). Compiled, the walk's calls are C calls that Python's recursion limit does
        not count, so the walk bounds itself, at the depth every JSON body is held to."""
        if self._depth >= MAX_DEPTH:
            raise RecursionError(f"the walk is {MAX_DEPTH} objects deep")
        self._depth += 1
        try:
            self._object(node, type_code, obj, path, frame, issues, is_resource, check_rules)
        finally:
            self._depth -= 1

    def _object(self, node: ElementNode, type_code: str | None, obj: Any, path: str, frame: Frame,
                issues: list[Issue], is_resource: bool, check_rules: bool) -> None:
        if not isinstance(obj, dict):
            issues.append(Issue("error", "structure",
                                f"Expected an object for {type_code or node.path}, found {json_kind(obj)}",
                                expression=path, source=node.source, rule="type"))
            return
        child_set = node.child_sets.get(type_code) or self.library.child_set(node, type_code)
        if check_rules and not is_resource and (not obj or (len(obj) == 1 and "id" in obj)):
            issues.append(Issue("error", "invariant", "Constraint failed: ele-1: All FHIR elements must "
                                "have a @value or children", expression=path, source=node.source,
                                rule="invariant:ele-1"))
        groups = _groups(node, child_set, obj, path, issues, is_resource)
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
                    where = items[0][3].rsplit("[", 1)[0] if items[0][3].endswith("]") else items[0][3]
                    issues.append(Issue("error", "structure",
                                        f"{child.path} allows at most {child.max} but has {count}",
                                        expression=where, source=child.source, rule="cardinality"))
                elif count < child.min:
                    where = items[0][3].rsplit("[", 1)[0] if items else f"{path}.{child.base_name}"
                    issues.append(Issue("error", "required",
                                        f"{child.path} needs at least {child.min} but has {count}",
                                        expression=where, source=child.source, rule="cardinality"))
            if child.slicing is not None or (child.name in ("extension", "modifierExtension") and check_rules):
                self._sliced(child, items, frame, issues)
            else:
                for item in items:
                    self._item(child, item, frame, issues, obj)
        if check_rules:
            constraints = evaluated_constraints(node, child_set.constraints)
            if constraints:
                focus_type = node.path if type_code in (None, "BackboneElement", "Element") else type_code
                kind = obj.get("resourceType", focus_type) if is_resource else focus_type
                self.engines.invariants.check_all(constraints, obj, kind, frame.resource, frame.root,
                                                  self._scope(frame), path, issues)

    def _item(self, node: ElementNode, item: Item, frame: Frame, issues: list[Issue],
              parent: dict[str, Any] | None = None) -> None:
        code = item[0]
        if code is None:
            codes = node.type_codes
            code = codes[0] if len(codes) == 1 else None
            if code is None and node.content_reference:
                code = "BackboneElement"
        if code is None:
            issues.append(Issue("error", "structure", f"Cannot tell the type of {node.path}",
                                expression=item[3], source=node.source, rule="type"))
            return
        category = item[4] if item[0] == code and item[4] else None
        if category is None:
            kind = self.library.kind(code, node.structure.package)
            category = "primitive" if kind == "primitive-type" else "resource" if (
                kind == "resource" or code in ("Resource", "DomainResource")) else "complex"
        if category == "primitive":
            self._primitive(node, code, item, frame, issues, parent)
            return
        value = item[1]
        if category == "resource":
            self._nested_resource(node, code, item, frame, issues)
            return
        self._complex(node, code, value, item[3], frame, issues)
        if not isinstance(value, dict):
            return
        if node.fixed is not None or node.pattern is not None:
            fixed_pattern_issues(node, value, item[3], issues)
        source = node.source
        if node.binding is not None:
            issues.extend(self.engines.bindings.check(node.binding, code, value, item[3], source,
                                                node.structure.package))
        if code == "Coding":
            issues.extend(self.engines.bindings.check_code_system(value, item[3], source, node.structure.package))
        elif code == "Reference":
            reference_issues(self, self.library, node, value, item[3], frame, issues)
        elif code == "Extension":
            ext1_issues(node, value, item[3], issues)

    def _primitive(self, node: ElementNode, code: str, item: Item, frame: Frame, issues: list[Issue],
                   parent: dict[str, Any] | None) -> None:
        value, path = item[1], item[3]
        if value is None and item[2] is None:
            issues.append(Issue("error", "structure", "null is not a valid value", expression=path,
                                source=node.source, rule="type"))
            return
        if value is not None:
            if not primitive_value_ok(self.library, node, code, value, path, issues):
                return
            fixed = node.fixed or node.pattern
            if fixed is not None and not fixed_matches(value, fixed[1]):
                rule = "fixed" if fixed[0].startswith("fixed") else "pattern"
                issues.append(Issue("error", "value", f"Value is {value!r} but must be {fixed[1]!r} ({fixed[0]})",
                                    expression=path, source=node.source, rule=rule))
            if node.binding is not None:
                hint = parent.get("system") if node.name == "code" and isinstance(parent, dict) else None
                issues.extend(self.engines.bindings.check(node.binding, code, value, path, node.source,
                                                    node.structure.package, system_hint=hint))
            if node.evaluated is None or node.evaluated:  # not known to have no FHIRPath constraints
                self._constraints(node, (), value, code, path, frame, issues, False)
        if item[2] is not None:
            self._complex(node, code, item[2], path, frame, issues, check_rules=False)

    # ---- constraints ----------------------------------------------------------------------------

    def _constraints(self, node: ElementNode, extra: tuple[Constraint, ...], focus: Any, focus_type: str,
                     path: str, frame: Frame, issues: list[Issue], is_resource: bool) -> None:
        constraints = evaluated_constraints(node, extra)
        if not constraints:
            return
        scope = self._scope(frame)
        kind = focus.get("resourceType", focus_type) if is_resource else focus_type
        self.engines.invariants.check_all(constraints, focus, kind, frame.resource, frame.root, scope, path, issues)

    def _scope(self, frame: Frame) -> EvaluationScope:
        """The FHIRPath function scope of ``frame`` (one per frame and walk)."""
        found = self._scopes.get(id(frame))
        if found is not None and found[0] is frame:
            return found[1]
        scope = EvaluationScope(
            resolve=lambda ref: self.resolve_for_fhirpath(ref, frame),
            conforms_to=lambda res, url: self.conforms(res, url, frame),
            member_of=lambda value, vs: self.engines.member_of(value, vs, frame.package),
        )
        self._scopes[id(frame)] = (frame, scope)
        return scope

    # ---- slicing --------------------------------------------------------------------------------

    def _sliced(self, node: ElementNode, items: list[Item], frame: Frame, issues: list[Issue]) -> None:
        slicing = node.slicing
        slices = node.slices
        counts = [0] * len(slices)  # items matched, by the slice's place in ``slices``
        last_index = -1
        is_extension = node.name in ("extension", "modifierExtension")
        for item in items:
            for index, candidate in enumerate(slices):
                if matches(self, self.engines, candidate, item, frame):
                    if slicing is not None and slicing.ordered and index < last_index:
                        issues.append(Issue("error", "structure",
                                            f"{node.path} is ordered: slice {candidate.slice_name} is out of order",
                                            expression=item[3], source=candidate.source, rule="slice-order"))
                    last_index = max(last_index, index)
                    counts[index] += 1
                    self._item(candidate, item, frame, issues)
                    break
            else:  # in no slice
                if slicing is not None and slicing.rules == "closed" and not is_extension:
                    issues.append(Issue("error", "structure",
                                        f"{node.path} is closed: this item matches none of its slices "
                                        f"({', '.join(s.slice_name or '?' for s in slices)})",
                                        expression=item[3], source=node.source, rule="slice-closed"))
                if is_extension:
                    self._unsliced_extension(node, item, frame, issues)
                else:
                    self._item(node, item, frame, issues)
        for candidate, count in zip(slices, counts, strict=True):
            if count < candidate.min or (candidate.max is not None and count > candidate.max):
                bound = f"{candidate.min}..{'*' if candidate.max is None else candidate.max}"
                where = items[0][3].rsplit("[", 1)[0] if items and items[0][3].endswith("]") else (
                    items[0][3] if items else node.path)
                issues.append(Issue("error", "required" if count < candidate.min else "structure",
                                    f"Slice {node.path}:{candidate.slice_name} needs {bound} but has {count}",
                                    expression=where, source=candidate.source, rule="slice-cardinality"))

    # ---- extensions, references, nested resources -----------------------------------------------

    def _unsliced_extension(self, node: ElementNode, item: Item, frame: Frame, issues: list[Issue]) -> None:
        value = item[1]
        url = value.get("url") if isinstance(value, dict) else None
        if not isinstance(url, str):
            self._item(node, item, frame, issues)
            return
        structure = self.library.get(url, node.structure.package)
        if structure is not None and structure.root is not None and structure.type == "Extension":
            self._item(structure.root, ("Extension", value, item[2], item[3], None), frame, issues)
            return
        self._item(node, item, frame, issues)
        issues.append(undefined_extension_issue(url, node.name == "modifierExtension", item[3]))

    def _nested_resource(self, node: ElementNode, code: str, item: Item, frame: Frame,
                         issues: list[Issue]) -> None:
        value = item[1]
        if not isinstance(value, dict):
            issues.append(Issue("error", "structure", f"Expected a resource, found {json_kind(value)}",
                                expression=item[3], source=node.source, rule="type"))
            return
        rtype = value.get("resourceType")
        ref = node.type_ref(code) or (node.types[0] if node.types else TypeRef(code))
        if isinstance(rtype, str) and code not in ("Resource", "DomainResource") and rtype != code:
            issues.append(Issue("error", "structure", f"{node.path} must be a {code}, found {rtype}",
                                expression=item[3], source=node.source, rule="type"))
            return
        if frame.bundle is not None and frame.resource is frame.bundle.bundle and id(value) in \
                frame.bundle.entry_index_of:
            inner = Frame(value, value, frame.bundle, frame.bundle.full_url_of.get(id(value)), frame.package)
        else:
            inner = Frame(value, frame.root if node.name == "contained" else value, frame.bundle, frame.full_url,
                          frame.package)
        issues.extend(self.resource(value, [], inner, item[3], required=ref.profiles))


def _groups(node: ElementNode, child_set: ChildSet, obj: dict[str, Any], path: str, issues: list[Issue],
            is_resource: bool) -> dict[ElementNode, list[Item]]:
    """The values of ``obj`` grouped by the child element that defines each (nodes hash by identity),
    with the JSON shape checked: unknown elements, arrays where single values belong and the reverse,
    empty arrays, a choice element given in more than one type."""
    groups: dict[ElementNode, list[Item]] = {}
    keys = child_set.keys
    # A primitive's companion ("_name": its id and extensions) is rare: looked for only in an object that has one.
    companions = False
    for key in obj:
        if key.startswith("_"):
            companions = True
            break
    # The dictionaries' ``get`` called on them each time, not held as bound methods: compiled, those calls are
    # direct, and a bound method is an object made (and freed) for each object walked.
    for key, value in obj.items():
        if companions and key.startswith("_"):  # without a companion, no key starts with "_"
            name = key[1:]
            if name in obj:
                continue
            value, companion = None, obj[key]
        elif is_resource and key == "resourceType":
            continue
        else:
            name = key
            companion = obj.get(_COMPANION_KEYS.get(key) or _companion_key(key)) if companions else None
        entry = keys.get(name)
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
            items = [(code, v, comps[i] if i < len(comps) else None, f"{path}.{shown}[{i}]", category)
                     for i, v in enumerate(values)]
        else:
            if child.base_max != 1:
                issues.append(Issue("error", "structure", f"'{name}' must be an array",
                                    expression=f"{path}.{shown}", source=child.source, rule="type"))
                items = [(code, value, companion, f"{path}.{shown}[0]", category)]
            else:
                items = [(code, value, companion, f"{path}.{shown}", category)]
        group = groups.get(child)
        if group is None:
            groups[child] = items
        else:
            if child.is_choice:
                issues.append(Issue("error", "structure",
                                    f"Only one type of {child.base_name}[x] is allowed",
                                    expression=f"{path}.{child.base_name}", source=child.source, rule="type"))
            group.extend(items)
    return groups


_COMPANION_KEYS: dict[str, str] = {}


def _companion_key(key: str) -> str:
    """``_key``: the JSON name of a primitive's id / extension companion (kept per name)."""
    found = _COMPANION_KEYS.get(key)
    if found is None:
        found = "_" + key
        if len(_COMPANION_KEYS) < 20_000:
            _COMPANION_KEYS[key] = found
    return found


