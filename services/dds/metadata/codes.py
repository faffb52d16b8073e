"""Coded XDS attributes checked against the national value sets loaded from the MedCom packages.

Which value sets apply is named here by canonical URL only; their codes are always read from the
loaded packages at run time (the lists are still moving, so nothing is copied into the code). An
attribute is accepted when its code is in *any* of its value sets:

* the Danish XDS metadata value set (``medcom.fhir.dk.xdsmetadata``, "Dk Terminology for XDS
  Metadata"; codes systems written as OIDs, as in XDS);
* the value set the MedCom DocumentReference profiles bind (``medcom.fhir.dk.document`` 2.0.x
  ``…-VS-TEMP``, code systems written as FHIR URIs);
* for typeCode and formatCode also the HomeCareObservation (HCO) value sets of
  ``medcom.fhir.dk.xdsdocuments``, bound by its HCO DocumentReference profile.

A code system may be written either way (``http://snomed.info/sct`` or
``urn:oid:2.16.840.1.113883.6.96``): two systems are the same when one is named by the other's
``CodeSystem.identifier`` in the loaded packages.

A value set that is not loaded, or whose code system cannot be enumerated, gives an
"information: not checked" finding, never a silent pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nsp_sandbox.kept import kept
from services.dds.metadata.findings import Findings, RuleGroup

if TYPE_CHECKING:
    from nsp_sandbox.conformance.terminology import Expansion, Terminology

_XDSMETADATA = "http://medcomfhir.dk/ig/xdsmetadata/ValueSet/"
_DOCUMENT = "http://medcomfhir.dk/ig/document/ValueSet/"
_XDSDOCUMENTS = "http://medcomfhir.dk/ig/xdsdocuments/ValueSet/"

# Shown in full when a value set union has at most this many codes of the system sent.
_LIST_AT_MOST = 12


@dataclass(frozen=True)
class Binding:
    """An XDS attribute and the value sets its code must be in (any of them)."""

    attribute: str  # the XDS attribute, as MD096 names it
    rule: str  # rule id of the value-set check
    value_sets: tuple[str, ...]
    code_only: bool = False  # a FHIR ``code`` element: no system is sent, only the code counts


TYPE_CODE = Binding("typeCode", "dk-xds-type-code-valueset", (
    _XDSMETADATA + "MedCom-ihe-core-typecode-VS",
    _DOCUMENT + "MedCom-ihe-core-typecode-VS-TEMP",
    _XDSDOCUMENTS + "MedComHCOTypeCodeVS",
))
CLASS_CODE = Binding("classCode", "dk-xds-class-code-valueset", (
    _XDSMETADATA + "MedCom-ihe-core-classcode-VS",
    _DOCUMENT + "MedCom-ihe-core-classcode-VS-TEMP",
))
FORMAT_CODE = Binding("formatCode", "dk-xds-format-code-valueset", (
    _XDSMETADATA + "MedCom-ihe-core-formatcode-VS",
    _DOCUMENT + "MedCom-ihe-core-formatcode-VS-TEMP",
    _XDSDOCUMENTS + "MedComHCOFormatCodeVS",
))
CONFIDENTIALITY_CODE = Binding("confidentialityCode", "dk-xds-confidentiality-code-valueset", (
    _XDSMETADATA + "MedCom-ihe-core-confidentialitycode-VS",
    _DOCUMENT + "MedCom-ihe-core-confidentialitycode-VS-TEMP",
))
FACILITY_TYPE_CODE = Binding("healthcareFacilityTypeCode", "dk-xds-facility-type-code-valueset", (
    _XDSMETADATA + "MedCom-ihe-core-HealthcareFacilityTypeCode-VS",
    _DOCUMENT + "MedCom-ihe-core-HealthcareFacilityTypeCode-VS-TEMP",
))
PRACTICE_SETTING_CODE = Binding("practiceSettingCode", "dk-xds-practice-setting-code-valueset", (
    _XDSMETADATA + "MedCom-ihe-core-PracticeSettingCode-VS",
    _DOCUMENT + "MedCom-ihe-core-PracticeSettingCode-VS-TEMP",
))
MIME_TYPE = Binding("mimeType", "dk-xds-mime-type-valueset", (
    _XDSMETADATA + "MedCom-ihe-core-mimetype-VS",
    _DOCUMENT + "MedCom-ihe-core-mimetype-VS-TEMP",
), code_only=True)
LANGUAGE_CODE = Binding("languageCode", "dk-xds-language-code-valueset", (
    _XDSMETADATA + "MedCom-ihe-core-languagecode-VS",
    _DOCUMENT + "MedCom-ihe-core-languagecode-VS-TEMP",
), code_only=True)
HOME_COMMUNITY_ID = Binding("homeCommunityId", "dk-xds-home-community-id-valueset", (
    _XDSMETADATA + "MedCom-ihe-core-homeCommunityId-VS",
    _DOCUMENT + "MedCom-ihe-core-homeCommunityId-VS-TEMP",
))

ALL_BINDINGS = (TYPE_CODE, CLASS_CODE, FORMAT_CODE, CONFIDENTIALITY_CODE, FACILITY_TYPE_CODE,
                PRACTICE_SETTING_CODE, MIME_TYPE, LANGUAGE_CODE, HOME_COMMUNITY_ID)


# ---- code system names ---------------------------------------------------------------------------


class SystemNames:
    """Which code-system URIs name the same code system, from ``CodeSystem.identifier`` in the packages."""

    def __init__(self, terminology: Terminology) -> None:
        self._registry = terminology.registry
        self._names: dict[str, frozenset[str]] = {}

    def names(self, system: str) -> frozenset[str]:
        """``system`` and every URI its loaded CodeSystem is also known by (OIDs as ``urn:oid:``)."""
        known = self._names.get(system)
        if known is None:
            found = {system}
            resource = self._registry.code_system(system)
            if resource is not None:
                found.update(_identifier_uris(resource.get("identifier")))
            known = frozenset(found)
            self._names[system] = known
        return known

    def same(self, a: str, b: str) -> bool:
        return a == b or not self.names(a).isdisjoint(self.names(b))


def _identifier_uris(identifiers: Any) -> set[str]:
    out: set[str] = set()
    for ident in [identifiers] if isinstance(identifiers, dict) else identifiers or []:
        value = ident.get("value") if isinstance(ident, dict) else None
        if not isinstance(value, str):
            continue
        if value.startswith(("urn:oid:", "urn:uuid:", "http://", "https://")):
            out.add(value)
        elif value.replace(".", "").isdigit() and "." in value:
            out.add(f"urn:oid:{value}")
    return out


def system_names(terminology: Terminology) -> SystemNames:
    """The :class:`SystemNames` of ``terminology``'s packages, made once per Terminology."""
    return terminology.derived("dds-system-names", lambda: SystemNames(terminology))


# ---- membership ----------------------------------------------------------------------------------


@dataclass
class _Verdict:
    valid: bool = False
    missing: list[str] = field(default_factory=list)  # value sets not loaded
    unknown: list[str] = field(default_factory=list)  # why some value set could not answer
    checked: list[Expansion] = field(default_factory=list)


def _membership(terminology: Terminology, binding: Binding, system: str | None, code: str) -> _Verdict:
    names = system_names(terminology)
    verdict = _Verdict()
    for url in binding.value_sets:
        expansion = terminology.expand(url)
        if expansion is None:
            verdict.missing.append(url)
            continue
        verdict.checked.append(expansion)
        if system is None:
            answers = [expansion.contains(None, code)]
        else:
            systems = {system} | {s for s in expansion.systems() if names.same(system, s)}
            answers = [expansion.contains(s, code) for s in sorted(systems)]
        if True in answers:
            verdict.valid = True
            return verdict
        if None in answers:
            why = "; ".join([*expansion.open_systems.values(), *expansion.problems]) or "incomplete"
            verdict.unknown.append(f"{expansion.label}: {why}")
    return verdict


@dataclass(frozen=True)
class CodeToCheck:
    """One coded value as sent: where it is (relative FHIRPath), its system (None: none sent), its code."""

    expression: str
    system: str | None
    code: str


@dataclass(frozen=True)
class _Assessment:
    status: str  # "valid" | "invalid" | "not-checked"
    diagnostics: str = ""
    source: str = ""


def _assess(terminology: Terminology, binding: Binding, item: CodeToCheck) -> _Assessment:
    if not binding.code_only and item.system is None:
        expansions = [e for e in (terminology.expand(u) for u in binding.value_sets) if e is not None]
        systems = sorted({s for e in expansions for s in e.systems()})
        return _Assessment(
            "invalid",
            f"{binding.attribute} code '{item.code}' has no system; XDS needs the coding scheme"
            + (f" (one of: {', '.join(systems)})" if systems else ""),
            _source(binding, expansions))
    verdict = _membership(terminology, binding, item.system, item.code)
    if verdict.valid:
        return _Assessment("valid")
    shown = f"{item.system}|{item.code}" if item.system else f"'{item.code}'"
    source = _source(binding, verdict.checked)
    if verdict.missing or verdict.unknown:
        reasons = [f"value set {url} is not loaded" for url in verdict.missing] + verdict.unknown
        return _Assessment(
            "not-checked",
            f"{binding.attribute} {shown} not checked: it is in none of the loaded value sets "
            f"({', '.join(e.label for e in verdict.checked) or 'none'}), and " + "; ".join(reasons),
            source)
    return _Assessment(
        "invalid",
        f"{binding.attribute} {shown} is not in value set " + " or ".join(e.label for e in verdict.checked)
        + _allowed(terminology, verdict.checked, item.system),
        source)


def _assessed(terminology: Terminology, binding: Binding, item: CodeToCheck) -> _Assessment:
    """:func:`_assess`, kept per binding, system and code: the answer depends on nothing else, since a
    terminology's packages never change (most providers send the same few codes every time)."""
    assessments: dict[tuple[Binding, str | None, str], _Assessment] = terminology.derived("dds-code-assessments",
                                                                                         dict)
    key = (binding, item.system, item.code)
    found = assessments.get(key)
    if found is None:
        found = kept(assessments, key, _assess(terminology, binding, item), _KEPT_ASSESSMENTS)
    return found


_KEPT_ASSESSMENTS = 4096  # emptied when full: a provider could send any number of codes


def check_codes(findings: Findings, terminology: Terminology, binding: Binding,
                items: list[CodeToCheck]) -> None:
    """Record unless one of ``items`` (the codings of one attribute) is in ``binding``'s value sets.

    XDS keeps one code per attribute, so a CodeableConcept passes when any of its codings is in
    the value sets; otherwise each coding gets its own finding.
    """
    if not items or not findings.active(RuleGroup.CODES):
        return
    assessments = [(item, _assessed(terminology, binding, item)) for item in items]
    if any(a.status == "valid" for _, a in assessments):
        return
    for item, assessment in assessments:
        if assessment.status == "not-checked":
            findings.not_checked(RuleGroup.CODES, rule=binding.rule, expression=item.expression,
                                 diagnostics=assessment.diagnostics, source=assessment.source)
        else:
            findings.violation(RuleGroup.CODES, rule=binding.rule, code="code-invalid",
                               expression=item.expression, diagnostics=assessment.diagnostics,
                               source=assessment.source)


def _source(binding: Binding, expansions: list[Expansion]) -> str:
    labels = {e.url: e.label for e in expansions}
    return ", ".join(labels.get(url, url) for url in binding.value_sets)


def _allowed(terminology: Terminology, expansions: list[Expansion], system: str | None) -> str:
    """What the vendor could have sent instead: the codes of the same system, or the systems used."""
    names = system_names(terminology)
    codes: dict[tuple[str, str], str | None] = {}
    for expansion in expansions:
        for (s, c), display in expansion.codes.items():
            if system is None or names.same(system, s):
                codes.setdefault((s, c), display)
    if not codes:
        used = sorted({s for e in expansions for s in e.systems()})
        return f"; code system {system} is not used there (they use: {', '.join(used)})"
    distinct = sorted({c for _, c in codes})
    if len(distinct) > _LIST_AT_MOST:
        return f"; it allows {len(distinct)} codes of this system"
    shown = []
    for c in distinct:
        display = next((d for (_, cc), d in codes.items() if cc == c and d), None)
        shown.append(f"{c} ({display})" if display else c)
    return "; allowed: " + ", ".join(shown)
