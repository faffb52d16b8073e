"""ITI-41 Provide and Register Document Set-b on DDS's XDS.b face (ITI TF-2 §3.41; dds-nsp.md §1.1, §1.4).

``POST /drs/proxy`` (the DRS proxy a Danish document source submits through) and the DROS endpoint
(``services.dds.xds.dros``) take an ``xdsb:ProvideAndRegisterDocumentSetRequest``, plain SOAP with
inline base64 documents or MTOM/XOP, DGWS-secured (a system card is enough: DROS's
``require.person=false``).

One store, two doors: the ebRIM metadata is converted to the ITI-65 transaction the MHD face would
have received (``ebrim_entry``) and that runs the ITI-65 pipeline unchanged
(``ProvideDocumentBundle.check`` then ``register``: structure and profile validation, the Danish metadata rules at
their strictness, the mapping requirements — declared ``size``/``hash`` against the document —,
``map_entry``, the lifecycle rules and ``Registry.register``, all or nothing). The source that
registers is the card's persona, as the MHD face's token persona (it alone may later deprecate).

The answer is an ``rs:RegistryResponse`` (ITI TF-3 §4.2.4):

* ``Success`` — registered, no finding;
* ``PartialSuccess`` — registered, with the findings of rules at strictness ``warning`` as
  ``…:Warning`` RegistryErrors (the issue's wording: PartialSuccess with warnings);
* ``Failure`` — nothing registered; every finding as a RegistryError: its IHE code
  (``XDSRegistryMetadataError`` where no more precise one applies — allowed for ITI-41/42/61 —,
  ``XDSPatientIdDoesNotMatch``, ``XDSDuplicateUniqueIdInRegistry``,
  ``XDSRegistryDeprecatedDocumentError``, ``XDSMissingDocument``, ``XDSMissingDocumentMetadata``,
  ``XDSRepositoryMetadataError`` for a declared size/hash that is not the document's…), its
  ``location`` the ebRIM object (its id) and the slot / classification / external identifier the
  finding concerns, its ``codeContext`` the finding and the rule that fired.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter

from nsp_sandbox.fhir_http import json_bytes
from nsp_sandbox.outcome import IHE_XDS_ERROR_SYSTEM, RULE_SYSTEM, FhirError, Issue
from nsp_sandbox.xds import namespaces as ns
from nsp_sandbox.xds import vocabulary as v
from nsp_sandbox.xds.ebrim import parse_provide_and_register
from nsp_sandbox.xds.errors import XdsWireError
from nsp_sandbox.xds.registry_response import RegistryError, RegistryResponse, write_registry_response
from services.dds import request_log, validation_ahead
from services.dds.access import readers
from services.dds.mhd.deps import Deps
from services.dds.mhd.iti65 import Checked, ProvideDocumentBundle
from services.dds.validation_ahead import ProvideFindings
from services.dds.xds.ebrim_entry import Conversion, to_transaction
from services.dds.xds.face import XdsAnswer, XdsCall, soap_router

PROVIDE_AND_REGISTER = f"{{{ns.XDSB}}}ProvideAndRegisterDocumentSetRequest"
#: The IHE code of a finding that names none (ITI TF-3 Table 4.2.4.1-2: allowed for ITI-41/42/61).
DEFAULT_CODE = v.XDS_REGISTRY_METADATA_ERROR


def registry_error(issue: Issue, conversion: Conversion | None) -> RegistryError:
    """One finding as an ``rs:RegistryError`` located at its ebRIM object."""
    location = conversion.location(issue.expression) if conversion else (issue.expression or "")
    context = issue.diagnostics + (f" [{issue.rule}]" if issue.rule else "")
    severity = v.SEVERITY_ERROR if issue.is_error else v.SEVERITY_WARNING
    return RegistryError(issue.ihe_code or DEFAULT_CODE, context, location, severity)


def response_for(issues: list[Issue], conversion: Conversion | None) -> RegistryResponse:
    """Failure with every finding when one is an error; else PartialSuccess with the warnings, or Success."""
    shown = [i for i in issues if i.severity in ("fatal", "error", "warning")]
    ordered = [i for i in shown if i.is_error] + [i for i in shown if not i.is_error]
    errors = [registry_error(i, conversion) for i in ordered]
    if any(i.is_error for i in shown):
        return RegistryResponse(v.RESPONSE_FAILURE, errors)
    return RegistryResponse(v.RESPONSE_PARTIAL_SUCCESS if errors else v.RESPONSE_SUCCESS, errors)


def _outcome_issues(transaction_response: dict[str, Any]) -> list[Issue]:
    """The warnings the ITI-65 pipeline put in the transaction-response's ``response.outcome``."""
    found: list[Issue] = []
    for entry in transaction_response.get("entry") or []:
        outcome = (entry.get("response") or {}).get("outcome") or {}
        for item in outcome.get("issue") or []:
            codings = (item.get("details") or {}).get("coding") or []
            by_system = {c.get("system"): c.get("code") for c in codings}
            expressions = item.get("expression") or [None]
            found.append(Issue(item.get("severity", "warning"), item.get("code", "informational"),
                               item.get("diagnostics", ""), expression=expressions[0],
                               rule=by_system.get(RULE_SYSTEM), ihe_code=by_system.get(IHE_XDS_ERROR_SYSTEM)))
    return found


def register(call: XdsCall, convert: Callable[[], Conversion]) -> XdsAnswer:
    """Convert (``convert``), run the ITI-65 pipeline, answer the RegistryResponse (blocking: run it
    in a thread). Shared by ITI-41 and ITI-61: :func:`converted_and_checked` and :func:`finish`, one after the
    other."""
    return finish(converted_and_checked(call, convert))


@dataclass(frozen=True)
class CheckedRequest:
    """A request converted and checked by the ITI-65 pipeline (``ProvideDocumentBundle.check``), not registered."""

    call: XdsCall
    conversion: Conversion
    provider: ProvideDocumentBundle
    checked: Checked


def converted(call: XdsCall, convert: Callable[[], Conversion]) -> XdsAnswer | Conversion:
    """Convert (``convert``): the ITI-65 transaction, or the answer when the conversion refuses it."""
    if call.principal is not None:
        readers.require_provider(call.principal)  # the MHD face's rule: systems and professionals provide
    try:
        conversion = convert()
    except XdsWireError as error:
        return answer(RegistryResponse(v.RESPONSE_FAILURE, [RegistryError.from_wire_error(error)]))
    if any(i.is_error for i in conversion.issues):
        return answer(response_for(conversion.issues, conversion))
    return conversion


def converted_and_checked(call: XdsCall, convert: Callable[[], Conversion]) -> XdsAnswer | CheckedRequest:
    """:func:`converted`, then :func:`check` now: the answer when either refuses the request, else what
    :func:`finish` registers."""
    step = converted(call, convert)
    return step if isinstance(step, XdsAnswer) else check(call, step, call.deps.context.clock.now())


def check(call: XdsCall, conversion: Conversion, now: datetime, *,
          ahead: ProvideFindings | None = None) -> XdsAnswer | CheckedRequest:
    """Check the converted request provided at ``now`` (``ahead``: the validation process's findings in its
    Bundle): the answer when that refuses it, else what :func:`finish` registers."""
    deps = call.deps
    provider = ProvideDocumentBundle(deps.registry, deps.validation)
    urls = deps.urls(call.request)
    submitter = call.principal.persona if call.principal else None
    request_log.note(call.request, patients=request_log.cprs_in(conversion.bundle))
    try:
        checked = provider.check(conversion.bundle, now, urls.document, submitter, ahead=ahead)
    except FhirError as error:
        return _refused(conversion, error)
    return CheckedRequest(call, conversion, provider, checked)


def finish(step: XdsAnswer | CheckedRequest) -> XdsAnswer:
    """Register what :func:`check` let through, and answer the RegistryResponse (or pass its answer on)."""
    if isinstance(step, XdsAnswer):
        return step
    try:
        result = step.provider.register(step.checked)
    except FhirError as error:
        return _refused(step.conversion, error)
    request_log.note(step.call.request, entries=request_log.registered_ids(result))
    return answer(response_for([*step.conversion.issues, *_outcome_issues(result)], step.conversion))


def _refused(conversion: Conversion, error: FhirError) -> XdsAnswer:
    issues = [*conversion.issues, *error.issues]
    if not any(i.is_error for i in issues):  # a refusal always names an error; be safe all the same
        issues.append(Issue("error", "processing", str(error) or f"HTTP {error.status}", rule="dds-refused"))
    return answer(response_for(issues, conversion))


def answer(response: RegistryResponse) -> XdsAnswer:
    """An ``rs:RegistryResponse`` body."""
    return XdsAnswer(write_registry_response(response))


async def provide_and_register(call: XdsCall) -> XdsAnswer:
    """ITI-41: the documents from their ``xdsb:Document`` elements (inline base64 or xop:Include)."""
    def convert() -> Conversion:
        request = parse_provide_and_register(call.body, call.message.attachments)
        return to_transaction(request.submission, {d.id: d.content for d in request.documents})

    context = call.deps.context
    lane = context.cpu_lane
    if context.validation_process is None:
        # Checked ahead of the jobs waiting in the lane, registered in turn with them, as an ITI-65 provide.
        return await lane.run_staged(converted_and_checked, finish, call, convert)
    # Converted in the lane; the converted Bundle validated by the validation process while the lane goes on with
    # the other requests (services.dds.validation_ahead, as an ITI-65 provide's); then checked and registered.
    step = await lane.run_ahead(_converted_and_written, call, convert)
    if isinstance(step, XdsAnswer):
        return step
    conversion, raw = step
    now = context.clock.now()
    findings = await validation_ahead.ahead(context.validation_process, context.settings, now, raw)
    return await lane.run_staged(check, finish, call, conversion, now, ahead=findings)


def _converted_and_written(call: XdsCall, convert: Callable[[], Conversion]) -> XdsAnswer | tuple[Conversion, bytes]:
    """:func:`converted`, and the converted Bundle as JSON for the validation process."""
    step = converted(call, convert)
    return step if isinstance(step, XdsAnswer) else (step, json_bytes(step.bundle))


def router(deps: Deps) -> APIRouter:
    """``POST /drs/proxy``: ITI-41 through the DRS proxy."""
    return soap_router(deps, "/drs/proxy", {PROVIDE_AND_REGISTER: provide_and_register},
                       summary="ITI-41 Provide and Register Document Set-b (DRS proxy)")
