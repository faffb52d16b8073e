"""The viewer does not care whether a document is stored or on demand: diagnosis cards and notes
from a GP system through the PLSP Health Hub (LPS → PLSP → DDS, generated at retrieval)."""

from __future__ import annotations

import seeding
from fastapi.testclient import TestClient
from view_support import CITIZEN, GP_ORGANISATION, sign_in


def test_an_on_demand_card_and_note_are_shown(client: TestClient) -> None:
    seeding.plsp_card(client, CITIZEN, [
        {"key": "dx-1", "sks": "DE119a", "icpc2": "T90", "text": "Type 2-diabetes", "status": "current",
         "type": "problem-list-item", "onset": "2019-03-01", "recorded": "2019-03-04T09:00:00+01:00",
         "internal_note": "Tillægstekst der aldrig deles"}])
    seeding.plsp_note(client, CITIZEN, "n-1", "Årskontrol.\r\nBT 138/82 mmHg.", "2026-05-05T10:11:00+02:00")
    sign_in(client, f"citizen-{CITIZEN}")
    conditions = client.get(f"/view/borger/{CITIZEN}/diagnoser").text
    assert "Diagnoseoversigt fra Skødstrup Lægepraksis" in conditions
    assert "Type 2-diabetes" in conditions and "DE119a" in conditions and "T90" in conditions
    assert "Tillægstekst" not in conditions
    notes = client.get(f"/view/borger/{CITIZEN}/journalnotater").text
    assert "Årskontrol.<br/>BT 138/82 mmHg." in notes and "Lars Lund" in notes


def test_a_block_applies_to_on_demand_documents_too(client: TestClient) -> None:
    seeding.plsp_note(client, CITIZEN, "n-2", "Kontrol", "2026-05-05T10:11:00+02:00")
    seeding.block(client, CITIZEN, {"type": "all"}, what={"type": "organisation", "id": GP_ORGANISATION})
    sign_in(client, "gp-skodstrup")
    assert "Ingen dokumenter fundet" in client.get(f"/view/borger/{CITIZEN}").text
