"""The Danish XDS metadata rules on DocumentReferences and SubmissionSets.

Every DocumentReference here is the HCO DocumentReference example of the ``medcom.fhir.dk.xdsdocuments``
package, deep-copied and changed in one respect per case; the codes come from the loaded packages.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Any

import pytest

from nsp_sandbox.config import Settings, Strictness
from nsp_sandbox.conformance.packages import PackageRegistry
from nsp_sandbox.conformance.terminology import Terminology
from nsp_sandbox.outcome import Issue
from services.dds.metadata_rules import check_document_reference, check_submission_set

EXAMPLE = "DocumentReference-16002002-ac41-45de-ad6b-eb02b098e859.json"
PREFIX = "Bundle.entry[1].resource"
CPR = "urn:oid:1.2.208.176.1.2"
SOR = "urn:oid:1.2.208.176.1.1"
XDSMETADATA_VS = "http://medcomfhir.dk/ig/xdsmetadata/ValueSet/"
XDSDOCUMENTS_VS = "http://medcomfhir.dk/ig/xdsdocuments/ValueSet/"
HOME_COMMUNITY_EXT = "http://medcomfhir.dk/ig/document/StructureDefinition/medcom-document-homecommunityid-extension"
MHD_LIST_TYPES = "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes"
MHD_AUTHOR_ORG = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-authorOrg"

Doc = dict[str, Any]


@pytest.fixture(scope="module")
def terminology(packages: PackageRegistry) -> Terminology:
    return Terminology(packages)


@pytest.fixture(scope="module")
def example_dr(packages: PackageRegistry) -> Doc:
    package = packages.get("medcom.fhir.dk.xdsdocuments")
    assert package is not None, "medcom.fhir.dk.xdsdocuments is not loaded"
    return dict(package.examples())[EXAMPLE]


@pytest.fixture
def dr(example_dr: Doc) -> Doc:
    return copy.deepcopy(example_dr)


def strict(settings: Settings, **levels: Strictness) -> Settings:
    return settings.model_copy(update=levels)


def check(dr: Doc, terminology: Terminology, settings: Settings) -> list[Issue]:
    return check_document_reference(dr, terminology=terminology, settings=settings, expression_prefix=PREFIX)


def summary(issues: list[Issue]) -> list[tuple[str | None, str | None, str]]:
    return sorted((i.rule, i.expression, i.severity) for i in issues)


# ---- helpers that change one thing in the example ------------------------------------------------


def contained(dr: Doc, resource_type: str) -> Doc:
    return next(c for c in dr["contained"] if c["resourceType"] == resource_type)


def set_cpr(value: str) -> Callable[[Doc], None]:
    def change(dr: Doc) -> None:
        contained(dr, "Patient")["identifier"] = [{"system": CPR, "value": value}]
        dr["context"]["sourcePatientInfo"]["identifier"]["value"] = value
    return change


def set_path(path: str, value: Any) -> Callable[[Doc], None]:
    """Set a dotted path (``content.0.attachment.title``); ``...`` as value deletes it."""
    def change(dr: Doc) -> None:
        *parents, last = path.split(".")
        node: Any = dr
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        key: Any = int(last) if last.isdigit() else last
        if value is ...:
            del node[key]
        else:
            node[key] = value
    return change


def all_of(*changes: Callable[[Doc], None]) -> Callable[[Doc], None]:
    def change(dr: Doc) -> None:
        for c in changes:
            c(dr)
    return change


def with_organization_identifiers(identifiers: list[Doc]) -> Callable[[Doc], None]:
    def change(dr: Doc) -> None:
        contained(dr, "Organization")["identifier"] = identifiers
    return change


def only_practitioner_author(dr: Doc) -> None:
    dr["author"] = [a for a in dr["author"] if a["reference"] != "#" + contained(dr, "Organization")["id"]]


def organization_by_identifier(dr: Doc) -> None:
    org = contained(dr, "Organization")
    dr["contained"].remove(org)
    dr["author"][0] = {"type": "Organization", "identifier": org["identifier"][0]}


def subject_by_identifier(dr: Doc) -> None:
    dr["subject"] = {"identifier": {"system": CPR, "value": "0602631234"}}


def source_patient_other_cpr(dr: Doc) -> None:
    dr["context"]["sourcePatientInfo"] = {"identifier": {"system": CPR, "value": "0707614285"}}


def home_community_id(code: str) -> Callable[[Doc], None]:
    def change(dr: Doc) -> None:
        dr["extension"].append({"url": HOME_COMMUNITY_EXT,
                                "valueCoding": {"system": "urn:oid:1.2.208.176.8.1", "code": code}})
    return change


N = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "N"}]}
R = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}]}
E, W = "error", "warning"

# (case id, change, expected (rule, expression under the resource, severity) with default strictness)
CASES: list[tuple[str, Callable[[Doc], None], list[tuple[str, str, str]]]] = [
    # patient by CPR
    ("cpr-letters", set_cpr("06026312AB"), [("dk-xds-patient-cpr", "subject", E),
                                            ("dk-xds-source-patient", "context.sourcePatientInfo", E)]),
    ("cpr-9-digits", set_cpr("060263123"), [("dk-xds-patient-cpr", "subject", E),
                                            ("dk-xds-source-patient", "context.sourcePatientInfo", E)]),
    ("cpr-31-february", set_cpr("3102631234"), [("dk-xds-patient-cpr", "subject", E),
                                                ("dk-xds-source-patient", "context.sourcePatientInfo", E)]),
    ("cpr-failing-modulus-11-accepted", set_cpr("1503801235"), []),
    ("cpr-other-system", set_path("contained.0.identifier.0.system", "urn:oid:1.2.208.176.1.6.1.1"),
     [("dk-xds-patient-cpr", "subject", E)]),
    ("subject-missing", set_path("subject", ...), [("dk-xds-patient-cpr", "subject", E)]),
    ("subject-by-identifier", subject_by_identifier, []),
    ("subject-conditional-reference",
     set_path("subject", {"reference": f"Patient?identifier={CPR}|0602631234"}), []),
    ("subject-patient-id-is-cpr", set_path("subject", {"reference": "https://dds.test/Patient/0602631234"}), []),
    ("subject-patient-id-not-cpr", set_path("subject", {"reference": "https://pdq.example/Patient/17"}),
     [("dk-xds-patient-cpr", "subject", E)]),
    ("subject-bundle-entry", set_path("subject", {"reference": "urn:uuid:3b3e1b0c-8d2f-4c55-9a43-1f7c1d7e2a10"}),
     [("dk-xds-patient-cpr", "subject", E)]),
    ("subject-not-a-patient", set_path("subject", {"reference": "#a7e61c7a-c2e7-40a5-ba9f-58d44cc2f6e1"}),
     [("dk-xds-patient-cpr", "subject", E)]),
    ("source-patient-other-cpr", source_patient_other_cpr,
     [("dk-xds-source-patient", "context.sourcePatientInfo", E)]),
    ("source-patient-two-cprs", set_path("context.sourcePatientInfo.identifier.value", "0707614285"),
     [("dk-xds-source-patient", "context.sourcePatientInfo", E)]),
    ("source-patient-missing", set_path("context.sourcePatientInfo", ...),
     [("dk-xds-source-patient", "context.sourcePatientInfo", E)]),
    ("source-patient-with-address",
     set_path("contained.0.address", [{"line": ["Testvej 1"], "city": "Aarhus"}]),
     [("dk-xds-source-patient-info", "context.sourcePatientInfo", E)]),
    # uniqueId, entryUUID
    ("unique-id-missing", set_path("masterIdentifier", ...), [("dk-xds-unique-id", "masterIdentifier", E)]),
    ("unique-id-local", set_path("masterIdentifier", {"system": "https://systematic.dk/columna/cura",
                                                      "value": "12345"}),
     [("dk-xds-unique-id", "masterIdentifier.value", E)]),
    ("unique-id-root-and-extension", set_path("masterIdentifier", {"system": "urn:oid:1.2.208.184",
                                                                   "value": "aa2386d0-79ea-11e3-981f"}), []),
    ("unique-id-oid", set_path("masterIdentifier", {"system": "urn:ietf:rfc:3986",
                                                    "value": "urn:oid:1.2.208.184.1.2.3"}), []),
    ("entry-uuid-version-1", set_path("identifier.0.value", "urn:uuid:16002002-ac41-11ed-ad6b-eb02b098e859"),
     [("dk-xds-entry-uuid", "identifier[0].value", E)]),
    # typeCode, classCode, formatCode
    ("type-unknown", set_path("type.coding.0.code", "XYZ"), [("dk-xds-type-code-valueset", "type.coding[0]", E)]),
    ("type-missing", set_path("type", ...), [("dk-xds-type-code", "type", E)]),
    ("type-loinc-from-national-list", set_path("type.coding", [{"system": "http://loinc.org", "code": "11502-2"}]),
     []),
    ("class-unknown", set_path("category.0.coding.0.code", "999"),
     [("dk-xds-class-code-valueset", "category[0].coding[0]", E)]),
    ("class-as-oid", set_path("category.0.coding.0.system", "urn:oid:1.2.208.184.100.9"), []),
    ("class-without-system", set_path("category.0.coding.0.system", ...),
     [("dk-xds-class-code-valueset", "category[0].coding[0]", E)]),
    ("class-twice", lambda dr: dr["category"].append(copy.deepcopy(dr["category"][0])),
     [("dk-xds-class-code", "category", E)]),
    ("class-missing", set_path("category", ...), [("dk-xds-class-code", "category", E)]),
    ("format-unknown", set_path("content.0.format.code", "urn:ad:dk:medcom:msg:hco-v9.9:full"),
     [("dk-xds-format-code-valueset", "content[0].format", E)]),
    ("format-v1.1", set_path("content.0.format.code", "urn:ad:dk:medcom:msg:hco-v1.1:full"), []),
    ("format-missing", set_path("content.0.format", ...), [("dk-xds-format-code", "content[0].format", E)]),
    # confidentialityCode
    ("confidentiality-R", set_path("securityLabel", [R]),
     [("dk-xds-confidentiality-code-valueset", "securityLabel[0].coding[0]", E)]),
    ("confidentiality-as-oid", set_path("securityLabel.0.coding.0.system", "urn:oid:2.16.840.1.113883.5.25"), []),
    ("two-security-labels", set_path("securityLabel", [N, copy.deepcopy(N)]),
     [("dk-xds-confidentiality-code", "securityLabel", E)]),
    ("security-label-missing", set_path("securityLabel", ...),
     [("dk-xds-confidentiality-code", "securityLabel", E)]),
    # facility, practice setting
    ("facility-unknown", set_path("context.facilityType.coding.0.code", "22232009999"),
     [("dk-xds-facility-type-code-valueset", "context.facilityType.coding[0]", E)]),
    ("facility-hospital-as-oid", set_path("context.facilityType.coding", [
        {"system": "urn:oid:2.16.840.1.113883.6.96", "code": "22232009"}]), []),
    ("facility-missing", set_path("context.facilityType", ...),
     [("dk-xds-facility-type-code", "context.facilityType", E)]),
    ("practice-setting-unknown", set_path("context.practiceSetting.coding.0.code", "1234"),
     [("dk-xds-practice-setting-code-valueset", "context.practiceSetting.coding[0]", E)]),
    ("practice-setting-missing", set_path("context.practiceSetting", ...),
     [("dk-xds-practice-setting-code", "context.practiceSetting", E)]),
    # attachment
    ("mime-type-pdf", set_path("content.0.attachment.contentType", "application/pdf"),
     [("dk-xds-mime-type-valueset", "content[0].attachment.contentType", E)]),
    ("mime-type-missing", set_path("content.0.attachment.contentType", ...),
     [("dk-xds-mime-type", "content[0].attachment.contentType", E)]),
    ("language-da-DK", set_path("content.0.attachment.language", "da-DK"), []),
    ("language-en", set_path("content.0.attachment.language", "en"),
     [("dk-xds-language-code-valueset", "content[0].attachment.language", E)]),
    ("language-missing", set_path("content.0.attachment.language", ...),
     [("dk-xds-language-code", "content[0].attachment.language", E)]),
    ("creation-without-time-zone", set_path("content.0.attachment.creation", "2026-04-28T10:15:52"),
     [("dk-xds-creation-time", "content[0].attachment.creation", E)]),
    ("creation-date-only", set_path("content.0.attachment.creation", "2026-04-28"),
     [("dk-xds-creation-time", "content[0].attachment.creation", E)]),
    ("creation-utc", set_path("content.0.attachment.creation", "2026-04-28T08:15:52Z"), []),
    ("creation-impossible-date", set_path("content.0.attachment.creation", "2026-02-30T10:15:52+02:00"),
     [("dk-xds-creation-time", "content[0].attachment.creation", E)]),
    ("creation-missing", set_path("content.0.attachment.creation", ...),
     [("dk-xds-creation-time", "content[0].attachment.creation", E)]),
    ("title-missing", set_path("content.0.attachment.title", ...),
     [("dk-xds-title", "content[0].attachment.title", E)]),
    ("title-blank", set_path("content.0.attachment.title", "  "),
     [("dk-xds-title", "content[0].attachment.title", E)]),
    ("title-127-characters", set_path("content.0.attachment.title", "x" * 127), []),
    ("title-128-characters", set_path("content.0.attachment.title", "x" * 128),
     [("dk-xds-title", "content[0].attachment.title", E)]),
    ("attachment-missing", set_path("content.0.attachment", ...), [("dk-xds-content", "content[0].attachment", E)]),
    # service period
    ("period-ends-before-start", set_path("context.period.end", "2026-04-28T09:00:00+02:00"),
     [("dk-xds-service-time", "context.period", E)]),
    ("period-same-instant-other-zone", set_path("context.period.end", "2026-04-28T08:15:52Z"), []),
    ("period-time-without-zone", set_path("context.period.start", "2026-04-28T10:15:52"),
     [("dk-xds-service-time", "context.period.start", E)]),
    ("period-dates-only", set_path("context.period", {"start": "2026-04-27", "end": "2026-04-28"}), []),
    ("period-dates-reversed", set_path("context.period", {"start": "2026-04-29", "end": "2026-04-28"}),
     [("dk-xds-service-time", "context.period", E)]),
    # homeCommunityId
    ("home-community-common-domain", home_community_id("1.2.208.176.8.1"), []),
    ("home-community-unknown", home_community_id("1.2.3.4"),
     [("dk-xds-home-community-id-valueset", "extension[1].valueCoding", E)]),
    # author institution by SOR
    ("author-missing", set_path("author", ...), [("dk-xds-author", "author", E)]),
    ("author-institution-by-cvr", with_organization_identifiers([{"system": "http://cvr.dk", "value": "29189919"}]),
     [("dk-xds-author-institution", "author[0]", E)]),
    ("author-institution-sor-malformed", with_organization_identifiers([{"system": SOR, "value": "SOR-9379"}]),
     [("dk-xds-author-institution", "author[0]", E)]),
    ("author-without-institution", only_practitioner_author, [("dk-xds-author-institution", "author", E)]),
    ("author-institution-by-identifier", organization_by_identifier, []),
    ("author-institution-unresolvable", set_path("author.0", {"reference": "Organization/aarhus"}),
     [("dk-xds-author-institution", "author[0]", E)]),
]


def test_the_example_follows_every_rule(dr: Doc, terminology: Terminology, settings_base: Settings) -> None:
    assert check(dr, terminology, settings_base) == []


@pytest.mark.parametrize(("change", "expected"), [(c, e) for _, c, e in CASES], ids=[i for i, _, _ in CASES])
def test_rule(dr: Doc, terminology: Terminology, settings_base: Settings,
              change: Callable[[Doc], None], expected: list[tuple[str, str, str]]) -> None:
    change(dr)
    issues = check(dr, terminology, settings_base)
    assert summary(issues) == sorted((rule, f"{PREFIX}.{expr}", sev) for rule, expr, sev in expected)
    for issue in issues:
        assert issue.source and issue.diagnostics
        assert issue.ihe_code in ("XDSRegistryMetadataError", "XDSUnknownPatientId", "XDSPatientIdDoesNotMatch")


def test_every_finding_is_reported_at_once(dr: Doc, terminology: Terminology, settings_base: Settings) -> None:
    all_of(set_cpr("3102631234"), set_path("type.coding.0.code", "XYZ"),
           set_path("content.0.attachment.title", ...), set_path("securityLabel", [R]),
           with_organization_identifiers([{"system": "http://cvr.dk", "value": "29189919"}]))(dr)
    rules = {i.rule for i in check(dr, terminology, settings_base)}
    assert rules == {"dk-xds-patient-cpr", "dk-xds-source-patient", "dk-xds-type-code-valueset", "dk-xds-title",
                     "dk-xds-confidentiality-code-valueset", "dk-xds-author-institution"}


def test_ihe_codes_for_patient_findings(dr: Doc, terminology: Terminology, settings_base: Settings) -> None:
    source_patient_other_cpr(dr)
    [mismatch] = check(dr, terminology, settings_base)
    assert mismatch.ihe_code == "XDSPatientIdDoesNotMatch"
    assert "0707614285" in mismatch.diagnostics and "0602631234" in mismatch.diagnostics

    set_cpr("060263123")(dr)
    dr["context"]["sourcePatientInfo"] = {"reference": "#" + contained(dr, "Patient")["id"]}
    [bad] = check(dr, terminology, settings_base)[:1]
    assert bad.ihe_code == "XDSUnknownPatientId"
    assert "060263123" in bad.diagnostics and "9 digits" in bad.diagnostics

    del dr["subject"]
    missing = [i for i in check(dr, terminology, settings_base) if i.expression == f"{PREFIX}.subject"]
    assert [i.ihe_code for i in missing] == ["XDSRegistryMetadataError"]


def test_unknown_code_names_code_system_and_value_sets(dr: Doc, terminology: Terminology,
                                                       settings_base: Settings) -> None:
    set_path("type.coding.0.code", "XYZ")(dr)
    [issue] = check(dr, terminology, settings_base)
    assert issue.code == "code-invalid"
    assert "urn:oid:1.2.208.184.100.1|XYZ" in issue.diagnostics
    for url in (XDSMETADATA_VS + "MedCom-ihe-core-typecode-VS", XDSDOCUMENTS_VS + "MedComHCOTypeCodeVS"):
        expansion = terminology.expand(url)
        assert expansion is not None and expansion.version
        assert expansion.label in issue.diagnostics
        assert expansion.label in (issue.source or "")
    assert "HCOM" in issue.diagnostics  # what would have been allowed


def test_a_code_is_judged_by_its_attribute_and_system_wherever_it_stands(dr: Doc, terminology: Terminology,
                                                                          settings_base: Settings) -> None:
    """The same unknown code, sent again, as a second coding, and as the classCode with the same system: each gets
    the finding of its own attribute at its own place."""
    set_path("type.coding.0.code", "XYZ")(dr)
    [first] = check(dr, terminology, settings_base)
    dr["type"]["coding"].append(copy.deepcopy(dr["type"]["coding"][0]))
    dr["category"][0]["coding"][0] = copy.deepcopy(dr["type"]["coding"][0])
    again = check(dr, terminology, settings_base)
    assert [(i.rule, i.expression) for i in again] == [
        ("dk-xds-type-code-valueset", f"{PREFIX}.type.coding[0]"),
        ("dk-xds-type-code-valueset", f"{PREFIX}.type.coding[1]"),
        ("dk-xds-class-code-valueset", f"{PREFIX}.category[0].coding[0]"),
    ]
    type_findings = [i for i in again if i.rule == "dk-xds-type-code-valueset"]
    assert {i.diagnostics for i in type_findings} == {first.diagnostics}
    [class_finding] = [i for i in again if i.rule == "dk-xds-class-code-valueset"]
    assert class_finding.diagnostics.startswith("classCode urn:oid:1.2.208.184.100.1|XYZ is not in value set")


def test_codes_not_checkable_are_information(packages: PackageRegistry, dr: Doc, settings_base: Settings) -> None:
    """Without the xdsdocuments package the HCO type and format codes cannot be decided: not checked."""
    without_hco = PackageRegistry([p for p in packages.all_packages() if p.name != "medcom.fhir.dk.xdsdocuments"])
    issues = check(dr, Terminology(without_hco), settings_base)
    assert summary(issues) == [
        ("dk-xds-format-code-valueset", f"{PREFIX}.content[0].format", "information"),
        ("dk-xds-type-code-valueset", f"{PREFIX}.type.coding[0]", "information"),
    ]
    assert all("not loaded" in i.diagnostics and "MedComHCO" in i.diagnostics for i in issues)


def test_no_value_sets_loaded_means_nothing_passes_silently(packages: PackageRegistry, dr: Doc,
                                                            settings_base: Settings) -> None:
    bare = PackageRegistry([p for p in packages.all_packages() if not p.name.startswith("medcom.")])
    issues = check(dr, Terminology(bare), settings_base)
    assert {i.rule for i in issues} == {
        "dk-xds-type-code-valueset", "dk-xds-class-code-valueset", "dk-xds-confidentiality-code-valueset",
        "dk-xds-format-code-valueset", "dk-xds-mime-type-valueset", "dk-xds-language-code-valueset",
        "dk-xds-facility-type-code-valueset", "dk-xds-practice-setting-code-valueset"}
    assert {i.severity for i in issues} == {"information"}


def test_default_expression_prefix(dr: Doc, terminology: Terminology, settings_base: Settings) -> None:
    del dr["content"][0]["attachment"]["title"]
    [issue] = check_document_reference(dr, terminology=terminology, settings=settings_base)
    assert issue.expression == "DocumentReference.content[0].attachment.title"


def test_condition_list_example_lacks_only_the_confidentiality_system(
        packages: PackageRegistry, terminology: Terminology, settings_base: Settings) -> None:
    """The ConditionList package's DocumentReference writes its codes as OIDs (accepted) but sends
    confidentiality ``N`` without a system, which XDS cannot carry."""
    package = packages.get("medcom.fhir.dk.conditionlist")
    assert package is not None
    example = dict(package.examples())["DocumentReference-94e65db8-2f0c-4a2c-a7c9-06a160d59a12.json"]
    [issue] = check(example, terminology, settings_base)
    assert (issue.rule, issue.expression) == ("dk-xds-confidentiality-code-valueset",
                                              f"{PREFIX}.securityLabel[0].coding[0]")
    assert "no system" in issue.diagnostics


# ---- strictness ------------------------------------------------------------------------------------

GROUP_CASES = [
    ("dds_rules_patient", set_cpr("060263123"), "dk-xds-patient-cpr"),
    ("dds_rules_codes", set_path("category.0.coding.0.code", "999"), "dk-xds-class-code-valueset"),
    ("dds_rules_metadata", set_path("content.0.attachment.title", ...), "dk-xds-title"),
    ("dds_rules_author", with_organization_identifiers([{"system": "http://cvr.dk", "value": "29189919"}]),
     "dk-xds-author-institution"),
]


@pytest.mark.parametrize(("group", "change", "rule"), GROUP_CASES, ids=[g for g, _, _ in GROUP_CASES])
@pytest.mark.parametrize(("level", "severity"), [(Strictness.REJECT, E), (Strictness.WARNING, W),
                                                 (Strictness.LOG, None), (Strictness.OFF, None)])
def test_strictness_per_group(dr: Doc, terminology: Terminology, settings_base: Settings,
                              caplog: pytest.LogCaptureFixture, group: str, change: Callable[[Doc], None],
                              rule: str, level: Strictness, severity: str | None) -> None:
    change(dr)
    with caplog.at_level(logging.INFO, logger="services.dds.metadata_rules"):
        issues = check(dr, terminology, strict(settings_base, **{group: level}))
    assert {i.rule for i in issues if i.rule == rule} == ({rule} if severity else set())
    assert {i.severity for i in issues} <= ({severity} if severity else set())
    logged = [r for r in caplog.records if r.name == "services.dds.metadata_rules" and rule in r.getMessage()]
    if level is Strictness.LOG:
        assert logged and all(r.levelno == logging.WARNING for r in logged)
        assert f"{PREFIX}." in logged[0].getMessage()
    else:
        assert logged == []


def test_groups_are_independent(dr: Doc, terminology: Terminology, settings_base: Settings) -> None:
    all_of(set_cpr("060263123"), set_path("category.0.coding.0.code", "999"))(dr)
    settings = strict(settings_base, dds_rules_patient=Strictness.OFF, dds_rules_codes=Strictness.WARNING)
    assert summary(check(dr, terminology, settings)) == [
        ("dk-xds-class-code-valueset", f"{PREFIX}.category[0].coding[0]", W)]


def test_not_checked_stays_information_under_warning(packages: PackageRegistry, dr: Doc,
                                                     settings_base: Settings) -> None:
    without_hco = PackageRegistry([p for p in packages.all_packages() if p.name != "medcom.fhir.dk.xdsdocuments"])
    settings = strict(settings_base, dds_rules_codes=Strictness.WARNING)
    assert {i.severity for i in check(dr, Terminology(without_hco), settings)} == {"information"}
    assert check(dr, Terminology(without_hco), strict(settings_base, dds_rules_codes=Strictness.OFF)) == []


# ---- SubmissionSet ---------------------------------------------------------------------------------


@pytest.fixture
def submission_set(example_dr: Doc) -> Doc:
    """An MHD SubmissionSet List for the example's patient and author institution."""
    patient = contained(example_dr, "Patient")
    organization = copy.deepcopy(contained(example_dr, "Organization"))
    return {
        "resourceType": "List",
        "contained": [organization],
        "extension": [
            {"url": "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-sourceId",
             "valueIdentifier": {"value": "urn:oid:1.2.208.176.43210.8.10"}},
            {"url": MHD_AUTHOR_ORG, "valueReference": {"reference": "#" + organization["id"]}},
        ],
        "identifier": [
            {"use": "usual", "system": "urn:ietf:rfc:3986", "value": "urn:oid:1.2.208.176.43210.8.10.1.7"},
            {"use": "official", "system": "urn:ietf:rfc:3986",
             "value": "urn:uuid:8d6e3c2a-5f41-4b7e-9c1d-2a3b4c5d6e7f"},
        ],
        "status": "current",
        "mode": "working",
        "code": {"coding": [{"system": MHD_LIST_TYPES, "code": "submissionset"}]},
        "subject": {"identifier": copy.deepcopy(patient["identifier"][0])},
        "date": "2026-04-28T10:16:03+02:00",
        "entry": [{"item": {"reference": "urn:uuid:16002002-ac41-45de-ad6b-eb02b098e859"}}],
    }


def check_set(submission_set: Doc, terminology: Terminology, settings: Settings) -> list[Issue]:
    return check_submission_set(submission_set, terminology=terminology, settings=settings,
                                expression_prefix="Bundle.entry[0].resource")


SET_CASES: list[tuple[str, Callable[[Doc], None], list[tuple[str, str, str]]]] = [
    ("valid", lambda ss: None, []),
    ("mhd-3-list-type-system", set_path("code.coding.0.system", MHD_LIST_TYPES.replace("https:", "http:")), []),
    ("folder-code", set_path("code.coding.0.code", "folder"), [("dk-xds-submissionset-code", "code", E)]),
    ("code-missing", set_path("code", ...), [("dk-xds-submissionset-code", "code", E)]),
    ("subject-bad-cpr", set_path("subject.identifier.value", "3102631234"), [("dk-xds-patient-cpr", "subject", E)]),
    ("subject-missing", set_path("subject", ...), [("dk-xds-patient-cpr", "subject", E)]),
    ("date-without-zone", set_path("date", "2026-04-28T10:16:03"), [("dk-xds-submission-time", "date", E)]),
    ("date-without-seconds", set_path("date", "2026-04-28T10:16+02:00"), [("dk-xds-submission-time", "date", E)]),
    ("date-missing", set_path("date", ...), [("dk-xds-submission-time", "date", E)]),
    ("author-org-by-cvr", set_path("contained.0.identifier", [{"system": "http://cvr.dk", "value": "29189919"}]),
     [("dk-xds-author-institution", "extension[1].valueReference", E)]),
    ("no-author", set_path("extension", [{"url": "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-sourceId",
                                          "valueIdentifier": {"value": "urn:oid:1.2.208.176.43210.8.10"}}]), []),
    ("entry-uuid-malformed", set_path("identifier.1.value", "urn:uuid:not-a-uuid"),
     [("dk-xds-entry-uuid", "identifier[1].value", E)]),
]


@pytest.mark.parametrize(("change", "expected"), [(c, e) for _, c, e in SET_CASES], ids=[i for i, _, _ in SET_CASES])
def test_submission_set_rule(submission_set: Doc, terminology: Terminology, settings_base: Settings,
                             change: Callable[[Doc], None], expected: list[tuple[str, str, str]]) -> None:
    change(submission_set)
    issues = check_set(submission_set, terminology, settings_base)
    assert summary(issues) == sorted((r, f"Bundle.entry[0].resource.{e}", s) for r, e, s in expected)


def test_submission_set_default_prefix_and_strictness(submission_set: Doc, terminology: Terminology,
                                                      settings_base: Settings) -> None:
    submission_set["date"] = "2026-04-28"
    settings = strict(settings_base, dds_rules_metadata=Strictness.WARNING)
    [issue] = check_submission_set(submission_set, terminology=terminology, settings=settings)
    assert (issue.expression, issue.severity) == ("List.date", W)
