"""FHIR DocumentReference ↔ XDS DocumentEntry (IHE MHD ``documentReference.fsh`` mapping).

``to_entry`` reads what the registry needs from a received DocumentReference and returns the
form it stores: server id, ``status`` current, entryUUID and ``date`` filled in when missing,
``size`` and ``hash`` (base64 SHA-1, as FHIR wants it) of the document, inline ``data`` and the
client's ``url`` removed. ``to_fhir`` gives the form served: current status and version, and the
absolute ITI-68 ``attachment.url``.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from nsp_sandbox.outcome import Issue
from services.dds.domain import (
    AssociationKind,
    Code,
    Document,
    DocumentEntry,
    Relation,
    StoredEntry,
    TargetRef,
)
from services.dds.mhd.fhir_dates import parse_instant
from services.dds.mhd.references import codings, contained, entry_id_from_reference, patient_of

MAPPING_SOURCE = "IHE MHD 4.2 DocumentReference ↔ DocumentEntry mapping"
RFC3986 = "urn:ietf:rfc:3986"
_UUID_URN = re.compile(r"^urn:uuid:([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$")
_RELATION_KINDS = {k.value: k for k in AssociationKind}


def _metadata_error(expression: str, message: str, rule: str, code: str = "required") -> Issue:
    return Issue("error", code, message, expression=expression, source=MAPPING_SOURCE, rule=rule,
                 ihe_code="XDSRegistryMetadataError")


def fhir_instant(moment: datetime) -> str:
    """A FHIR instant in UTC, to the second (as XDS DTM)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment.tzinfo else \
        moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def fhir_hash(document: Document) -> str:
    """``attachment.hash``: the SHA-1 of the document, base64 (XDS carries the same value in hex)."""
    return base64.b64encode(bytes.fromhex(document.hash)).decode("ascii")


def entry_uuid_of(resource: dict[str, Any]) -> str | None:
    """The entryUUID: the ``urn:ietf:rfc:3986`` identifier (or the first ``urn:uuid:`` one)."""
    identifiers = [i for i in resource.get("identifier") or [] if isinstance(i, dict)
                   and isinstance(i.get("value"), str)]
    for item in identifiers:
        if item.get("system") == RFC3986 and item["value"].startswith(("urn:uuid:", "urn:oid:")):
            return item["value"]
    for item in identifiers:
        if item["value"].startswith("urn:uuid:"):
            return item["value"]
    return None


def check_attachment(attachment: dict[str, Any], document: Document, expression: str) -> list[Issue]:
    """A supplied ``size`` or ``hash`` must be those of the document received."""
    issues: list[Issue] = []
    size = attachment.get("size")
    if size is not None and size != document.size:
        issues.append(Issue(
            "error", "value", f"attachment.size is {size} but the document has {document.size} bytes",
            expression=f"{expression}.size", source=MAPPING_SOURCE, rule="dds-document-size",
            ihe_code="XDSRepositoryMetadataError"))
    supplied = attachment.get("hash")
    if supplied is not None:
        expected = fhir_hash(document)
        if supplied != expected:
            hint = (" (it looks like hex: FHIR carries the SHA-1 base64-encoded)"
                    if isinstance(supplied, str) and supplied.lower() == document.hash else "")
            issues.append(Issue(
                "error", "value",
                f"attachment.hash '{supplied}' is not the SHA-1 of the document received "
                f"(expected '{expected}'){hint}",
                expression=f"{expression}.hash", source=MAPPING_SOURCE, rule="dds-document-hash",
                ihe_code="XDSRepositoryMetadataError"))
    return issues


def to_entry(resource: dict[str, Any], origin: str, document: Document, mime_type: str,
             now: datetime) -> tuple[DocumentEntry | None, list[Issue]]:
    """Map a received DocumentReference (at ``origin``) with its ``document`` to a DocumentEntry."""
    issues: list[Issue] = []
    stored = json.loads(json.dumps(resource))  # a deep copy, faster than copy.deepcopy

    patient = patient_of(resource)
    if patient is None:
        issues.append(_metadata_error(
            f"{origin}.subject", "The DocumentReference does not identify its patient: give subject as a "
            "contained Patient with a CPR identifier, or subject.identifier", "dds-patient-present"))
    master = resource.get("masterIdentifier")
    unique_id = master.get("value") if isinstance(master, dict) else None
    if not isinstance(unique_id, str) or not unique_id.strip():
        issues.append(_metadata_error(f"{origin}.masterIdentifier",
                                      "masterIdentifier (the XDS uniqueId) is required", "dds-unique-id-present"))
    status = resource.get("status")
    if status != "current":
        issues.append(_metadata_error(
            f"{origin}.status", f"A new DocumentReference is registered as 'current', not '{status}'",
            "dds-new-entry-current", code="value"))
    contents = resource.get("content")
    if not isinstance(contents, list) or len(contents) != 1:
        issues.append(_metadata_error(f"{origin}.content", "content must hold exactly one attachment",
                                      "dds-one-content", code="structure"))

    entry_uuid = entry_uuid_of(resource)
    if entry_uuid is None:
        entry_id = str(uuid.uuid4())
        entry_uuid = f"urn:uuid:{entry_id}"
        stored.setdefault("identifier", []).append({"use": "official", "system": RFC3986, "value": entry_uuid})
    else:
        match = _UUID_URN.match(entry_uuid)
        entry_id = match.group(1).lower() if match else str(uuid.uuid4())

    relations: list[Relation] = []
    for index, relates in enumerate(resource.get("relatesTo") or []):
        where = f"{origin}.relatesTo[{index}]"
        kind = _RELATION_KINDS.get(relates.get("code")) if isinstance(relates, dict) else None
        target = relates.get("target") if isinstance(relates, dict) else None
        if kind is None:
            issues.append(_metadata_error(f"{where}.code", "relatesTo.code must be one of "
                                          + ", ".join(_RELATION_KINDS), "dds-relation-code", code="value"))
            continue
        if not isinstance(target, dict):
            issues.append(_metadata_error(f"{where}.target", "relatesTo.target is required", "dds-relation-target"))
            continue
        target_id = entry_id_from_reference(target.get("reference"))
        identifier = (target.get("identifier") or {}).get("value")
        if target_id is not None:
            relations.append(Relation(kind, TargetRef(entry_id=target_id), where))
        elif isinstance(identifier, str):
            relations.append(Relation(kind, TargetRef(identifier=identifier), where))
        else:
            issues.append(_metadata_error(
                f"{where}.target", "relatesTo.target must reference DocumentReference/{id} or give the "
                "earlier entry's uniqueId or entryUUID as target.identifier", "dds-relation-target"))

    if issues or patient is None or not isinstance(unique_id, str) or not isinstance(contents, list):
        return None, issues

    attachment = contents[0].get("attachment") if isinstance(contents[0], dict) else None
    attachment = attachment if isinstance(attachment, dict) else {}
    issues.extend(check_attachment(attachment, document, f"{origin}.content[0].attachment"))
    stored_attachment = stored["content"][0].setdefault("attachment", {})
    stored_attachment.pop("data", None)
    stored_attachment.pop("url", None)
    stored_attachment["contentType"] = mime_type
    stored_attachment["size"] = document.size
    stored_attachment["hash"] = fhir_hash(document)

    date = parse_instant(resource.get("date"))
    if date is None:
        date = now
        stored["date"] = fhir_instant(now)
    context = resource.get("context") if isinstance(resource.get("context"), dict) else {}
    period = context.get("period") if isinstance(context.get("period"), dict) else {}

    stored["id"] = entry_id
    stored["status"] = "current"
    meta = stored.get("meta")
    if isinstance(meta, dict):
        meta.pop("versionId", None)
        meta.pop("lastUpdated", None)

    entry = DocumentEntry(
        id=entry_id, entry_uuid=entry_uuid, unique_id=unique_id.strip(), patient=patient,
        mime_type=mime_type, creation=parse_instant(attachment.get("creation")), date=date,
        period_start=parse_instant(period.get("start")), period_end=parse_instant(period.get("end")),
        codes=search_codes(stored), document=document, resource=stored, origin=origin, relations=relations,
    )
    return entry, issues


def _coded(concepts: list[Any]) -> list[Code]:
    out: list[Code] = []
    for concept in concepts:
        for coding in codings(concept):
            code = coding.get("code")
            if isinstance(code, str) and code:
                system = coding.get("system")
                out.append(Code(system if isinstance(system, str) else None, code))
    return out


def _identified(identifiers: list[Any]) -> list[Code]:
    out: list[Code] = []
    for identifier in identifiers:
        if isinstance(identifier, dict) and isinstance(identifier.get("value"), str):
            system = identifier.get("system")
            out.append(Code(system if isinstance(system, str) else None, identifier["value"]))
    return out


def search_codes(resource: dict[str, Any]) -> dict[str, list[Code]]:
    """The values ITI-67 token parameters match, by parameter name."""
    context = resource.get("context") if isinstance(resource.get("context"), dict) else {}
    authors: list[Any] = []
    for author in resource.get("author") or []:
        if not isinstance(author, dict):
            continue
        if author.get("identifier"):
            authors.append(author["identifier"])
        target = contained(resource, author.get("reference"))
        if target is not None:
            authors.extend(target.get("identifier") or [])
    related: list[Code] = []
    for item in context.get("related") or []:
        if not isinstance(item, dict):
            continue
        related.extend(_identified([item.get("identifier")]))
        if isinstance(item.get("reference"), str):
            related.append(Code(None, item["reference"]))
    codes = {
        "type": _coded([resource.get("type")]),
        "category": _coded(list(resource.get("category") or [])),
        "format": _coded([c.get("format") for c in resource.get("content") or [] if isinstance(c, dict)]),
        "setting": _coded([context.get("practiceSetting")]),
        "facility": _coded([context.get("facilityType")]),
        "event": _coded(list(context.get("event") or [])),
        "security-label": _coded(list(resource.get("securityLabel") or [])),
        "author.identifier": _identified(authors),
        "related": related,
        "identifier": _identified([resource.get("masterIdentifier"), *(resource.get("identifier") or [])]),
    }
    return {param: values for param, values in codes.items() if values}


def to_fhir(entry: StoredEntry, document_url: str) -> dict[str, Any]:
    """The DocumentReference as served: stored form, current status and version, ITI-68 url."""
    resource = dict(entry.resource)
    resource["id"] = entry.id
    meta = dict(resource.get("meta") or {})
    meta["versionId"] = str(entry.version)
    meta["lastUpdated"] = fhir_instant(entry.updated_at)
    resource["meta"] = meta
    resource["status"] = entry.status.value
    contents = [dict(c) for c in resource.get("content") or []]
    if contents:
        attachment = dict(contents[0].get("attachment") or {})
        attachment["url"] = document_url
        contents[0] = {**contents[0], "attachment": attachment}
        resource["content"] = contents
    return _ordered(resource)


_ORDER = ("resourceType", "id", "meta")


def _ordered(resource: dict[str, Any]) -> dict[str, Any]:
    head = {k: resource[k] for k in _ORDER if k in resource}
    return {**head, **{k: v for k, v in resource.items() if k not in head}}
