"""FHIR List (MHD SubmissionSet) ↔ XDS SubmissionSet.

MHD marks a SubmissionSet by ``List.code`` ``submissionset`` (code system
``https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes``); its uniqueId is the ``usual``
identifier, its entryUUID the ``official`` one; ``List.date`` is the submissionTime, the
``ihe-sourceId`` extension the sourceId and ``ihe-designationType`` the contentTypeCode.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from nsp_sandbox.fhir_http import json_copy
from nsp_sandbox.outcome import Issue
from services.dds.domain import Code, PatientId, StoredSubmissionSet, SubmissionSet
from services.dds.mhd.document_reference import MAPPING_SOURCE, RFC3986, fhir_instant
from services.dds.mhd.fhir_dates import parse_instant
from services.dds.mhd.references import codings

LIST_TYPES = "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes"
SOURCE_ID_EXTENSION = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-sourceId"
DESIGNATION_EXTENSION = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-designationType"
_UUID_URN = re.compile(r"^urn:uuid:([0-9a-fA-F-]{36})\Z")


def list_kind(resource: dict[str, Any]) -> str | None:
    """``submissionset`` or ``folder`` for an MHD List, else None."""
    for coding in codings(resource.get("code")):
        if coding.get("code") in ("submissionset", "folder"):
            return str(coding["code"])
    return None


def _extension(resource: dict[str, Any], url: str) -> dict[str, Any] | None:
    for ext in resource.get("extension") or []:
        if isinstance(ext, dict) and ext.get("url") == url:
            return ext
    return None


def _identifier(resource: dict[str, Any], use: str) -> str | None:
    for item in resource.get("identifier") or []:
        if isinstance(item, dict) and item.get("use") == use and isinstance(item.get("value"), str):
            return str(item["value"])
    return None


def to_submission_set(resource: dict[str, Any], origin: str, patient: PatientId, member_ids: list[str],
                      now: datetime) -> tuple[SubmissionSet, list[Issue]]:
    """Map a received SubmissionSet List; ``member_ids`` are the registered ids of its entries.

    Missing uniqueId / entryUUID are assigned (``urn:uuid:``) and written into the stored List.
    """
    issues: list[Issue] = []
    stored = json_copy(resource)
    entry_uuid = _identifier(resource, "official")
    unique_id = _identifier(resource, "usual")
    if entry_uuid is None:
        entry_uuid = f"urn:uuid:{uuid.uuid4()}"
        stored.setdefault("identifier", []).append({"use": "official", "system": RFC3986, "value": entry_uuid})
    if unique_id is None:
        unique_id = f"urn:uuid:{uuid.uuid4()}"
        stored.setdefault("identifier", []).append({"use": "usual", "system": RFC3986, "value": unique_id})
    match = _UUID_URN.match(entry_uuid)
    set_id = match.group(1).lower() if match else str(uuid.uuid4())

    if resource.get("status") not in (None, "current"):
        issues.append(Issue("error", "value", f"A SubmissionSet List has status 'current', not "
                            f"'{resource.get('status')}'", expression=f"{origin}.status",
                            source=MAPPING_SOURCE, rule="dds-submission-set-current",
                            ihe_code="XDSRegistryMetadataError"))
    source = _extension(resource, SOURCE_ID_EXTENSION)
    source_id = ((source or {}).get("valueIdentifier") or {}).get("value")
    designation_ext = _extension(resource, DESIGNATION_EXTENSION)
    designation_codings = codings((designation_ext or {}).get("valueCodeableConcept"))
    designation = (Code(designation_codings[0].get("system"), str(designation_codings[0]["code"]))
                   if designation_codings else None)

    stored["id"] = set_id
    stored["status"] = "current"
    stored["entry"] = [{"item": {"reference": f"DocumentReference/{i}"}} for i in member_ids]
    meta = stored.get("meta")
    if isinstance(meta, dict):
        meta.pop("versionId", None)
        meta.pop("lastUpdated", None)
    submission_time = parse_instant(resource.get("date"))
    sset = SubmissionSet(
        id=set_id, entry_uuid=entry_uuid, unique_id=unique_id, patient=patient,
        submission_time=submission_time, source_id=source_id if isinstance(source_id, str) else None,
        designation=designation, resource=stored, origin=origin,
    )
    return sset, issues


def to_fhir(stored: StoredSubmissionSet) -> dict[str, Any]:
    """The SubmissionSet List as served."""
    resource = dict(stored.resource)
    resource["id"] = stored.id
    meta = dict(resource.get("meta") or {})
    meta["versionId"] = "1"
    meta["lastUpdated"] = fhir_instant(stored.registered_at)
    resource = {"resourceType": "List", "id": stored.id, "meta": meta,
                **{k: v for k, v in resource.items() if k not in ("resourceType", "id", "meta")}}
    resource["entry"] = [{"item": {"reference": f"DocumentReference/{i}"}} for i in stored.member_ids]
    return resource
