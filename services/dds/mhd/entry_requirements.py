"""What a received DocumentReference needs before it can be mapped to a DocumentEntry (MHD face).

The MHD face's own checks, after the structure and profile layers and the Danish metadata rules
and before the pure mapping (``document_reference.map_entry``): the entry names its patient
(``dds-patient-present``) and its uniqueId (``dds-unique-id-present``), is provided as
``current`` (``dds-new-entry-current``), holds one attachment (``dds-one-content``), its
``relatesTo`` are readable (``dds-relation-code``, ``dds-relation-target``), and a supplied
``size`` and ``hash`` are those of the document received (``dds-document-size``,
``dds-document-hash``).

A presence rule the Danish metadata rules already reported as an error for the same element
(``dk-xds-patient-cpr`` at ``subject``, ``dk-xds-unique-id`` at ``masterIdentifier``) is not
reported again: each missing element is named once. The entry is still not mappable.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from nsp_sandbox.outcome import Issue
from services.dds.domain import AssociationKind, Document, Relation, TargetRef
from services.dds.mhd.references import entry_id_from_reference, patient_of

MAPPING_SOURCE = "IHE MHD 4.2 DocumentReference ↔ DocumentEntry mapping"
RELATION_KINDS = {k.value: k for k in AssociationKind}
#: The Danish rule that already names a missing element, by the element's path under the resource.
DANISH_PRESENCE_RULES = {"subject": "dk-xds-patient-cpr", "masterIdentifier": "dk-xds-unique-id"}


def fhir_hash(document: Document) -> str:
    """``attachment.hash``: the SHA-1 of the document, base64 (XDS carries the same value in hex)."""
    return base64.b64encode(bytes.fromhex(document.hash)).decode("ascii")


def metadata_error(expression: str, message: str, rule: str, code: str = "required") -> Issue:
    """An error of the DocumentReference ↔ DocumentEntry mapping (``XDSRegistryMetadataError``)."""
    return Issue("error", code, message, expression=expression, source=MAPPING_SOURCE, rule=rule,
                 ihe_code="XDSRegistryMetadataError")


@dataclass
class Requirements:
    """The findings of the mapping requirements, whether the entry can be mapped, and its relations."""

    issues: list[Issue]
    mappable: bool
    relations: list[Relation]


def already_reported(reported: list[Issue], rule: str, where: str) -> bool:
    """Whether ``rule`` already reported an error at ``where`` (or inside it)."""
    return any(i.is_error and i.rule == rule and (i.expression or "").startswith(where) for i in reported)


def _reported(reported: list[Issue], origin: str, element: str) -> bool:
    """Whether the Danish presence rule for ``element`` already reported an error there."""
    return already_reported(reported, DANISH_PRESENCE_RULES[element], f"{origin}.{element}")


def check_presence(resource: dict[str, Any], origin: str, reported: list[Issue]) -> tuple[list[Issue], bool]:
    """Patient, uniqueId, status and the one attachment: (issues, whether all are there)."""
    issues: list[Issue] = []
    patient_missing = patient_of(resource) is None
    if patient_missing and not _reported(reported, origin, "subject"):
        issues.append(metadata_error(
            f"{origin}.subject", "The DocumentReference does not identify its patient: give subject as a "
            "contained Patient with a CPR identifier, or subject.identifier", "dds-patient-present"))
    master = resource.get("masterIdentifier")
    unique_id = master.get("value") if isinstance(master, dict) else None
    unique_id_missing = not isinstance(unique_id, str) or not unique_id.strip()
    if unique_id_missing and not _reported(reported, origin, "masterIdentifier"):
        issues.append(metadata_error(f"{origin}.masterIdentifier",
                                     "masterIdentifier (the XDS uniqueId) is required", "dds-unique-id-present"))
    status = resource.get("status")
    if status != "current":
        issues.append(metadata_error(
            f"{origin}.status", f"A new DocumentReference is registered as 'current', not '{status}'",
            "dds-new-entry-current", code="value"))
    contents = resource.get("content")
    if not isinstance(contents, list) or len(contents) != 1:
        issues.append(metadata_error(f"{origin}.content", "content must hold exactly one attachment",
                                     "dds-one-content", code="structure"))
    return issues, not (issues or patient_missing or unique_id_missing)


def read_relations(resource: dict[str, Any], origin: str) -> tuple[list[Relation], list[Issue]]:
    """The ``relatesTo`` of a DocumentReference as domain relations, and what cannot be read of them."""
    relations: list[Relation] = []
    issues: list[Issue] = []
    for index, relates in enumerate(resource.get("relatesTo") or []):
        where = f"{origin}.relatesTo[{index}]"
        kind = RELATION_KINDS.get(relates.get("code")) if isinstance(relates, dict) else None
        target = relates.get("target") if isinstance(relates, dict) else None
        if kind is None:
            issues.append(metadata_error(f"{where}.code", "relatesTo.code must be one of "
                                         + ", ".join(RELATION_KINDS), "dds-relation-code", code="value"))
            continue
        if not isinstance(target, dict):
            issues.append(metadata_error(f"{where}.target", "relatesTo.target is required", "dds-relation-target"))
            continue
        target_id = entry_id_from_reference(target.get("reference"))
        identifier = (target.get("identifier") or {}).get("value")
        if target_id is not None:
            relations.append(Relation(kind, TargetRef(entry_id=target_id), where))
        elif isinstance(identifier, str):
            relations.append(Relation(kind, TargetRef(identifier=identifier), where))
        else:
            issues.append(metadata_error(
                f"{where}.target", "relatesTo.target must reference DocumentReference/{id} or give the "
                "earlier entry's uniqueId or entryUUID as target.identifier", "dds-relation-target"))
    return relations, issues


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


def check_requirements(resource: dict[str, Any], origin: str, document: Document | None,
                       reported: list[Issue] = []) -> Requirements:  # noqa: B006 (never mutated)
    """Every mapping requirement of a DocumentReference, in order; ``reported``: what the Danish
    metadata rules already found (their presence errors are not repeated)."""
    issues, present = check_presence(resource, origin, reported)
    relations, problems = read_relations(resource, origin)
    issues.extend(problems)
    if not present or problems:
        return Requirements(issues, False, relations)
    attachment = resource["content"][0].get("attachment") if isinstance(resource["content"][0], dict) else None
    if document is not None:
        issues.extend(check_attachment(attachment if isinstance(attachment, dict) else {}, document,
                                       f"{origin}.content[0].attachment"))
    return Requirements(issues, True, relations)
