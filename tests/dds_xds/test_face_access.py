"""The XDS.b face decides and logs exactly as the MHD face does (one guarded read): each HSUID
access path of ITI-18 and ITI-43 through HTTP, with NSP's blocks, relations and Min Log."""

from __future__ import annotations

from dataclasses import replace

from fastapi.testclient import TestClient
from read_support import (
    BRUNO,
    EMIL,
    GRETHE,
    HANNE,
    LARS,
    SKODSTRUP,
    as_citizen,
    as_gp,
    as_professional,
    block,
    call,
    min_log,
    provide_years,
    unique_id,
)
from xds_support import (
    REPOSITORY,
    SOURCE_SYSTEM,
    citizen_hsuid,
    dgws_fault,
    documents,
    find_documents,
    payload,
    professional_hsuid,
    registry_errors,
    retrieve,
    status_word,
    unique_ids,
)

from services.dds.xds.face import OVERRIDE_WITHOUT_REASON


def test_the_gp_finds_and_it_is_logged_as_for_iti67(client: TestClient) -> None:
    provide_years(client)
    answer = payload(as_gp(client, find_documents(GRETHE)))
    assert status_word(answer) == "Success"
    assert sorted(unique_ids(answer)) == [unique_id(GRETHE, 1), unique_id(GRETHE, 2)]
    [entry] = min_log(client, GRETHE)
    assert entry["activity"] == "ITI-18 Registry Stored Query (FindDocuments)"
    assert (entry["user_identifier"], entry["user_name"], entry["organisation_id"]) == ("SK7T1", "Lars Lund",
                                                                                        SKODSTRUP)
    assert entry["consent_override"] is False and entry["reason"] is None
    assert entry["addition"].startswith("2 DocumentEntry(s) found")


def test_the_gp_retrieves_and_it_is_logged(client: TestClient) -> None:
    provide_years(client)
    got = documents(as_gp(client, retrieve(unique_id(GRETHE, 2)), path=REPOSITORY))
    assert got == {unique_id(GRETHE, 2): f'<prøvesvar nr="2">{GRETHE}</prøvesvar>'.encode()}
    [entry] = min_log(client, GRETHE)
    assert entry["activity"] == "ITI-43 Retrieve Document Set" and entry["user_name"] == "Lars Lund"


def test_a_citizen_reads_their_own_and_it_is_not_logged(client: TestClient) -> None:
    provide_years(client)
    answer = payload(as_citizen(client, find_documents(GRETHE), GRETHE))
    assert sorted(unique_ids(answer)) == [unique_id(GRETHE, 1), unique_id(GRETHE, 2)]
    assert documents(as_citizen(client, retrieve(unique_id(GRETHE, 1)), GRETHE, path=REPOSITORY))
    assert min_log(client, GRETHE) == []


def test_a_citizen_may_not_read_another_citizens_documents(client: TestClient) -> None:
    provide_years(client)
    fault = dgws_fault(as_citizen(client, find_documents(GRETHE), BRUNO, GRETHE))
    assert fault.code == "not_authorized" and "neither is nor acts for" in fault.message


def test_a_relative_under_fuldmagt_reads_and_the_citizen_sees_it(client: TestClient) -> None:
    provide_years(client, BRUNO)
    answer = payload(as_citizen(client, find_documents(BRUNO), EMIL, BRUNO))
    assert sorted(unique_ids(answer)) == [unique_id(BRUNO, 1), unique_id(BRUNO, 2)]
    [entry] = min_log(client, BRUNO)
    assert entry["user_name"] == "Emil Elmer" and entry["consent_override"] is False


def test_a_professional_without_relation_is_refused(client: TestClient) -> None:
    provide_years(client)
    fault = dgws_fault(as_professional(client, "doctor-auh-acute", find_documents(GRETHE)))
    assert fault.code == "not_authorized" and "treatment relation" in fault.message
    assert min_log(client, GRETHE) == []


def test_a_block_gives_a_silent_empty_success(client: TestClient) -> None:
    provide_years(client)
    block(client, GRETHE, {"type": "professional", "id": "SK7T1"})
    answer = payload(as_gp(client, find_documents(GRETHE)))
    assert status_word(answer) == "Success" and unique_ids(answer) == [] and registry_errors(answer) == []
    retrieved = payload(as_gp(client, retrieve(unique_id(GRETHE, 1)), path=REPOSITORY))
    assert registry_errors(retrieved) == [("XDSMissingDocument", "Error", f"Document {unique_id(GRETHE, 1)} is "
                                           "not in this repository")]
    assert min_log(client, GRETHE) == []
    # Another professional with a relation is not blocked.
    other = payload(as_professional(client, "nurse-aarhus-acute", find_documents(GRETHE)))
    assert len(unique_ids(other)) == 2


def test_a_data_period_block_filters_with_a_warning(client: TestClient) -> None:
    provide_years(client)
    block(client, GRETHE, {"type": "all"}, data_from="2024-01-01", data_to="2024-12-31")
    answer = payload(as_gp(client, find_documents(GRETHE)))
    assert status_word(answer) == "PartialSuccess"
    assert unique_ids(answer) == [unique_id(GRETHE, 2)]
    [(code, severity, context)] = registry_errors(answer)
    assert severity == "Warning" and "withheld" in context and code == "XDSRegistryError"
    [entry] = min_log(client, GRETHE)
    assert entry["addition"].startswith("1 DocumentEntry(s) found")


def test_vaerdispring_lifts_the_block_and_min_log_says_no_reason_was_given(client: TestClient) -> None:
    provide_years(client)
    block(client, GRETHE, {"type": "professional", "id": "SK7T1"})
    answer = payload(as_gp(client, find_documents(GRETHE), override=True))
    assert len(unique_ids(answer)) == 2
    [entry] = min_log(client, GRETHE)
    assert entry["consent_override"] is True and entry["reason"] == OVERRIDE_WITHOUT_REASON
    assert entry["reason"] == "not given"


def test_a_citizen_cannot_use_vaerdispring(client: TestClient) -> None:
    provide_years(client)
    overriding = replace(citizen_hsuid(GRETHE), consent_override=True)
    fault = dgws_fault(call(client, find_documents(GRETHE), SOURCE_SYSTEM, overriding))
    assert fault.code == "not_authorized" and "værdispring" in fault.message


def test_an_assistant_acts_under_the_responsible_professional(client: TestClient) -> None:
    provide_years(client)
    # Hanne Bach (her own employee card) acts as assistant for Lars Lund: his relation and blocks decide,
    # and the medhjælpslog names both.
    assistant = professional_hsuid(HANNE[0], LARS[1], GRETHE, SKODSTRUP, responsible_cpr=LARS[0])
    assert assistant.is_assistant
    answer = payload(call(client, find_documents(GRETHE), "gp-skodstrup-2", assistant))
    assert len(unique_ids(answer)) == 2
    [entry] = min_log(client, GRETHE)
    assert entry["user_identifier"] is None and entry["user_name"] == "Hanne Bach"
    assert (entry["responsible_user_identifier"], entry["responsible_user_name"]) == ("SK7T1", "Lars Lund")
    # A block on Lars Lund holds for whoever acts for him; værdispring is not the assistant's to use.
    block(client, GRETHE, {"type": "professional", "id": "SK7T1"})
    assert unique_ids(payload(call(client, find_documents(GRETHE), "gp-skodstrup-2", assistant))) == []
    overriding = replace(assistant, consent_override=True)
    assert dgws_fault(call(client, find_documents(GRETHE), "gp-skodstrup-2", overriding)).code == "not_authorized"
    # Responsible for someone without a relation: refused as that professional would be.
    refused = professional_hsuid(HANNE[0], "AU5R1", GRETHE, responsible_cpr="0101010101")
    assert dgws_fault(call(client, find_documents(GRETHE), "gp-skodstrup-2", refused)).code == "not_authorized"
