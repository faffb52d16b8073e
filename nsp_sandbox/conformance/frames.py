"""Where a validation walk is, and what it holds: the :class:`Frame` of the resource being checked,
each instance value as an :class:`Item`, and the :class:`Resolver` face of the walk that the rule
modules call back (resolve a reference, does a resource meet a profile).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from nsp_sandbox.conformance.packages import FhirPackage
    from nsp_sandbox.conformance.references import BundleIndex


class Frame:
    """Where the walk is: the resource being checked, its container and Bundle, the package context.

    Never changed once made. A plain class with its own ``__init__`` (compiled with the walk): the walk
    makes one per resource, and a dataclass's generated ``__init__`` would run as Python."""

    def __init__(self, resource: dict[str, Any], root: dict[str, Any], bundle: BundleIndex | None,
                 full_url: str | None, package: FhirPackage | None) -> None:
        self.resource = resource
        self.root = root
        self.bundle = bundle
        self.full_url = full_url
        self.package = package

    def __repr__(self) -> str:
        return (f"Frame(resource={self.resource.get('resourceType')!r}, full_url={self.full_url!r}, "
                f"package={self.package.id if self.package is not None else None!r})")


Item = tuple[str | None, Any, Any, str, str | None]
"""One value of an element in the instance: ``(type code, value, companion, FHIRPath, category)``.

The type code is None when the element alone does not tell it; the companion is a primitive's
``_name`` object (id / extensions); the category (primitive | resource | complex) is there when known
from the definitions. A plain tuple — a walk makes one per instance value, and a tuple is built in a
fraction of the time a class instance takes: ``item[1]`` is the value, ``item[3]`` the path.
"""


class Resolver(Protocol):
    """What rules outside the walk ask of it (one validation's answers, kept for the run)."""

    def resolve(self, reference: str, frame: Frame) -> dict[str, Any] | None:
        """The resource ``reference`` points to from ``frame`` (contained or in the Bundle), if found."""
        ...

    def conforms(self, resource: dict[str, Any], url: str, frame: Frame) -> bool | None:
        """Does ``resource`` meet profile ``url``? None when the profile is not loaded."""
        ...
