"""An ITI-65 provide's validations, made in the validation process before the request goes to the CPU lane.

``up`` runs a second process for validation on the cores the sandbox leaves (:mod:`nsp_sandbox.validation_process`).
When a provide's body has been read, :func:`ahead` gives it to that process, with the sandbox's settings and the
provide's time, and the process makes what the lane's check (``ProvideDocumentBundle._entry``) would make with the
engine and the Danish rules, on the same conditions and in the same order (:func:`provide_findings`):

- each DocumentReference's and SubmissionSet List's structure (``ContentValidation.structure_issues``): a
  profiled one's whole validation (``Validator.validate_layers``), else its base structure;
- each document's layers (``ContentValidation.check_document``: its profile, the document's patient, the HCOM
  rules), with the document's profile findings by what the engine keeps them by (``Validator.content_key``);
- the Danish metadata rules of each DocumentReference and of the List.

All are by Bundle entry index. The request awaits them on the event loop, then goes to the lane, which meanwhile
goes on with the other requests (had the lane waited, its thread would have stood still). The lane's check takes
them (:func:`take`): the documents' profile findings go to its engine's memory, where the viewer's later reading
finds them, and the check uses the rest in place of making them. Whatever is not there (the process was not ready,
a job failed, an entry it could not read) the lane makes itself, as it always did: the code is the same, and so are
the packages (compared before any answer is used) and the settings and time (sent with each job). The mapping,
the checks within the message and the registry's are the lane's alone.

ITI-41 (:mod:`services.dds.xds.iti41`) converts its request to the ITI-65 transaction in the lane and gives the
process that Bundle, written as JSON, the same way.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from nsp_sandbox.config import Settings
from nsp_sandbox.conformance import strict_json
from nsp_sandbox.outcome import FhirError, Issue
from nsp_sandbox.validation_process import JobFailed, ProcessGone
from services.dds.mhd.transaction import document_of, parse_transaction
from services.dds.validation import ContentValidation, ResourceFindings

if TYPE_CHECKING:
    from nsp_sandbox.conformance.validator import ContentKey, Validator
    from nsp_sandbox.validation_process import ValidationProcess

log = logging.getLogger(__name__)

JOB = "services.dds.validation_ahead:provide_findings"
WAIT_AT_MOST = 20.0  # seconds a provide waits for the process's answer before it stops the process

@dataclass
class ProvideFindings:
    """What :func:`provide_findings` found in one ITI-65 Bundle, by Bundle entry index."""

    # ContentValidation.structure_issues of a DocumentReference or List: a profiled one's whole validation
    # (Validator.validate_layers), else its base structure (ITI-41's converted entries declare no profile)
    structures: dict[int, ResourceFindings] = field(default_factory=dict)
    documents: dict[int, list[Issue]] = field(default_factory=dict)  # a DocumentReference's check_document
    rules: dict[int, list[Issue]] = field(default_factory=dict)  # the Danish rules of a DocumentReference or List
    judged: list[tuple[ContentKey, list[Issue]]] = field(default_factory=list)  # for the engine's memory


@dataclass(frozen=True)
class _Judging:
    """What ``ContentValidation`` reads of a sandbox context, in the validation process."""

    settings: Settings
    validator: Validator


class _SettingsPickles:
    """The pickle of the settings a job carries, made again only when a setting changed (pickling the settings took
    longer than the rest of handing a provide over); and, in the validation process, the settings read from the
    last such pickle, read again only when it differs. Each is one tuple, replaced whole: a reader in another
    thread sees an old pair or a new one, never half of each."""

    def __init__(self) -> None:
        self._pickled: tuple[tuple[Any, ...], bytes] | None = None  # the values pickled, and their pickle
        self._read: tuple[bytes, Settings] | None = None

    def pickled(self, settings: Settings) -> bytes:
        last = self._pickled
        # Compared with the values as they were pickled, a list, dict or set as a copy of it: one changed in place
        # is a change.
        if last is None or tuple(settings.__dict__.values()) != last[0]:
            values = tuple(v.copy() if isinstance(v, list | dict | set) else v for v in settings.__dict__.values())
            last = self._pickled = (values, pickle.dumps(settings, pickle.HIGHEST_PROTOCOL))
        return last[1]

    def read(self, pickled: bytes) -> Settings:
        last = self._read
        if last is None or last[0] != pickled:
            last = self._read = (pickled, pickle.loads(pickled))
        return last[1]


_settings = _SettingsPickles()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def job(settings: Settings, now: datetime, body: bytes) -> tuple[bytes, bytes, bytes]:
    """The payload of :func:`provide_findings`, in parts, for the Bundle ``body`` provided at ``now`` (an aware
    instant) under ``settings``: the time in microseconds since 1970 and the length of the settings' pickle, that
    pickle, the body (not copied)."""
    pickled = _settings.pickled(settings)
    header = ((now - _EPOCH) // _MICROSECOND).to_bytes(8, "big", signed=True) + len(pickled).to_bytes(4, "big")
    return header, pickled, body


def provide_findings(validator: Validator, payload: bytes) -> ProvideFindings:
    """The findings a provide's check makes with the engine and the Danish rules (``ProvideDocumentBundle._entry``
    and ``_validate_submission_set``, in their order and on their conditions), of the Bundle in ``payload``
    (:func:`job`'s parts, joined); what cannot be read is left out, for the lane to find."""
    now = _EPOCH + int.from_bytes(payload[:8], "big", signed=True) * _MICROSECOND
    length = int.from_bytes(payload[8:12], "big")
    settings = _settings.read(payload[12:12 + length])
    body = payload[12 + length:]
    found = ProvideFindings()
    bundle = strict_json.loads(body)
    if not isinstance(bundle, dict):
        return found
    try:
        parsed = parse_transaction(bundle)
    except FhirError:  # not an ITI-65 transaction: the lane refuses it
        return found
    validation = ContentValidation(_Judging(settings, validator), judged=found.judged)
    for index, resource in parsed.new_references:
        origin = f"Bundle.entry[{index}].resource"
        structure = _structure(validation, resource, index, found)
        if any(i.is_error for i in validation.check_structure(resource, origin, found=structure)):
            continue
        try:
            document = document_of(parsed, resource, origin, set())
        except FhirError:  # not Base64: the lane says so
            continue
        if isinstance(document, Issue):
            continue
        content, mime_type, where, _ = document
        if content is not None:
            found.documents[index] = validation.check_document(content.content, mime_type, where, now=now,
                                                               entry=resource, entry_origin=origin)
        found.rules[index] = validation.check_document_reference(resource, origin)
    if parsed.submission_set is not None:
        set_index, list_resource = parsed.submission_set
        origin = f"Bundle.entry[{set_index}].resource"
        structure = _structure(validation, list_resource, set_index, found)
        if not any(i.is_error for i in validation.check_structure(list_resource, origin, found=structure)):
            found.rules[set_index] = validation.check_submission_set(list_resource, origin)
    return found


def _structure(validation: ContentValidation, resource: dict[str, Any], index: int,
               found: ProvideFindings) -> ResourceFindings | None:
    """``ContentValidation.structure_issues`` of the resource at Bundle entry ``index``, kept in ``found``."""
    structure = validation.structure_issues(resource)
    if structure is not None:
        found.structures[index] = structure
    return structure


def take(found: ProvideFindings | None, validator: Validator) -> ProvideFindings:
    """Keep the documents' profile findings of ``found`` in ``validator``'s memory (where the viewer's later reading
    finds them), and give the rest (empty for None)."""
    if found is None:
        return ProvideFindings()
    for key, issues in found.judged:
        validator.keep(key, issues)
    return found


async def ahead(process: ValidationProcess | None, settings: Settings, now: datetime,
                body: bytes) -> ProvideFindings | None:
    """The validation process's findings in the ITI-65 Bundle ``body`` (read as JSON) provided at ``now`` under
    ``settings``, awaited; None where no process is ready, or it failed, or did not answer within
    :data:`WAIT_AT_MOST` seconds (it is then stopped)."""
    if process is None:
        return None
    future = process.submit(JOB, *job(settings, now, body))
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
