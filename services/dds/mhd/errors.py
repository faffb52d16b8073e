"""XDS RegistryError ↔ FHIR OperationOutcome, and the HTTP status each failure answers with.

A RegistryError (ebRS ``RegistryResponse/RegistryErrorList/RegistryError``) becomes one
``OperationOutcome.issue``:

=====================  ==================================================================
RegistryError          OperationOutcome.issue
=====================  ==================================================================
``severity``           ``severity`` (``…:Error`` → ``error``, ``…:Warning`` → ``warning``)
``errorCode``          ``details.coding`` with system ``urn:ihe:iti:xds:errorCode``
``codeContext``        ``diagnostics`` (and ``details.text``)
``location``           ``expression`` (FHIRPath into the request, with indices)
(none)                 ``details.coding`` ``urn:nsp-sandbox:rule`` (the rule that fired) and
                       the ``operationoutcome-issue-source`` extension (where the rule is written)
=====================  ==================================================================

HTTP status of a refused request:

* **400** the request is not an ITI-65 transaction at all (not JSON, not a transaction Bundle,
  entries without ``request``/``fullUrl``, undecodable Base64, unresolvable references);
* **403** every error is a ``forbidden`` one: the request changes an entry another source
  registered (``dds-source-owns-entry``);
* **409** the request is well-formed but conflicts with what is registered
  (``XDSDuplicateUniqueIdInRegistry``, ``XDSRegistryDeprecatedDocumentError``);
* **422** any other broken rule: profile validation, Danish metadata rules, size/hash mismatch,
  patient mismatch, unknown association target.
"""

from __future__ import annotations

from nsp_sandbox.outcome import FhirError, Issue

CONFLICT_CODES = frozenset({"XDSDuplicateUniqueIdInRegistry", "XDSRegistryDeprecatedDocumentError"})


def status_for(issues: list[Issue]) -> int:
    """403 when every error forbids the caller, 409 when every error is a conflict with the
    registry's state, else 422."""
    errors = [i for i in issues if i.is_error]
    if errors and all(i.code == "forbidden" for i in errors):
        return 403
    if errors and all(i.ihe_code in CONFLICT_CODES for i in errors):
        return 409
    return 422


def refuse(issues: list[Issue]) -> FhirError:
    """The error answering a refused provide or update: errors first, then warnings."""
    ordered = [i for i in issues if i.is_error] + [i for i in issues if not i.is_error]
    return FhirError(status_for(issues), ordered)


def malformed(diagnostics: str, expression: str | None, rule: str, code: str = "structure") -> FhirError:
    """400: the request is not a usable ITI-65 transaction."""
    return FhirError(400, Issue("error", code, diagnostics, expression=expression,
                                source="IHE MHD ITI-65 (Provide Document Bundle)", rule=rule))
