"""Fuldmagt in DDS: the scope is honoured (a fuldmagt for "prøvesvar" opens test results, not the
diagnosis card), and a fuldmagt lapses when its grantor dies (dds-nsp.md §2.4)."""

from __future__ import annotations

from datetime import UTC, datetime

from access_setup import find, matches, min_log, warnings
from fastapi.testclient import TestClient
from mhd_client import Mhd
from sts_client import auth

from nsp_sandbox.context import SandboxContext

SEBASTIAN = "1911629885"  # has given Emma Receive Carlsen (0511699884) a fuldmagt for "prøvesvar"
EMMA = "relative-0511699884"
ERIK = "1010401230"  # died 2025-11-02; had given Emil Elmer (0505059996) a fuldmagt (sundhedsjournal)
DIAGNOSIS_CARD = {"coding": [{"system": "http://loinc.org", "code": "11450-4", "display": "Problem list - Reported"}]}


def test_a_fuldmagt_for_test_results_does_not_open_the_diagnosis_card(lenient_context: SandboxContext,
                                                                      client: TestClient, mhd: Mhd) -> None:
    results = mhd.document_reference(cpr=SEBASTIAN)
    card = mhd.document_reference(cpr=SEBASTIAN)
    card["type"] = DIAGNOSIS_CARD
    result_id, card_id = mhd.provide((results, mhd.examples.hco), (card, mhd.examples.hco), cpr=SEBASTIAN)
    response = find(client, EMMA, SEBASTIAN)
    assert response.status_code == 200, response.text
    assert matches(response) == [result_id] and warnings(response)
    emma = auth(client, EMMA)
    assert client.get(f"/dds/documents/{result_id}", headers=emma).status_code == 200
    assert client.get(f"/dds/documents/{card_id}", headers=emma).status_code == 404
    assert set(matches(find(client, f"citizen-{SEBASTIAN}", SEBASTIAN))) == {result_id, card_id}
    [retrieval, search] = min_log(client, SEBASTIAN)
    assert {retrieval["user_name"], search["user_role"]} == {"Emma Receive Carlsen", "Fuldmagtshaver"}


def test_a_fuldmagt_lapses_when_the_grantor_dies(client: TestClient, mhd: Mhd, context: SandboxContext) -> None:
    entry_id = mhd.provide_hco(ERIK)
    context.clock.travel_to(datetime(2025, 10, 1, 12, tzinfo=UTC))
    assert matches(find(client, "relative-0505059996", ERIK)) == [entry_id]
    context.clock.travel_to(datetime(2025, 11, 3, 12, tzinfo=UTC))
    refused = find(client, "relative-0505059996", ERIK)
    assert refused.status_code == 403 and "acts for" in refused.text


def test_a_guardian_reads_for_the_ward_and_both_logs_say_so(client: TestClient, mhd: Mhd) -> None:
    william, sebastian = "2701779899", "1911629885"  # Sebastian Friis is William's værge
    entry_id = mhd.provide_hco(william)
    assert matches(find(client, f"relative-{sebastian}", william)) == [entry_id]
    [theirs] = min_log(client, william)
    assert (theirs["user_name"], theirs["user_role"], theirs["acting_as"]) == ("Sebastian Friis", "Værge", None)
    own = client.get("/nsp/minlog", headers=auth(client, f"relative-{sebastian}"), params={"cpr": sebastian})
    [mine] = own.json()
    assert (mine["acting_as"], mine["person_name"]) == ("guardian", "William ManyDiagnoses Thomsen")
