"""ITI-18 Registry Stored Query through HTTP as a vendor calls it (DGWS + HSUID), against documents
provided through the MHD face (ITI-65): one store, two doors. The ebRIM form of the stored
metadata (ITI TF-3 §4.2.3; MHD mapping), the parameters of FindDocuments and GetDocuments, and
the answers to what a registry must refuse (ITI TF-2 §3.18.4.1.3)."""

from __future__ import annotations

import hashlib

import pytest
from fastapi.testclient import TestClient
from read_support import GRETHE, as_gp, metadata, provide, provide_years, unique_id
from xds_support import (
    adhoc,
    cx,
    external_id,
    find_documents,
    objects,
    payload,
    quoted,
    registry_errors,
    slot,
    status_word,
    unique_ids,
)

from nsp_sandbox.mhd_source import Coding
from nsp_sandbox.xds import vocabulary as v
from services.dds.xds.iti18 import SETTING, accepted_queries

CLASS_001 = "001^^1.2.208.184.100.9"


def classification(entry, scheme: str):  # type: ignore[no-untyped-def]
    found = [c for c in entry.findall("{urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0}Classification")
             if c.get("classificationScheme") == scheme]
    return found


def coded(entry, scheme: str) -> list[tuple[str, list[str]]]:  # type: ignore[no-untyped-def]
    return [(c.get("nodeRepresentation"), slot(c, "codingScheme")) for c in classification(entry, scheme)]


def test_a_document_provided_through_mhd_as_ebrim(client: TestClient) -> None:
    provide_years(client)
    answer = payload(as_gp(client, find_documents(GRETHE)))
    assert status_word(answer) == "Success" and answer.get("totalResultCount") == "2"
    entry = next(o for o in objects(answer, "ExtrinsicObject")
                 if external_id(o, v.DE_UNIQUE_ID) == unique_id(GRETHE, 2))
    assert entry.get("status") == v.STATUS_APPROVED and entry.get("objectType") == v.DOCUMENT_ENTRY_STABLE
    assert entry.get("mimeType") == "text/xml" and entry.get("home") == "urn:oid:1.2.208.176.43210.8.10"
    assert entry.get("id") == entry.get("lid") and entry.get("id", "").startswith("urn:uuid:")
    assert external_id(entry, v.DE_PATIENT_ID) == cx(GRETHE)
    content = f'<prøvesvar nr="2">{GRETHE}</prøvesvar>'.encode()
    assert slot(entry, "hash") == [hashlib.sha1(content).hexdigest()] and slot(entry, "size") == [str(len(content))]
    assert slot(entry, "repositoryUniqueId") == ["1.2.208.176.43210.8.10.11"]
    assert slot(entry, "creationTime") == ["20260401080000"]
    assert slot(entry, "serviceStartTime") == ["20260401080000"]
    assert slot(entry, "serviceStopTime") == ["20260402080000"]
    assert slot(entry, "languageCode") == ["da"]
    assert slot(entry, "sourcePatientId") == [cx(GRETHE)]
    assert slot(entry, "sourcePatientInfo") == [f"PID-3|{cx(GRETHE)}", "PID-5|KGBTest^Grethe", "PID-7|19630206",
                                                "PID-8|F"]
    assert coded(entry, v.DE_CLASS_CODE) == [("001", ["1.2.208.184.100.9"])]
    assert coded(entry, v.DE_TYPE_CODE) == [("HCOM", ["1.2.208.184.100.1"])]
    assert coded(entry, v.DE_CONFIDENTIALITY_CODE) == [("N", ["2.16.840.1.113883.5.25"])]
    assert coded(entry, v.DE_HEALTHCARE_FACILITY_TYPE_CODE) == [("550621000005101", ["2.16.840.1.113883.6.96"])]
    assert coded(entry, v.DE_PRACTICE_SETTING_CODE) == [("658161000005107", ["2.16.840.1.113883.6.96"])]
    assert coded(entry, v.DE_FORMAT_CODE) == [("urn:ad:dk:medcom:msg:hco-v1.2:full", ["1.2.208.184.100.10"])]
    [author] = classification(entry, v.DE_AUTHOR)
    assert slot(author, "authorInstitution") == ["Aarhus Kommune^^^^^&1.2.208.176.1.1&ISO^^^^937961000016000"]
    title = entry.find("{urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0}Name/"
                       "{urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0}LocalizedString")
    assert title is not None and title.get("value") == "Kommunale prøvesvar 2"


def test_object_refs(client: TestClient) -> None:
    provide_years(client)
    answer = payload(as_gp(client, find_documents(GRETHE, return_type="ObjectRef")))
    refs = objects(answer, "ObjectRef")
    assert len(refs) == 2 and all(r.get("id", "").startswith("urn:uuid:") for r in refs)
    assert objects(answer, "ExtrinsicObject") == []


def test_find_documents_parameters(client: TestClient) -> None:
    provide_years(client)

    def found(**slots: list[str]) -> list[str]:
        answer = payload(as_gp(client, find_documents(GRETHE, **slots)))
        assert status_word(answer) == "Success", registry_errors(answer)
        return sorted(u[-2:] for u in unique_ids(answer))

    assert found(ClassCode=[quoted(CLASS_001)]) == ["01", "02"]
    assert found(ClassCode=[quoted("001^^1.2.3.4")]) == []
    assert found(TypeCode=[quoted("HCOM^^1.2.208.184.100.1", "X^^1.2")]) == ["01", "02"]
    assert found(ConfidentialityCode=[quoted("N^^2.16.840.1.113883.5.25")]) == ["01", "02"]
    assert found(ServiceStartTimeFrom=["20250101"]) == ["02"]
    assert found(ServiceStartTimeTo=["20250101"]) == ["01"]
    assert found(ServiceStopTimeTo=["20260402080000"]) == ["01"]  # To is exclusive
    assert found(ServiceStopTimeTo=["20260402080001"]) == ["01", "02"]
    assert found(CreationTimeFrom=["20240301090000"], CreationTimeTo=["20240301090001"]) == ["01"]
    assert found(Type=[quoted(v.DOCUMENT_ENTRY_ON_DEMAND)]) == []
    assert found(Type=[quoted(v.DOCUMENT_ENTRY_STABLE, v.DOCUMENT_ENTRY_ON_DEMAND)]) == ["01", "02"]
    assert found(HealthcareFacilityTypeCode=[quoted("550621000005101^^2.16.840.1.113883.6.96")]) == ["01", "02"]
    assert found(PracticeSettingCode=[quoted("408443003^^2.16.840.1.113883.6.96")]) == []


def test_a_replacement_shows_deprecated_with_its_rplc(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    [old] = provide(client, metadata(1))
    provide(client, metadata(2), replaces={unique_id(GRETHE, 2): old})
    assert unique_ids(payload(as_gp(client, find_documents(GRETHE)))) == [unique_id(GRETHE, 2)]
    both = payload(as_gp(client, find_documents(GRETHE, statuses=("Approved", "Deprecated"))))
    status = {external_id(o, v.DE_UNIQUE_ID): o.get("status") for o in objects(both, "ExtrinsicObject")}
    assert status == {unique_id(GRETHE, 1): v.STATUS_DEPRECATED, unique_id(GRETHE, 2): v.STATUS_APPROVED}
    uuids = {external_id(o, v.DE_UNIQUE_ID): o.get("id") for o in objects(both, "ExtrinsicObject")}
    monkeypatch.setenv("NSP_SANDBOX_XDS_STORED_QUERIES", "all")
    answer = payload(as_gp(client, adhoc("GetDocumentsAndAssociations", {
        "$XDSDocumentEntryUniqueId": [quoted(unique_id(GRETHE, 2))]})))
    rplc = [a for a in objects(answer, "Association") if a.get("associationType") == v.ASSOC_RPLC]
    assert [(a.get("sourceObject"), a.get("targetObject")) for a in rplc] == [
        (uuids[unique_id(GRETHE, 2)], uuids[unique_id(GRETHE, 1)])]
    members = [a for a in objects(answer, "Association") if a.get("associationType") == v.ASSOC_HAS_MEMBER]
    assert [a.get("targetObject") for a in members] == [uuids[unique_id(GRETHE, 2)]]
    assert slot(members[0], "SubmissionSetStatus") == ["Original"]
    related = payload(as_gp(client, adhoc("GetRelatedDocuments", {
        "$XDSDocumentEntryEntryUUID": [quoted(uuids[unique_id(GRETHE, 1)])],
        "$AssociationTypes": [quoted(v.ASSOC_RPLC)]})))
    assert sorted(unique_ids(related)) == [unique_id(GRETHE, 1), unique_id(GRETHE, 2)]


def test_get_documents_by_unique_id_and_uuid(client: TestClient) -> None:
    provide_years(client)
    by_unique_id = {"$XDSDocumentEntryUniqueId": [quoted(unique_id(GRETHE, 1))]}
    answer = payload(as_gp(client, adhoc("GetDocuments", by_unique_id)))
    [entry] = objects(answer, "ExtrinsicObject")
    assert external_id(entry, v.DE_UNIQUE_ID) == unique_id(GRETHE, 1)
    again = payload(as_gp(client, adhoc("GetDocuments", {"$XDSDocumentEntryEntryUUID": [quoted(entry.get("id"))]})))
    assert unique_ids(again) == [unique_id(GRETHE, 1)]


def test_submission_set_queries_when_accepted(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    provide_years(client)
    refused = payload(as_gp(client, adhoc("FindSubmissionSets", {
        "$XDSSubmissionSetPatientId": [f"'{cx(GRETHE)}'"],
        "$XDSSubmissionSetStatus": [quoted(v.STATUS_APPROVED)]})))
    assert status_word(refused) == "Failure"
    [(code, severity, context)] = registry_errors(refused)
    assert severity == "Error"
    assert code == "XDSRegistryError" and "not supported" in context and "NSP_SANDBOX_XDS_STORED_QUERIES" in context
    monkeypatch.setenv("NSP_SANDBOX_XDS_STORED_QUERIES", "FindDocuments, FindSubmissionSets,GetAll,"
                       "GetSubmissionSetAndContents,FindFolders")
    sets = payload(as_gp(client, adhoc("FindSubmissionSets", {
        "$XDSSubmissionSetPatientId": [f"'{cx(GRETHE)}'"],
        "$XDSSubmissionSetStatus": [quoted(v.STATUS_APPROVED)]})))
    [package] = objects(sets, "RegistryPackage")
    assert external_id(package, v.SS_PATIENT_ID) == cx(GRETHE)
    assert external_id(package, v.SS_SOURCE_ID) == "1.2.208.176.43210.8.10.99"
    assert slot(package, "submissionTime") == ["20260428080000"]
    contents = payload(as_gp(client, adhoc("GetSubmissionSetAndContents", {
        "$XDSSubmissionSetEntryUUID": [f"'{package.get('id')}'"]})))
    assert len(objects(contents, "ExtrinsicObject")) == 2 and len(objects(contents, "Association")) == 2
    everything = payload(as_gp(client, adhoc("GetAll", {
        "$patientId": [f"'{cx(GRETHE)}'"], "$XDSDocumentEntryStatus": [quoted(v.STATUS_APPROVED)],
        "$XDSSubmissionSetStatus": [quoted(v.STATUS_APPROVED)], "$XDSFolderStatus": [quoted(v.STATUS_APPROVED)]})))
    assert (len(objects(everything, "RegistryPackage")), len(objects(everything, "ExtrinsicObject")),
            len(objects(everything, "Association"))) == (1, 2, 2)
    folders = payload(as_gp(client, adhoc("FindFolders", {
        "$XDSFolderPatientId": [f"'{cx(GRETHE)}'"], "$XDSFolderStatus": [quoted(v.STATUS_APPROVED)]})))
    assert status_word(folders) == "Success" and objects(folders, "RegistryPackage") == []


@pytest.mark.parametrize(("body", "code"), [
    (adhoc("urn:uuid:00000000-0000-4000-8000-000000000000", {}), "XDSUnknownStoredQuery"),
    (adhoc("FindDocuments", {"$XDSDocumentEntryPatientId": [f"'{cx(GRETHE)}'"]}), "XDSStoredQueryMissingParam"),
    (find_documents(GRETHE, Colour=["'blue'"]), "XDSStoredQueryParamNumber"),
    (adhoc("GetDocuments", {}), "XDSStoredQueryParamNumber"),
    (adhoc("FindDocuments", {"$XDSDocumentEntryPatientId": ["'0602631234'"],
                             "$XDSDocumentEntryStatus": [quoted(v.STATUS_APPROVED)]}), "XDSRegistryError"),
    (find_documents(GRETHE, ClassCode=["('001')"]), "XDSRegistryError"),
    (find_documents(GRETHE, CreationTimeFrom=["2026-04-01"]), "XDSRegistryError"),
    (find_documents(GRETHE, statuses=("Lost",)), "XDSRegistryError"),
])
def test_what_the_registry_refuses(client: TestClient, body, code: str) -> None:  # type: ignore[no-untyped-def]
    answer = payload(as_gp(client, body))
    assert status_word(answer) == "Failure"
    codes = [c for c, _, _ in registry_errors(answer)]
    assert code in codes and "XDSRegistryMetadataError" not in codes


def test_a_patient_without_documents_gives_an_empty_success(client: TestClient) -> None:
    provide(client, metadata(1, type=Coding("urn:oid:1.2.208.184.100.1", "HCOM")))
    answer = payload(as_gp(client, find_documents("2509479989")))
    assert status_word(answer) == "Success" and unique_ids(answer) == []


def test_associations_and_submission_sets_of_a_document(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    [old] = provide(client, metadata(1))
    provide(client, metadata(2), replaces={unique_id(GRETHE, 2): old})
    monkeypatch.setenv("NSP_SANDBOX_XDS_STORED_QUERIES", "all")
    both = payload(as_gp(client, find_documents(GRETHE, statuses=("Approved", "Deprecated"))))
    uuids = {external_id(o, v.DE_UNIQUE_ID): o.get("id") for o in objects(both, "ExtrinsicObject")}
    first = uuids[unique_id(GRETHE, 1)]
    associations = payload(as_gp(client, adhoc("GetAssociations", {"$uuid": [quoted(first)]})))
    kinds = sorted(a.get("associationType") for a in objects(associations, "Association"))
    assert kinds == sorted([v.ASSOC_HAS_MEMBER, v.ASSOC_RPLC])
    sets = payload(as_gp(client, adhoc("GetSubmissionSets", {"$uuid": [quoted(first)]})))
    [package] = objects(sets, "RegistryPackage")
    [member] = objects(sets, "Association")
    assert (member.get("sourceObject"), member.get("targetObject")) == (package.get("id"), first)
    folders = payload(as_gp(client, adhoc("GetFoldersForDocument", {"$XDSDocumentEntryEntryUUID": [quoted(first)]})))
    assert status_word(folders) == "Success" and objects(folders, "RegistryPackage") == []


def test_the_accepted_queries_setting() -> None:
    assert accepted_queries({}) == {"FindDocuments", "GetDocuments"}
    assert accepted_queries({SETTING: "all"}) == set(v.STORED_QUERIES_BY_NAME)
    assert accepted_queries({SETTING: " GetAll , Nonsense,FindFolders"}) == {"GetAll", "FindFolders"}
