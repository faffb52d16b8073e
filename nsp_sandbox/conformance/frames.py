"""Where a validation walk is, and what it holds: the :class:`Frame` of the resource being checked,
each instance value as an :class:`Item`, and the :class:`Resolver` face of the walk that the rule
modules call back (resolve a reference, does a resource meet a profile).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from nsp_sandbox.conformance.packages import FhirPackage
    from nsp_sandbox.conformance.references import BundleIndex


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


class Resolver(Protocol):
    """What rules outside the walk ask of it (one validation's answers, kept for the run)."""

    def resolve(self, reference: str, frame: Frame) -> dict[str, Any] | None:
        """The resource ``reference`` points to from ``frame`` (contained or in the Bundle), if found."""
        ...

    def conforms(self, resource: dict[str, Any], url: str, frame: Frame) -> bool | None:
        """Does ``resource`` meet profile ``url``? None when the profile is not loaded."""
        ...
