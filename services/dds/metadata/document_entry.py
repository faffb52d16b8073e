"""The Danish rules for a DocumentEntry's own attributes (everything but patient and author).

Each attribute is checked twice at most: its presence, cardinality and format (rule group
``dds_rules_metadata``, rule ``dk-xds-<attribute>``), and its code against the national value
sets (group ``dds_rules_codes``, rule ``dk-xds-<attribute>-valueset``, see
:mod:`services.dds.metadata.codes`). The FHIR ↔ XDS mapping is IHE MHD's (ITI TF MHD 4.3 /
``documentReference.fsh``): masterIdentifier ↔ uniqueId, identifier ↔ entryUUID, type ↔ typeCode,
category ↔ classCode, securityLabel ↔ confidentialityCode, content.format ↔ formatCode,
content.attachment.{contentType, language, creation, title} ↔ mimeType, languageCode,
creationTime, title, context.{facilityType, practiceSetting, period} ↔
healthcareFacilityTypeCode, practiceSettingCode, serviceStart/StopTime.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.dds.metadata import codes
from services.dds.metadata.codes import Binding, CodeToCheck
from services.dds.metadata.fhir import JsonObject, objects, text
from services.dds.metadata.findings import HCO_PROFILE, MD096, Findings, RuleGroup
from services.dds.metadata.identifiers import check_entry_uuid, check_unique_id
from services.dds.metadata.times import check_instant, check_period

if TYPE_CHECKING:
    from nsp_sandbox.conformance.terminology import Terminology

# MedCom's extension carrying the XDS homeCommunityId on a DocumentReference.
HOME_COMMUNITY_ID_EXTENSION = (
    "http://medcomfhir.dk/ig/document/StructureDefinition/medcom-document-homecommunityid-extension")
# MD096: title shorter than 128 characters.
TITLE_MAX = 127
# The system of a formatCode given as a URI (the sandbox's Notes formatCode).
RFC3986 = "urn:ietf:rfc:3986"
NOTES_FORMAT_SOURCE = ("nsp-sandbox Notes formatCode (settings.dds_notes_format_code; docs/dds.md): MedCom "
                       "publishes none, the Notes composition profile canonical is used")


def check_document_entry(findings: Findings, dr: JsonObject, terminology: Terminology) -> None:
    """Every DocumentEntry attribute rule except patient and author, on DocumentReference ``dr``."""
    check_unique_id(findings, dr)
    check_entry_uuid(findings, dr)
    _home_community_id(findings, dr, terminology)
    _single_concept(findings, terminology, dr.get("type"), "type", "dk-xds-type-code", codes.TYPE_CODE,
                    repeating=False)
    _single_concept(findings, terminology, dr.get("category"), "category", "dk-xds-class-code",
                    codes.CLASS_CODE, repeating=True)
    _single_concept(findings, terminology, dr.get("securityLabel"), "securityLabel",
                    "dk-xds-confidentiality-code", codes.CONFIDENTIALITY_CODE, repeating=True,
                    one_coding=True)
    _content(findings, dr, terminology)
    _context(findings, dr, terminology)


def _metadata(findings: Findings, rule: str, expression: str, diagnostics: str, source: str,
              code: str = "required") -> None:
    """A presence / cardinality / format finding (rule group ``dds_rules_metadata``)."""
    findings.violation(RuleGroup.METADATA, rule=rule, code=code, expression=expression,
                       diagnostics=diagnostics, source=source)


def _home_community_id(findings: Findings, dr: JsonObject, terminology: Terminology) -> None:
    extensions = dr.get("extension")
    for i, ext in enumerate(extensions if isinstance(extensions, list) else []):
        if not (isinstance(ext, dict) and ext.get("url") == HOME_COMMUNITY_ID_EXTENSION):
            continue
        coding = ext.get("valueCoding")
        if not isinstance(coding, dict) or text(coding.get("code")) is None:
            _metadata(findings, "dk-xds-home-community-id", f"extension[{i}]",
                      "the homeCommunityId extension needs a valueCoding with the community's OID as code",
                      f"{MD096}: homeCommunityId")
            continue
        codes.check_codes(findings, terminology, codes.HOME_COMMUNITY_ID,
                          [CodeToCheck(f"extension[{i}].valueCoding", text(coding.get("system")), coding["code"])])


# ---- coded attributes ----------------------------------------------------------------------------


def _codings(concept: Any, expression: str) -> list[CodeToCheck]:
    out = []
    for j, coding in enumerate(objects(concept.get("coding")) if isinstance(concept, dict) else []):
        code = text(coding.get("code"))
        if code is not None:
            out.append(CodeToCheck(f"{expression}.coding[{j}]", text(coding.get("system")), code))
    return out


def _single_concept(findings: Findings, terminology: Terminology, value: Any, element: str, rule: str,
                    binding: Binding, *, repeating: bool, one_coding: bool = False) -> None:
    """A CodeableConcept attribute XDS holds exactly once: present, one occurrence, its code in the VS."""
    source = f"{MD096}: {binding.attribute}"
    concepts = objects(value) if repeating else ([value] if isinstance(value, dict) else [])
    if not concepts:
        _metadata(findings, rule, element, f"{element} ({binding.attribute}) is missing; DK XDS requires exactly one",
                  source)
        return
    if repeating and len(concepts) > 1:
        _metadata(findings, rule, element,
                  f"{element} ({binding.attribute}) occurs {len(concepts)} times; DK XDS allows exactly one",
                  source, code="invalid")
    for k, concept in enumerate(concepts):
        where = f"{element}[{k}]" if repeating else element
        items = _codings(concept, where)
        if not items:
            _metadata(findings, rule, where, f"{where} ({binding.attribute}) has no coding with a code", source)
            continue
        if one_coding and len(items) > 1:
            _metadata(findings, rule, where,
                      f"{where} ({binding.attribute}) has {len(items)} codings; DK XDS allows exactly one code",
                      source, code="invalid")
        codes.check_codes(findings, terminology, binding, items)


def _required_code(findings: Findings, terminology: Terminology, container: JsonObject, name: str,
                   where: str, rule: str, binding: Binding) -> None:
    """A plain ``code`` element (contentType, language): present and in the value set."""
    value = text(container.get(name))
    if value is None:
        _metadata(findings, rule, f"{where}.{name}",
                  f"{where}.{name} ({binding.attribute}) is missing; DK XDS requires it",
                  f"{MD096}: {binding.attribute}")
        return
    codes.check_codes(findings, terminology, binding, [CodeToCheck(f"{where}.{name}", None, value)])


# ---- content -------------------------------------------------------------------------------------


def _content(findings: Findings, dr: JsonObject, terminology: Terminology) -> None:
    contents = objects(dr.get("content"))
    if not contents:
        _metadata(findings, "dk-xds-content", "content",
                  "content is missing: the document's attachment and formatCode belong there",
                  f"{MD096}: mimeType, formatCode, creationTime, languageCode, title")
        return
    for i, content in enumerate(contents):
        where = f"content[{i}]"
        fmt = content.get("format")
        if not isinstance(fmt, dict) or text(fmt.get("code")) is None:
            _metadata(findings, "dk-xds-format-code", f"{where}.format",
                      f"{where}.format (formatCode) is missing; DK XDS requires it", f"{MD096}: formatCode")
        elif not _is_notes_format(findings, fmt, f"{where}.format"):
            codes.check_codes(findings, terminology, codes.FORMAT_CODE,
                              [CodeToCheck(f"{where}.format", text(fmt.get("system")), fmt["code"])])
        attachment = content.get("attachment")
        if not isinstance(attachment, dict):
            _metadata(findings, "dk-xds-content", f"{where}.attachment", f"{where}.attachment is missing",
                      f"{MD096}: mimeType, creationTime, languageCode, title")
            continue
        _attachment(findings, attachment, f"{where}.attachment", terminology)


def _is_notes_format(findings: Findings, fmt: JsonObject, expression: str) -> bool:
    """Whether ``fmt`` is the sandbox's Notes formatCode, which no value set holds (handled here).

    MedCom has published no formatCode for Notes (journalnotat), so the sandbox uses the Notes
    composition profile canonical with its version, as a URI: system ``urn:ietf:rfc:3986``, code
    ``settings.dds_notes_format_code`` (default
    ``http://medcomfhir.dk/ig/notes/StructureDefinition/medcom-notes-composition|1.0``). This is the one
    place that accepts it. Another version of that canonical is refused here, naming the one accepted;
    any other code goes to the value sets.
    """
    expected = findings.settings.dds_notes_format_code
    code = text(fmt.get("code"))
    if fmt.get("system") != RFC3986 or code is None:
        return False
    if code == expected:
        return True
    canonical = expected.split("|")[0]
    if code.split("|")[0] != canonical:
        return False
    findings.violation(RuleGroup.CODES, rule=codes.FORMAT_CODE.rule, code="code-invalid", expression=expression,
                       diagnostics=f"formatCode {RFC3986}|{code} is not the Notes formatCode this registry "
                                   f"accepts: {RFC3986}|{expected} (MedCom publishes no Notes formatCode; "
                                   "the sandbox uses the Notes composition profile canonical and version)",
                       source=NOTES_FORMAT_SOURCE)
    return True


def _attachment(findings: Findings, attachment: JsonObject, where: str, terminology: Terminology) -> None:
    _required_code(findings, terminology, attachment, "contentType", where, "dk-xds-mime-type", codes.MIME_TYPE)
    _required_code(findings, terminology, attachment, "language", where, "dk-xds-language-code",
                   codes.LANGUAGE_CODE)
    check_instant(findings, attachment.get("creation"), expression=f"{where}.creation", attribute="creationTime",
                  rule="dk-xds-creation-time",
                  source=f"{MD096}: creationTime (UTC, to the second); {HCO_PROFILE} invariant "
                         "medcom-datetime-has-time-offset-zulu")
    title = attachment.get("title")
    if text(title) is None:
        _metadata(findings, "dk-xds-title", f"{where}.title",
                  f"{where}.title is missing; DK XDS requires the document title (at most {TITLE_MAX} characters)",
                  f"{MD096}: title (R in DK)")
    elif len(title) > TITLE_MAX:
        _metadata(findings, "dk-xds-title", f"{where}.title",
                  f"{where}.title has {len(title)} characters; DK XDS allows fewer than 128 (at most {TITLE_MAX})",
                  f"{MD096}: title < 128 characters", code="value")


# ---- context -------------------------------------------------------------------------------------


def _context(findings: Findings, dr: JsonObject, terminology: Terminology) -> None:
    context = dr.get("context")
    context = context if isinstance(context, dict) else {}
    for name, rule, binding in (("facilityType", "dk-xds-facility-type-code", codes.FACILITY_TYPE_CODE),
                                ("practiceSetting", "dk-xds-practice-setting-code", codes.PRACTICE_SETTING_CODE)):
        where = f"context.{name}"
        items = _codings(context.get(name), where)
        if not items:
            _metadata(findings, rule, where,
                      f"{where} ({binding.attribute}) is missing or has no coded value; DK XDS requires it",
                      f"{MD096}: {binding.attribute}")
            continue
        codes.check_codes(findings, terminology, binding, items)
    if isinstance(context.get("period"), dict):
        check_period(findings, context["period"], expression="context.period", rule="dk-xds-service-time",
                     source=f"{MD096}: serviceStartTime / serviceStopTime")
