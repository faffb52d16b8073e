"""One decision for both faces: the consent model of dds-nsp.md §2.1 (data from a treatment place,
positive consent, an assistant judged as the responsible professional) decides an ITI-18 over
HSUID exactly as it decides ITI-67, and writes the same Min Log lines."""

from __future__ import annotations

from fastapi.testclient import TestClient
from read_support import GRETHE, HANNE, LARS, SKODSTRUP, as_gp, block, call, metadata, min_log, provide, unique_id
from sts_client import auth
from xds_support import find_documents, payload, professional_hsuid, registry_errors, status_word, unique_ids

from nsp_sandbox.mhd_source import Organisation

DEPARTMENT = "900008000099016"  # Akutafdelingen, Aarhus Universitetshospital


def provide_two_sources(client: TestClient) -> None:
    """Document 1 authored at the hospital department, document 2 at Aarhus Kommune."""
    provide(client, metadata(1, author=Organisation(DEPARTMENT, "Akutafdelingen, Aarhus Universitetshospital", None)),
            metadata(2))


def mhd_ids(client: TestClient, persona: str) -> list[str]:
    found = client.get("/dds/fhir/DocumentReference", headers=auth(client, persona),
                       params={"patient.identifier": f"urn:oid:1.2.208.176.1.2|{GRETHE}", "status": "current"})
    return sorted(e["resource"]["masterIdentifier"]["value"] for e in found.json()["entry"]
                  if e["search"]["mode"] == "match")


def test_data_from_a_treatment_place_is_withheld_on_both_faces(client: TestClient) -> None:
    provide_two_sources(client)
    block(client, GRETHE, {"type": "all"}, what={"type": "organisation", "id": DEPARTMENT})
    answer = payload(as_gp(client, find_documents(GRETHE)))
    assert status_word(answer) == "PartialSuccess" and unique_ids(answer) == [unique_id(GRETHE, 2)]
    [(_, severity, context)] = registry_errors(answer)
    assert severity == "Warning" and "withheld" in context
    assert mhd_ids(client, "gp-skodstrup") == [unique_id(GRETHE, 2)]
    xds, mhd = min_log(client, GRETHE)[::-1]
    assert xds["activity"].startswith("ITI-18") and mhd["activity"].startswith("ITI-67")
    for entry in (xds, mhd):
        assert (entry["user_identifier"], entry["person_name"]) == ("SK7T1", "Grethe KGBTest")


def test_a_positive_consent_reopens_for_one_professional_on_both_faces(client: TestClient) -> None:
    provide_two_sources(client)
    block(client, GRETHE, {"type": "all"})
    block(client, GRETHE, {"type": "professional", "id": "SK7T1"}, kind="positive", valid_to="2099-12-31")
    assert len(unique_ids(payload(as_gp(client, find_documents(GRETHE))))) == 2
    assert len(mhd_ids(client, "gp-skodstrup")) == 2
    assert mhd_ids(client, "gp-skodstrup-2") == []
    hanne = professional_hsuid(HANNE[0], HANNE[1], GRETHE, SKODSTRUP)
    assert unique_ids(payload(call(client, find_documents(GRETHE), "gp-skodstrup-2", hanne))) == []


def test_the_sandbox_assistant_persona_acts_on_the_xds_face(client: TestClient) -> None:
    provide_two_sources(client)
    secretary = professional_hsuid("1811751232", LARS[1], GRETHE, SKODSTRUP, responsible_cpr=LARS[0])
    assert len(unique_ids(payload(call(client, find_documents(GRETHE), "gp-skodstrup", secretary)))) == 2
    [entry] = min_log(client, GRETHE)
    assert (entry["user_name"], entry["user_role"], entry["user_identifier"]) == ("Birgitte Juul", "Lægesekretær",
                                                                                  None)
    assert (entry["responsible_user_identifier"], entry["responsible_user_name"]) == ("SK7T1", "Lars Lund")
