"""ITI-18 FindDocuments / GetDocuments over HTTP as a vendor calls them (DGWS + HSUID), against
documents provided through the MHD face (ITI-65): one store, two doors."""

from __future__ import annotations

from datetime import datetime

from fastapi.testclient import TestClient
from sts_client import auth
from xds_support import (
    GP,
    REGISTRY,
    SOURCE_SYSTEM,
    envelope,
    find_documents,
    idcard,
    objects,
    payload,
    post,
    professional_hsuid,
    registry_errors,
    slot,
    status_word,
    unique_ids,
)

from nsp_sandbox.mhd_source import CPR_SYSTEM, Coding, DocumentMetadata, Organisation, PatientInfo, provide_bundle
from nsp_sandbox.xds import vocabulary as v

GRETHE = "0602631234"  # listed at Skødstrup Lægepraksis (the GP has a treatment relation)
LARS = ("1203701235", "SK7T1", "52581000016005")  # gp-skodstrup: CPR, authorisation, SOR


def metadata(n: int, cpr: str = GRETHE) -> tuple[DocumentMetadata, bytes]:
    meta = DocumentMetadata(
        patient=PatientInfo(cpr, "KGBTest", ("Grethe",), "female", "1963-02-06"),
        author=Organisation("937961000016000", "Aarhus Kommune", "5790000123117"),
        unique_id=f"urn:uuid:00000000-0000-4000-8000-{n:012d}", title=f"Kommunale prøvesvar {n}",
        type=Coding("urn:oid:1.2.208.184.100.1", "HCOM"),
        category=Coding("http://medcomfhir.dk/ig/document/CodeSystem/MedCom-ihe-classcode-CS-TEMP", "001"),
        format=Coding("http://medcomfhir.dk/ig/xdsdocuments/CodeSystem/MedComHCOFormatCodeCS",
                      "urn:ad:dk:medcom:msg:hco-v1.2:full"),
        facility_type=Coding("http://snomed.info/sct", "550621000005101"),
        practice_setting=Coding("http://snomed.info/sct", "658161000005107"),
        creation=datetime.fromisoformat(f"2026-04-2{n}T10:00:00+02:00"), content_type="text/xml")
    return meta, f"<prøvesvar>{n}</prøvesvar>".encode()


def provide(client: TestClient, *numbers: int, cpr: str = GRETHE) -> None:
    bundle = provide_bundle([metadata(n, cpr) for n in numbers], source_id="urn:oid:1.2.208.176.43210.8.10.99",
                            submitted=datetime.fromisoformat("2026-04-28T10:00:00+02:00"))
    response = client.post("/dds/fhir", json=bundle, headers={"Content-Type": "application/fhir+json",
                                                              **auth(client, SOURCE_SYSTEM)})
    assert response.status_code == 200, response.text


def as_gp(client: TestClient, body, cpr: str = GRETHE):  # type: ignore[no-untyped-def]
    hsuid = professional_hsuid(LARS[0], LARS[1], cpr, org_sor=LARS[2])
    return post(client, REGISTRY, envelope(idcard(client, GP), body, v.ACTION_ITI18, hsuid=hsuid))


def test_find_documents_provided_through_mhd(client: TestClient) -> None:
    provide(client, 1, 2)
    answer = payload(as_gp(client, find_documents(GRETHE)))
    assert status_word(answer) == "Success", registry_errors(answer)
    assert sorted(unique_ids(answer)) == ["urn:uuid:00000000-0000-4000-8000-000000000001",
                                          "urn:uuid:00000000-0000-4000-8000-000000000002"]
    entry = objects(answer, "ExtrinsicObject")[0]
    assert entry.get("status") == v.STATUS_APPROVED and entry.get("objectType") == v.DOCUMENT_ENTRY_STABLE
    assert slot(entry, "repositoryUniqueId") == ["1.2.208.176.43210.8.10.11"]
    assert CPR_SYSTEM
