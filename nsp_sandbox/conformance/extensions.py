"""The rules of extensions the walk applies besides their definitions: ``ext-1`` (a value or nested
extensions, not both; checked structurally, not as FHIRPath) and what an extension no loaded
package defines is (a warning for the packages MedCom depends on that are not available here, an
error otherwise, and always for a modifier extension, which must be understood).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from nsp_sandbox.outcome import Issue

if TYPE_CHECKING:
    from nsp_sandbox.conformance.structure import ElementNode

# Extension URL bases of packages MedCom depends on that are not available here: their extensions
# are reported as "not checked" (warning), not as unknown.
UNAVAILABLE_EXTENSION_BASES: Final = (
    ("http://hl7.org/fhir/StructureDefinition/", "hl7.fhir.uv.extensions.r4"),
    ("http://hl7.org/fhir/5.0/StructureDefinition/", "hl7.fhir.uv.xver-r5.r4"),
    ("http://hl7.org/fhir/4.3/StructureDefinition/", "hl7.fhir.uv.xver-r4b.r4"),
    ("https://profiles.ihe.net/ITI/MHD/StructureDefinition/", "ihe.iti.mhd"),
    ("http://terminology.hl7.org/StructureDefinition/", "hl7.terminology.r4"),
)


def undefined_extension_issue(url: str, modifier: bool, path: str) -> Issue:
    """The finding for an extension ``url`` no loaded package defines."""
    for base, package in UNAVAILABLE_EXTENSION_BASES:
        if url.startswith(base) and not modifier:
            return Issue("warning", "not-supported",
                         f"Extension {url} not checked: its definition ({package}) is not loaded",
                         expression=path, source=url, rule="extension-not-checked")
    return Issue("error", "structure",
                 f"Unknown extension {url}: no loaded package defines it"
                 + (" (a modifier extension must be understood)" if modifier else ""),
                 expression=path, source=url, rule="extension-unknown")


def ext1_issues(node: ElementNode, value: dict[str, Any], path: str, issues: list[Issue]) -> None:
    """``ext-1``: an extension has either a ``value[x]`` or nested extensions, not both."""
    has_value = any(k.startswith("value") for k in value)
    nested = bool(value.get("extension"))
    if has_value == nested:
        issues.append(Issue("error", "invariant",
                            "Constraint failed: ext-1: Must have either extensions or value[x], not both",
                            expression=path, source=f"{node.structure.url}#ext-1", rule="invariant:ext-1"))
