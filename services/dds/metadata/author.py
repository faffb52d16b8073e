"""The author rule: the author institution is an Organization identified by its SOR code.

SOR (Sundhedsvæsenets Organisationsregister) is the Danish register of health-care organisations;
its codes are the FHIR identifier system ``urn:oid:1.2.208.176.1.1``. DK XDS requires
``author.authorInstitution`` on every DocumentEntry (and on the SubmissionSet when it has an
author) as XON carrying the SOR code, never a CVR number (the business register) or a local id
(MD096: authorInstitution; scandihealth/lpr3-docs #102, #188, #321).

In MHD the institution is an ``author`` Organization, or the organisation of an ``author``
PractitionerRole; on a SubmissionSet List also the ``ihe-authorOrg`` extension.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.dds.metadata.fhir import JsonObject, Target, follow, identifier_values, objects
from services.dds.metadata.findings import MD096, Findings, RuleGroup

# SOR's OID as FHIR identifier system (dk-core ``dk-core-sor-identifier``).
SOR_SYSTEM = "urn:oid:1.2.208.176.1.1"
# dk-core invariant ``min-digits-sor``: SOR codes are at least 11 digits.
_SOR_CODE = re.compile(r"^[0-9]{11,}\Z")
SOURCE_AUTHOR = f"{MD096}: author.authorInstitution (SOR, urn:oid:1.2.208.176.1.1)"
SOURCE_SOR_FORMAT = "dk-core dk-core-sor-identifier (min-digits-sor)"
# MHD: the Organization that authored a SubmissionSet.
MHD_AUTHOR_ORG = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-authorOrg"


@dataclass(frozen=True)
class Institution:
    """An author institution candidate and where it was found (relative FHIRPath)."""

    expression: str
    target: Target


def _institutions(resource: JsonObject, authors: list[tuple[str, object]]) -> list[Institution]:
    found: list[Institution] = []
    for expression, reference in authors:
        target = follow(reference, resource)
        untyped_sor = target.resource_type is None and identifier_values(target.identifiers, SOR_SYSTEM)
        if target.resource_type == "Organization" or untyped_sor:
            found.append(Institution(expression, target))
        elif target.resource_type == "PractitionerRole" and target.resource is not None:
            organization = target.resource.get("organization")
            if organization is not None:
                found.append(Institution(expression, follow(organization, resource)))
    return found


def author_institutions(resource: JsonObject) -> frozenset[str]:
    """The SOR codes of a DocumentReference's author institutions (empty when it names none)."""
    authors = resource.get("author")
    refs = [(f"author[{i}]", ref) for i, ref in enumerate(authors if isinstance(authors, list) else [])]
    return frozenset(code for institution in _institutions(resource, refs)
                     for code in identifier_values(institution.target.identifiers, SOR_SYSTEM))


def check_document_authors(findings: Findings, resource: JsonObject) -> None:
    """DocumentReference ``author``: present, with at least one institution, each identified by SOR."""
    if not findings.active(RuleGroup.AUTHOR):
        return
    authors = resource.get("author")
    if not objects(authors):
        findings.violation(RuleGroup.AUTHOR, rule="dk-xds-author", code="required", expression="author",
                           diagnostics="author is missing: DK XDS requires the author institution, an "
                                       f"Organization identified by SOR code ({SOR_SYSTEM})",
                           source=SOURCE_AUTHOR)
        return
    refs = [(f"author[{i}]", ref) for i, ref in enumerate(authors if isinstance(authors, list) else [authors])]
    _check_institutions(findings, resource, refs, required=True, where="author")


def check_submission_set_authors(findings: Findings, resource: JsonObject) -> None:
    """SubmissionSet author (``source``, extension ``ihe-authorOrg``): institutions, if any, by SOR."""
    if not findings.active(RuleGroup.AUTHOR):
        return
    refs: list[tuple[str, object]] = []
    if resource.get("source") is not None:
        refs.append(("source", resource["source"]))
    extensions = resource.get("extension")
    for i, ext in enumerate(extensions if isinstance(extensions, list) else []):
        if isinstance(ext, dict) and ext.get("url") == MHD_AUTHOR_ORG:
            refs.append((f"extension[{i}].valueReference", ext.get("valueReference")))
    _check_institutions(findings, resource, refs, required=False, where="source")


def _check_institutions(findings: Findings, resource: JsonObject, refs: list[tuple[str, object]], *,
                        required: bool, where: str) -> None:
    institutions = _institutions(resource, refs)
    if not institutions:
        if required:
            findings.violation(RuleGroup.AUTHOR, rule="dk-xds-author-institution", code="required",
                               expression=where,
                               diagnostics=f"{where} names no institution: DK XDS requires an author "
                                           f"Organization (contained, or referenced with its identifier) "
                                           f"identified by SOR code ({SOR_SYSTEM})",
                               source=SOURCE_AUTHOR)
        return
    for institution in institutions:
        _check_sor(findings, institution)


def _check_sor(findings: Findings, institution: Institution) -> None:
    target = institution.target
    sor_codes = identifier_values(target.identifiers, SOR_SYSTEM)
    if not sor_codes:
        if target.problem and not target.identifiers:
            why = target.problem
        else:
            shown = ", ".join(f"{i.get('system')}|{i.get('value')}" for i in target.identifiers) or "none"
            why = f"its identifiers are {shown}"
        findings.violation(RuleGroup.AUTHOR, rule="dk-xds-author-institution", code="value",
                           expression=institution.expression,
                           diagnostics=f"the author institution is not identified by SOR code: {why}; DK XDS "
                                       f"requires an identifier with system {SOR_SYSTEM} (not CVR or a local "
                                       "id)",
                           source=SOURCE_AUTHOR)
        return
    for code in sor_codes:
        if not _SOR_CODE.match(code):
            findings.violation(RuleGroup.AUTHOR, rule="dk-xds-author-institution", code="value",
                               expression=institution.expression,
                               diagnostics=f"SOR code '{code}' of the author institution is malformed: SOR "
                                           "codes are digits only, at least 11 of them",
                               source=SOURCE_SOR_FORMAT)
