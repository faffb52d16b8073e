"""The engines one validation walk uses, handed to it by the :class:`~.validator.Validator` that
owns them: the compiled profiles, bindings, constraints, slice expectations and value set membership.

They are built once per validator and shared by all threads; the walk holds no reference to the
validator itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nsp_sandbox.conformance.bindings import BindingChecker
    from nsp_sandbox.conformance.invariants import InvariantEngine
    from nsp_sandbox.conformance.packages import FhirPackage
    from nsp_sandbox.conformance.slicing import SliceExpectations
    from nsp_sandbox.conformance.structure import StructureLibrary

MemberOf = Callable[[Any, str, "FhirPackage | None"], "bool | None"]
"""Is a code / Coding / CodeableConcept in a value set (in a package context)? None: undecidable."""


@dataclass(frozen=True, slots=True)
class Engines:
    """What a walk checks with: profiles (``structures``), ``bindings``, ``invariants`` (FHIRPath
    constraints), ``slice_expectations`` (what a slice's discriminators expect) and ``member_of``."""

    structures: StructureLibrary
    bindings: BindingChecker
    invariants: InvariantEngine
    slice_expectations: SliceExpectations
    member_of: MemberOf
