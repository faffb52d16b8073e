"""An ITI-65 provide's validations, made in the validation process before the request goes to the CPU lane.

``up`` runs a second process for validation on the cores the sandbox leaves (:mod:`nsp_sandbox.validation_process`).
When a provide's body has been read, :func:`ahead` gives it to that process, which parses it as the lane will and
makes the findings the lane's checks would make with the engine (:func:`provide_findings`):

- each new DocumentReference's and the SubmissionSet List's whole validation (``Validator.validate_layers``), by
  their index in the Bundle, when they declare a profile (``ContentValidation.structure_issues`` validates only
  those);
- each FHIR JSON document's judgement as the HCO version its entry names (``hco_versions.judge_stored``), by what
  the engine keeps such findings by (``Validator.content_key``: the bytes' SHA-256, the profile and the package).

The request awaits them on the event loop, then goes to the lane, which meanwhile goes on with the other requests
(had the lane waited, its thread would have stood still). The lane's check (``ProvideDocumentBundle.check``) takes
them (:func:`take`): the documents' findings go to its engine's memory, where ``judge_stored`` and the viewer's later
reading find them, and the resources' are handed to ``ContentValidation``. Whatever is not there (the process was
not ready, a job failed, an entry it could not read, an XML document) the lane validates itself, as it always did.
The findings are the engine's either way; everything else a provide is judged by (its structure where no profile
is declared, the Danish rules, the registry's checks) is the lane's alone.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nsp_sandbox import hco_versions
from nsp_sandbox.conformance import strict_json
from nsp_sandbox.outcome import FhirError, Issue
from nsp_sandbox.validation_process import JobFailed, ProcessGone

if TYPE_CHECKING:
    from nsp_sandbox.conformance.validator import ContentKey, Validator
    from nsp_sandbox.validation_process import ValidationProcess

log = logging.getLogger(__name__)

JOB = "services.dds.validation_ahead:provide_findings"
WAIT_AT_MOST = 20.0  # seconds a provide waits for the process's answer before it stops the process

FHIR_JSON_TYPES = frozenset({"application/fhir+json", "application/json", "application/json+fhir"})

Layers = tuple[list[Issue], list[Issue]]  # Validator.validate_layers: (base structure, all)


@dataclass
class ProvideFindings:
    """What :func:`provide_findings` found in one ITI-65 Bundle."""

    layers: dict[int, Layers] = field(default_factory=dict)  # Bundle entry index -> validate_layers
    documents: list[tuple[ContentKey, list[Issue]]] = field(default_factory=list)


def _profiled(resource: Any) -> bool:
    meta = resource.get("meta") if isinstance(resource, dict) else None
    return isinstance(meta, dict) and bool(meta.get("profile"))


def provide_findings(validator: Validator, body: bytes) -> ProvideFindings:
    """The engine's findings in the ITI-65 Bundle ``body`` (see the module docstring); what cannot be read is left
    out, for the lane to find."""
    from services.dds.mhd.transaction import document_of, parse_transaction

    found = ProvideFindings()
    bundle = strict_json.loads(body)
    if not isinstance(bundle, dict):
        return found
    try:
        parsed = parse_transaction(bundle)
    except FhirError:  # not an ITI-65 transaction: the lane refuses it
        return found
    for index, resource in parsed.new_references:
        if not _profiled(resource):
            continue
        found.layers[index] = validator.validate_layers(resource)
        try:
            document = document_of(parsed, resource, f"Bundle.entry[{index}].resource", set())
        except Exception:  # not Base64, and the like: the lane says so
            continue
        if isinstance(document, Issue) or document[0] is None:
            continue
        content, mime_type = document[0].content, document[1]
        if not isinstance(mime_type, str) or mime_type.split(";")[0].strip().lower() not in FHIR_JSON_TYPES:
            continue
        try:
            parsed_document = strict_json.loads(content)
        except strict_json.JsonRefused:
            continue
        if not _profiled(parsed_document) or not isinstance(parsed_document.get("resourceType"), str):
            continue
        package = hco_versions.stored_package(validator, parsed_document, hco_versions.version_of_entry(resource))
        issues = validator.validate(parsed_document, package=package, content=content)
        found.documents.append((validator.content_key(content, None, package), issues))
    if parsed.submission_set is not None:
        set_index, list_resource = parsed.submission_set
        if _profiled(list_resource):
            found.layers[set_index] = validator.validate_layers(list_resource)
    return found


def take(found: ProvideFindings | None, validator: Validator) -> dict[int, Layers]:
    """Keep the documents' findings of ``found`` in ``validator``'s memory, and give the resources' by their index
    in the Bundle (nothing for None)."""
    if found is None:
        return {}
    for key, issues in found.documents:
        validator.keep(key, issues)
    return found.layers


async def ahead(process: ValidationProcess | None, body: bytes) -> ProvideFindings | None:
    """The validation process's findings in the ITI-65 Bundle ``body`` (read as JSON), awaited; None where no
    process is ready, or it failed, or did not answer within :data:`WAIT_AT_MOST` seconds (it is then stopped)."""
    if process is None:
        return None
    future = process.submit(JOB, body)
    if future is None:
        return None
    try:
        found: ProvideFindings = await asyncio.wait_for(asyncio.wrap_future(future), WAIT_AT_MOST)
    except TimeoutError:
        process.abandon(f"no answer within {WAIT_AT_MOST:.0f} s")
        return None
    except (JobFailed, ProcessGone) as exc:  # the lane validates
        log.warning("validations ahead not made: %s", exc)
        return None
    return found
