"""ITI-65 Provide Document Bundle: a transaction Bundle in, a transaction-response Bundle out.

The Bundle holds one SubmissionSet ``List``, one or more new ``DocumentReference`` entries (POST),
their documents as ``Binary`` entries (referenced from ``attachment.url`` by ``fullUrl``) or inline
``attachment.data``, and optionally earlier DocumentReferences set to ``superseded`` (PUT, the MHD
UpdateDocumentRefs form of a replacement).

An **on-demand** entry (XDS objectType On-Demand) has no document yet: its ``attachment.url`` is
the absolute http(s) URL where its source generates the document when DDS retrieves it, with
``contentType`` and without ``data``, ``hash`` or ``size`` (XDS prohibits hash and size for
On-Demand; IHE MHD 4.2 carries such entries the same way). Everything else about it is checked
as for a stable entry.

Processing is one straight pipeline, all or nothing:

1. **parse** the transaction (``transaction``; 400 when it is not an ITI-65 request at all);
2. **validate** each DocumentReference on the FHIR face: its structure, its document (found, size
   and hash, the document's own profile), its profile (``services.dds.validation``);
3. the **Danish metadata rules** on it, one call, every rule in order (``metadata_rules``);
4. **convert**: the mapping requirements (``entry_requirements``), then the pure mapper to the
   domain DocumentEntry (``document_reference.map_entry``); the SubmissionSet likewise; patients
   and ids consistent within the message;
5. **register** the domain ``Submission`` (``Registry.register``: duplicates and the lifecycle
   rules, in one database transaction);
6. **respond** with the transaction-response (``provide_response``).

Warnings come back in the transaction-response, in ``response.outcome`` of the entry they concern.

Steps 1–4 are :meth:`ProvideDocumentBundle.check`, 5 and 6 :meth:`ProvideDocumentBundle.register`. Served, the
two are one job of the CPU lane in two steps (``CpuLane.run_staged``): the checks of the provides that wait
together run one after another, then their registrations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from nsp_sandbox import openapi_description as oa
from nsp_sandbox.fhir_http import FhirJSONResponse, read_fhir_json
from nsp_sandbox.outcome import FhirError, Issue
from services.dds import request_log, validation_ahead
from services.dds.domain import (
    AvailabilityStatus,
    DocumentEntry,
    PatientId,
    RegistryError,
    StatusUpdate,
    Submission,
)
from services.dds.mhd import document_reference, submission_set
from services.dds.mhd.deps import Deps
from services.dds.mhd.entry_requirements import already_reported, check_requirements
from services.dds.mhd.errors import refuse
from services.dds.mhd.provide_response import transaction_response
from services.dds.mhd.references import patient_of
from services.dds.mhd.status_only import only_status_changes
from services.dds.mhd.transaction import (
    SOURCE,
    ParsedTransaction,
    document_of,
    is_source_url,
    iti65_issue,
    parse_transaction,
    source_url_of,
)
from services.dds.registry import Registry
from services.dds.validation import ContentValidation
from services.dds.validation_ahead import ProvideFindings

__all__ = ["Checked", "ProvideDocumentBundle", "is_source_url", "router", "source_url_of"]


def _unreadable(origin: str, what: str, exc: Exception) -> Issue:
    return Issue("error", "structure", f"{origin} cannot be read as a {what} ({type(exc).__name__}: {exc}); "
                 "check it against the FHIR R4 structure", expression=origin, source=SOURCE,
                 rule="iti65-readable", ihe_code="XDSRegistryMetadataError")


def _unreadable_bundle(exc: Exception) -> FhirError:
    # Only reachable with the structure layer weakened (validation_structure off / log / warning):
    # whatever the mapping cannot read is refused, never a server error.
    return refuse([_unreadable("Bundle", "ITI-65 transaction", exc)])


@dataclass
class _Converted:
    """The domain entries converted so far, and which Binary entry holds whose document."""

    entries: list[DocumentEntry] = field(default_factory=list)
    binary_owner: dict[int, str] = field(default_factory=dict)  # Binary entry index -> entry id
    used_binaries: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Checked:
    """A transaction checked and converted (:meth:`ProvideDocumentBundle.check`), not yet registered: the
    submission, and what its answer is made of. ``issues`` may hold errors: registering then refuses it."""

    bundle: dict[str, Any]
    parsed: ParsedTransaction
    submission: Submission
    binary_owner: dict[int, str]  # Binary entry index -> entry id
    issues: list[Issue]
    now: datetime
    document_url: Callable[[str], str]


class ProvideDocumentBundle:
    """The ITI-65 Document Recipient of DDS."""

    def __init__(self, registry: Registry, validation: ContentValidation) -> None:
        self.registry = registry
        self.validation = validation

    def check(self, bundle: dict[str, Any], now: datetime, document_url: Callable[[str], str],
              submitter: str | None = None, *, ahead: ProvideFindings | None = None) -> Checked:
        """Steps 1–4 (parse, validate, the Danish rules, convert): what :meth:`register` then registers and answers,
        or raise ``FhirError``. Reads the registry (the entries a transaction sets to ``superseded``), changes
        nothing. ``submitter`` is the persona of the providing token (None with access control off): the source that
        may later change the status of the entries registered here. ``ahead``: the engine's findings in this very
        Bundle, made by the validation process (:mod:`services.dds.validation_ahead`)."""
        try:
            found = validation_ahead.take(ahead, self.validation.context.validator)
            return self._check(bundle, now, document_url, submitter, found)
        except (TypeError, AttributeError, KeyError, ValueError, IndexError) as exc:
            raise _unreadable_bundle(exc) from None

    def register(self, checked: Checked) -> dict[str, Any]:
        """Steps 5 and 6: register what :meth:`check` found (refused whole, with every issue, when it found an
        error), and answer the transaction-response."""
        try:
            return self._register_and_answer(checked)
        except (TypeError, AttributeError, KeyError, ValueError, IndexError) as exc:
            raise _unreadable_bundle(exc) from None

    def _check(self, bundle: dict[str, Any], now: datetime, document_url: Callable[[str], str],
               submitter: str | None, ahead: ProvideFindings) -> Checked:
        parsed = parse_transaction(bundle)
        issues: list[Issue] = []
        converted = _Converted()
        for index, resource in parsed.new_references:
            issues.extend(self._entry(parsed, index, resource, now, converted, ahead))
        issues.extend(_unreferenced_binaries(parsed, converted.used_binaries))
        set_index, list_resource = parsed.submission_set  # type: ignore[misc]
        set_origin = f"Bundle.entry[{set_index}].resource"
        issues.extend(self._validate_submission_set(list_resource, set_origin, issues, set_index, ahead))
        issues.extend(_check_members(parsed, list_resource, set_origin))
        patient = _submission_patient(list_resource, set_origin, converted.entries, issues)
        issues.extend(_check_unique_in_message(converted.entries))
        status_updates = self._status_updates(parsed, document_url, issues)
        if patient is None:
            raise refuse(issues)
        sset, problems = submission_set.to_submission_set(
            list_resource, set_origin, patient, [e.id for e in converted.entries], now)
        issues.extend(problems)
        return Checked(bundle, parsed, Submission(sset, converted.entries, status_updates, submitter),
                       converted.binary_owner, issues, now, document_url)

    def _register_and_answer(self, checked: Checked) -> dict[str, Any]:
        submission = checked.submission
        self._register(submission, checked.now, checked.issues)
        return transaction_response(checked.bundle, checked.parsed, submission.submission_set.id, submission.entries,
                                    checked.binary_owner, submission.status_updates, checked.issues, checked.now,
                                    checked.document_url)

    def _entry(self, parsed: ParsedTransaction, index: int, resource: dict[str, Any], now: datetime,
               converted: _Converted, ahead: ProvideFindings) -> list[Issue]:
        """Validate, apply the Danish rules to, and convert one new DocumentReference (Bundle entry ``index``);
        ``ahead``: what the validation process found of it (:func:`services.dds.validation_ahead.provide_findings`
        makes those findings on the same conditions, in the same order)."""
        origin = f"Bundle.entry[{index}].resource"
        structure = self.validation.structure_issues(resource, ahead=ahead.structures.get(index))
        issues = self.validation.check_structure(resource, origin, found=structure)
        if any(i.is_error for i in issues):
            return issues  # not a readable DocumentReference: the other layers would only echo this
        found = document_of(parsed, resource, origin, converted.used_binaries)
        if isinstance(found, Issue):
            return [*issues, found]
        document, mime_type, where, binary_index = found
        if document is not None:
            checked = ahead.documents.get(index)
            issues += checked if checked is not None else self.validation.check_document(
                document.content, mime_type, where, now=now, entry=resource, entry_origin=origin)
        issues += self.validation.check_resource(resource, origin, structure=structure)
        rules = ahead.rules.get(index)  # the Danish metadata rules
        issues += rules if rules is not None else self.validation.check_document_reference(resource, origin)
        requirements = check_requirements(resource, origin, document, issues)
        issues += requirements.issues
        if requirements.mappable:
            source_url = source_url_of(resource) if document is None else None
            entry = document_reference.map_entry(resource, origin, document, mime_type, now,
                                                 requirements.relations, source_url=source_url)
            converted.entries.append(entry)
            if binary_index is not None:
                converted.binary_owner[binary_index] = entry.id
        return issues

    def _validate_submission_set(self, list_resource: dict[str, Any], origin: str, issues: list[Issue],
                                 index: int, ahead: ProvideFindings) -> list[Issue]:
        """The SubmissionSet's structure (refused at once when unreadable), profile and Danish rules."""
        found = self.validation.structure_issues(list_resource, ahead=ahead.structures.get(index))
        structure = self.validation.check_structure(list_resource, origin, found=found)
        if any(i.is_error for i in structure):
            raise refuse(issues + structure)
        rules = ahead.rules.get(index)
        return [*structure, *self.validation.check_resource(list_resource, origin, structure=found),
                *(rules if rules is not None else self.validation.check_submission_set(list_resource, origin))]

    def _register(self, submission: Submission, now: datetime, issues: list[Issue]) -> None:
        """Register ``submission``, or refuse with every issue found (the registry's too)."""
        if any(i.is_error for i in issues):
            # Refused already: add what the registry would say too, so the client sees everything at once.
            raise refuse(self.registry.check(submission) + issues)
        try:
            self.registry.register(submission, now)
        except RegistryError as exc:
            raise refuse(exc.issues + issues) from None

    def _status_updates(self, parsed: ParsedTransaction, document_url: Callable[[str], str],
                        issues: list[Issue]) -> list[StatusUpdate]:
        """The UpdateDocumentRefs entries: each sets a registered entry to ``superseded``, nothing else."""
        updates: list[StatusUpdate] = []
        for index, entry_id, resource in parsed.updated_references:
            origin = f"Bundle.entry[{index}].resource"
            if resource.get("status") != AvailabilityStatus.SUPERSEDED.value:
                issues.append(iti65_issue(f"{origin}.status", "A DocumentReference updated in ITI-65 "
                                          "(UpdateDocumentRefs) must be set to 'superseded'", "iti65-update-superseded",
                                          code="value"))
                continue
            stored = self.registry.get_entry(entry_id)
            if stored is None:
                issues.append(iti65_issue(f"Bundle.entry[{index}].request.url", f"DocumentReference/{entry_id} "
                                          "is not in the registry", "dds-entry-exists", ihe_code="XDSMissingDocument",
                                          code="not-found"))
                continue
            served = document_reference.to_fhir(stored, document_url(entry_id))
            issues.extend(only_status_changes(served, {**resource, "id": entry_id}, origin))
            updates.append(StatusUpdate(entry_id, AvailabilityStatus.SUPERSEDED, origin))
        return updates


def _unreferenced_binaries(parsed: ParsedTransaction, used: set[str]) -> list[Issue]:
    """Every Binary entry is the document of a DocumentReference."""
    return [iti65_issue(f"Bundle.entry[{index}]", f"Binary '{full_url}' is referenced by no DocumentReference "
                             "(attachment.url)", "iti65-binary-referenced", ihe_code="XDSMissingDocumentMetadata")
            for full_url, (index, _) in parsed.binaries.items() if full_url not in used]


def _check_members(parsed: ParsedTransaction, list_resource: dict[str, Any], origin: str) -> list[Issue]:
    """The SubmissionSet lists exactly the new DocumentReferences (by fullUrl)."""
    issues: list[Issue] = []
    new_urls = {parsed.full_urls[index]: index for index, _ in parsed.new_references}
    listed: set[str] = set()
    for position, item in enumerate(list_resource.get("entry") or []):
        reference = ((item or {}).get("item") or {}).get("reference") if isinstance(item, dict) else None
        if reference in new_urls:
            listed.add(reference)
        else:
            issues.append(iti65_issue(f"{origin}.entry[{position}].item", f"SubmissionSet entry '{reference}' is not "
                                      "the fullUrl of a DocumentReference in this transaction", "iti65-members"))
    for url, index in new_urls.items():
        if url not in listed:
            issues.append(iti65_issue(f"Bundle.entry[{index}].resource", f"DocumentReference '{url}' is not listed "
                                      "in the SubmissionSet (List.entry.item)", "iti65-members"))
    return issues


def _submission_patient(list_resource: dict[str, Any], origin: str, entries: list[DocumentEntry],
                        issues: list[Issue]) -> PatientId | None:
    """The patient of the submission; every entry must be that patient's."""
    patient = patient_of(list_resource)
    if patient is None and entries:
        patient = entries[0].patient
    if patient is None:
        if not already_reported(issues, "dk-xds-patient-cpr", f"{origin}.subject"):
            issues.append(iti65_issue(f"{origin}.subject", "The SubmissionSet does not identify its patient",
                                      "dds-patient-present", code="required"))
        return None
    for entry in entries:
        if (entry.patient.system, entry.patient.value) != (patient.system, patient.value):
            issues.append(Issue(
                "error", "business-rule",
                f"The DocumentReference's patient ({entry.patient}) is not the SubmissionSet's ({patient})",
                expression=f"{entry.origin}.subject", source="IHE ITI TF-3 4.2.2.1.1 (one patient per submission)",
                rule="dds-same-patient", ihe_code="XDSPatientIdDoesNotMatch"))
    return patient


def _check_unique_in_message(entries: list[DocumentEntry]) -> list[Issue]:
    """No two entries of the message share a uniqueId or an entryUUID."""
    issues: list[Issue] = []
    seen_unique: dict[str, str] = {}
    seen_uuid: dict[str, str] = {}
    for entry in entries:
        if entry.unique_id in seen_unique:
            issues.append(Issue(
                "error", "duplicate", f"uniqueId '{entry.unique_id}' is also used by {seen_unique[entry.unique_id]}",
                expression=f"{entry.origin}.masterIdentifier", source=SOURCE, rule="dds-unique-id",
                ihe_code="XDSRegistryDuplicateUniqueIdInMessage"))
        seen_unique.setdefault(entry.unique_id, entry.origin)
        if entry.entry_uuid in seen_uuid:
            issues.append(Issue(
                "error", "duplicate", f"entryUUID '{entry.entry_uuid}' is also used by {seen_uuid[entry.entry_uuid]}",
                expression=f"{entry.origin}.identifier", source=SOURCE, rule="dds-unique-id",
                ihe_code="XDSRegistryDuplicateUniqueIdInMessage"))
        seen_uuid.setdefault(entry.entry_uuid, entry.origin)
    return issues


def router(deps: Deps) -> APIRouter:
    """``POST /fhir``: a source provides a transaction Bundle."""
    fhir = APIRouter(prefix="/fhir", responses=oa.errors(401, 403, 503))
    provider = ProvideDocumentBundle(deps.registry, deps.validation)

    @fhir.post("", response_class=FhirJSONResponse,
               responses={**oa.answer("transaction-response Bundle", {oa.FHIR_JSON: oa.fhir_resource("Bundle")}),
                          **oa.errors(409, 413, 415, 422)},
               openapi_extra=oa.fhir_body("Bundle", xml=False, description="ITI-65 transaction Bundle"))
    async def provide(request: Request) -> Response:
        principal = await deps.guard.provider(request)
        body, raw = await read_fhir_json(request, deps.max_body_bytes)
        request_log.note(request, patients=request_log.cprs_in(body))
        # The validation process, where one runs, validates before the request goes to the lane, so that the lane
        # goes on with the other requests meanwhile.
        now = deps.context.clock.now()
        findings = await validation_ahead.ahead(deps.context.validation_process, deps.context.settings, now, raw)
        urls = deps.urls(request)
        # Checked ahead of the jobs waiting in the lane, registered in turn with them (nsp_sandbox.cpu_lane: the
        # provides that arrive together are validated one after another, then registered one after another).
        result = await deps.context.cpu_lane.run_staged(provider.check, provider.register, body, now, urls.document,
                                                        principal.persona if principal else None, ahead=findings)
        return FhirJSONResponse(result)

    return fhir
