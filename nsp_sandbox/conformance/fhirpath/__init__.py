"""FHIRPath for constraint expressions: fhirpathpy's parse tree compiled into closures.

:func:`compile_expression` gives a :class:`Program` (or raises :class:`Unsupported`, and the caller
evaluates with fhirpathpy); the FHIR functions (``resolve()``, ``conformsTo()``, ``memberOf()``,
``htmlChecks()``) read the :class:`EvaluationScope` the validator sets around an evaluation.

Modules: :mod:`.compiler` (expressions, navigation, literals), :mod:`.operators`,
:mod:`.functions` with :mod:`.strings` and :mod:`.fhir_functions`, :mod:`.model` (the R4 type
model), :mod:`.equality`, :mod:`.narrative` and :mod:`.values` (items, errors, shared rules).
"""

from nsp_sandbox.conformance.fhirpath.compiler import Program, compile_expression
from nsp_sandbox.conformance.fhirpath.fhir_functions import (
    SCOPE,
    USER_FUNCTIONS,
    EvaluationScope,
    NotChecked,
    enter_scope,
    evaluation_scope,
    leave_scope,
)
from nsp_sandbox.conformance.fhirpath.model import CHOICE_NAMES
from nsp_sandbox.conformance.fhirpath.narrative import narrative_problems
from nsp_sandbox.conformance.fhirpath.values import FhirPathError, Item, Unsupported, item_of

__all__ = [
    "CHOICE_NAMES", "SCOPE", "USER_FUNCTIONS", "EvaluationScope", "FhirPathError", "Item", "NotChecked", "Program",
    "Unsupported", "compile_expression", "enter_scope", "evaluation_scope", "item_of", "leave_scope",
    "narrative_problems",
]
