"""Terminology bindings and code-system membership of coded values.

Binding strength decides severity: ``required`` → error when the code is not in the expanded value
set, ``extensible`` → warning, ``preferred`` → information, ``example`` → not checked. A value set
that is not loaded (or a code that cannot be decided, e.g. SNOMED CT which no package enumerates)
is reported as "not checked" — a warning for required bindings, information otherwise.

Independently of any binding, a ``Coding`` whose code system is loaded with complete content must
use a code that system defines (the national NPU repertoire is such a system).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from nsp_sandbox.conformance.structure import Binding
from nsp_sandbox.outcome import Issue, Severity

if TYPE_CHECKING:
    from nsp_sandbox.conformance.packages import FhirPackage
    from nsp_sandbox.conformance.terminology import Terminology

CODED_TYPES: Final = frozenset({"code", "Coding", "CodeableConcept", "Quantity", "string", "uri"})
_FAIL_SEVERITY: Final[dict[str, Severity]] = {"required": "error", "extensible": "warning", "preferred": "information"}


class BindingChecker:
    def __init__(self, terminology: Terminology) -> None:
        self.terminology = terminology
        self._complete: dict[tuple[str, str | None], str] = {}

    def _complete_version(self, system: str, context: FhirPackage | None) -> str:
        """``system``, pinned to a loaded version with complete content when one exists.

        Several packages may carry the same code system: a fragment (dk-core's NPU excerpt) defers
        to a complete definition (MedCom terminology's national NPU repertoire). The version in
        ``context``'s dependencies wins, else the newest complete one.
        """
        key = (system, context.id if context else None)
        found = self._complete.get(key)
        if found is not None:
            return found
        registry = self.terminology.registry
        complete: list[tuple[Any, str]] = []
        for package, entry in registry.iter_resources("CodeSystem"):
            if entry.url != system or not entry.version:
                continue
            if package.load(entry.filename).get("content") == "complete":
                complete.append((package, entry.version))
        choice = system
        if complete:
            closure = registry.closure(context) if context is not None else []
            in_context = [version for package, version in complete if any(package is p for p in closure)]
            choice = f"{system}|{(in_context or [complete[-1][1]])[0]}"
        self._complete[key] = choice
        return choice

    def check(self, binding: Binding, type_code: str, value: Any, path: str, source: str,
              context: FhirPackage | None, system_hint: object = None) -> list[Issue]:
        """Check ``value`` (of FHIR type ``type_code``) against ``binding``."""
        strength = binding.strength
        if strength not in _FAIL_SEVERITY or not binding.value_set or type_code not in CODED_TYPES:
            return []
        if type_code == "CodeableConcept":
            return self._codeable_concept(binding, value, path, source, context)
        if type_code in ("Coding", "Quantity"):
            if not isinstance(value, dict):
                return []
            code, system = value.get("code"), value.get("system")
            if not isinstance(code, str) or not (system is None or isinstance(system, str)):
                return []
            return self._one(binding, system, code, f"{path}.code", source, context)
        if isinstance(value, str):
            hint = system_hint if isinstance(system_hint, str) else None
            return self._one(binding, hint, value, path, source, context)
        return []

    def _one(self, binding: Binding, system: str | None, code: str, path: str, source: str,
             context: FhirPackage | None) -> list[Issue]:
        assert binding.value_set is not None
        if self.terminology.in_value_set(binding.value_set, system, code, context):
            return []
        result = self.terminology.check_code(binding.value_set, system, code, context)
        if result.status == "valid":
            return []
        if result.status == "not-checked":
            return [_not_checked(binding, result.message, path, source)]
        return [Issue(_FAIL_SEVERITY[binding.strength], "code-invalid",
                      f"{result.message} ({binding.strength} binding)",
                      expression=path, source=source, rule="binding")]

    def _codeable_concept(self, binding: Binding, value: Any, path: str, source: str,
                          context: FhirPackage | None) -> list[Issue]:
        if not isinstance(value, dict):
            return []
        assert binding.value_set is not None
        listed: Any = value.get("coding")
        codings = [c for c in (listed if isinstance(listed, list) else ()) if isinstance(c, dict)
                   and isinstance(c.get("code"), str) and isinstance(c.get("system"), str | None)]
        if not codings:
            if binding.strength == "required":
                return [Issue("error", "code-invalid",
                              f"No code given; a code from {binding.value_set} is required (required binding)",
                              expression=path, source=source, rule="binding")]
            return []
        unknown: list[str] = []
        invalid: list[str] = []
        for coding in codings:
            if self.terminology.in_value_set(binding.value_set, coding.get("system"), coding["code"], context):
                return []
            result = self.terminology.check_code(binding.value_set, coding.get("system"), coding["code"], context)
            if result.status == "valid":
                return []
            (unknown if result.status == "not-checked" else invalid).append(result.message)
        if unknown:
            return [_not_checked(binding, "; ".join(unknown), path, source)]
        where = f"{path}.coding[0].code" if len(codings) == 1 and len(listed) == 1 else path
        return [Issue(_FAIL_SEVERITY[binding.strength], "code-invalid",
                      f"None of the codings is in {binding.value_set} ({binding.strength} binding): "
                      + "; ".join(invalid), expression=where, source=source, rule="binding")]

    def check_code_system(self, coding: dict[str, Any], path: str, source: str,
                          context: FhirPackage | None) -> list[Issue]:
        """A Coding of a loaded, complete code system must use one of its codes."""
        system, code = coding.get("system"), coding.get("code")
        if not isinstance(system, str) or not isinstance(code, str):
            return []
        result = self.terminology.check_in_code_system(self._complete_version(system, context), code, context)
        if result.status != "invalid":
            return []
        return [Issue("error", "code-invalid", f"Unknown code: {result.message}{self._elsewhere(system, code)}",
                      expression=f"{path}.code", source=source, rule="code-system")]

    def _elsewhere(self, system: str, code: str) -> str:
        """Where a code unknown to the IG's own version of ``system`` is defined: another loaded release
        (e.g. a code only terminology 2.0.2, of HCO 1.2, has, in a message judged as HCO 1.1)."""
        found = []
        for package, entry in self.terminology.registry.iter_resources("CodeSystem"):
            if entry.url == system and entry.version and self.terminology.check_in_code_system(
                    f"{system}|{entry.version}", code, package).valid:
                found.append(f"{package.id} (code system version {entry.version})")
        if not found:
            return ""
        return f"; it is defined only in {', '.join(found)}, a terminology release this IG version does not use"

def _not_checked(binding: Binding, why: str, path: str, source: str) -> Issue:
    severity: Severity = "warning" if binding.strength == "required" else "information"
    return Issue(severity, "not-supported", f"Binding to {binding.value_set} not checked: {why}",
                 expression=path, source=source, rule="binding-not-checked")
