"""The rules of a ``Reference`` value (FHIR R4 §2.3.0 References, ElementDefinition.type):
it resolves where it must (contained, inside a document Bundle, ``aggregation`` ``bundled``), it
points to a resource of an allowed type, and that resource meets one of the ``targetProfile``s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nsp_sandbox.conformance.references import reference_type
from nsp_sandbox.outcome import Issue

if TYPE_CHECKING:
    from nsp_sandbox.conformance.frames import Frame, Resolver
    from nsp_sandbox.conformance.structure import ElementNode, StructureLibrary


def reference_issues(walk: Resolver, library: StructureLibrary, node: ElementNode, value: dict[str, Any],
                     path: str, frame: Frame, issues: list[Issue]) -> None:
    """Check the Reference ``value`` of ``node`` at ``path`` (its target found through ``walk``)."""
    reference = value.get("reference")
    if not isinstance(reference, str):
        return
    ref = node.type_ref("Reference")
    target_profiles = ref.target_profiles if ref else ()
    aggregation = ref.aggregation if ref else ()
    target = walk.resolve(reference, frame)
    if target is None:
        _unresolved(library, node, reference, aggregation, target_profiles, path, frame, issues)
        return
    rtype = target.get("resourceType", "?")
    if not target_profiles:
        return
    if not type_allowed(library, rtype, target_profiles, node):
        issues.append(Issue("error", "structure",
                            f"Reference to {rtype} is not allowed here (allowed: {', '.join(target_profiles)})",
                            expression=f"{path}.reference", source=node.source, rule="reference-type"))
        return
    candidates = [p for p in target_profiles if profile_type(library, p, node) == rtype]
    if not candidates or any(p.split("|")[0] == f"http://hl7.org/fhir/StructureDefinition/{rtype}"
                             for p in candidates):
        return
    answers = [walk.conforms(target, p, frame) for p in candidates]
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


def _unresolved(library: StructureLibrary, node: ElementNode, reference: str, aggregation: tuple[str, ...],
                target_profiles: tuple[str, ...], path: str, frame: Frame, issues: list[Issue]) -> None:
    """A reference not found: an error where it must resolve, and the type it names still checked."""
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
    if named and target_profiles and not type_allowed(library, named, target_profiles, node):
        issues.append(Issue("error", "structure", f"Reference to {named} is not allowed here "
                            f"(allowed: {', '.join(target_profiles)})", expression=f"{path}.reference",
                            source=node.source, rule="reference-type"))


def profile_type(library: StructureLibrary, profile: str, node: ElementNode) -> str | None:
    """The resource type a (target) profile is for; a core profile's by its URL when not loaded."""
    structure = library.get(profile, node.structure.package)
    if structure is not None:
        return structure.type
    return profile.split("|")[0].rsplit("/", 1)[-1] if profile.startswith(
        "http://hl7.org/fhir/StructureDefinition/") else None


def type_allowed(library: StructureLibrary, rtype: Any, target_profiles: tuple[str, ...],
                 node: ElementNode) -> bool:
    """May a reference point to a ``rtype``? (an unknown target profile allows any type)."""
    for profile in target_profiles:
        kind = profile_type(library, profile, node)
        if kind is None or kind in (rtype, "Resource", "DomainResource"):
            return True
    return False
