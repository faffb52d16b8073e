"""The access matrix: persona × document × block state × værdispring → what DDS answers.

Each row provides two documents of Grethe (0602631234; service time 2024 and 2026), sets up one
block state through NSP, searches (ITI-67) as the persona and retrieves each document (ITI-68),
then reads Grethe's Min Log. Expected: the HTTP status, which documents are seen, whether a
"withheld" warning is given and how many Min Log entries the look-ups wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from access_setup import GRETHE, block, find, matches, min_log, provide_documents, warnings
from fastapi.testclient import TestClient
from mhd_client import Mhd
from sts_client import auth

SKODSTRUP = "52581000016005"  # Skødstrup Lægepraksis
AARHUS = "937961000016000"  # Aarhus Kommune (→ Pleje og Rehabilitering → Akutteam Aarhus)
BLOCKS: dict[str, list[dict[str, Any]]] = {
    "none": [],
    "gp clinic": [{"who": {"type": "organisation", "id": SKODSTRUP}}],
    "one gp": [{"who": {"type": "professional", "id": "SK7T1"}}],
    "everyone": [{"who": {"type": "all"}}],
    "municipality with sub-units": [{"who": {"type": "organisation", "id": AARHUS}, "include_sub_units": True}],
    "municipality only": [{"who": {"type": "organisation", "id": AARHUS}, "include_sub_units": False}],
    "2024 data for everyone": [{"who": {"type": "all"}, "data_from": "2024-01-01", "data_to": "2024-12-31"}],
    "expired": [{"who": {"type": "all"}, "valid_from": "2020-01-01", "valid_to": "2021-01-01"}],
    "not yet valid": [{"who": {"type": "all"}, "valid_from": "2099-01-01"}],
    "revoked": [{"who": {"type": "all"}, "revoke": True}],
}


@dataclass(frozen=True)
class Row:
    persona: str
    blocks: str
    override: str | None
    status: int
    seen: frozenset[str] = frozenset()
    warned: bool = False
    logged: int = 0  # Min Log entries written by the search and the two retrievals

    def __str__(self) -> str:
        return f"{self.persona}|{self.blocks}|{'override' if self.override else '-'}"


BOTH = frozenset({"old", "new"})
NEW = frozenset({"new"})
MATRIX = [
    # The citizen herself: blocks are about professionals; nothing of hers is logged.
    Row("citizen-0602631234", "none", None, 200, BOTH),
    Row("citizen-0602631234", "everyone", None, 200, BOTH),
    # Another citizen, and a relative who acts for someone else: refused.
    Row("citizen-2509479989", "none", None, 403),
    Row("relative-0505059996", "none", None, 403),
    # A source system provides but does not read.
    Row("system-eoj-aarhus", "none", None, 403),
    # Her GP: sees and is logged (search + 2 retrievals).
    Row("gp-skodstrup", "none", None, 200, BOTH, logged=3),
    Row("gp-skodstrup", "gp clinic", None, 200),
    Row("gp-skodstrup", "gp clinic", "Acute admission, patient unconscious", 200, BOTH, logged=3),
    Row("gp-skodstrup", "one gp", None, 200),
    Row("gp-skodstrup-2", "one gp", None, 200, BOTH, logged=3),
    Row("gp-skodstrup", "everyone", None, 200),
    Row("gp-skodstrup", "everyone", "Patienten kan ikke kontaktes", 200, BOTH, logged=3),
    Row("gp-skodstrup", "municipality with sub-units", None, 200, BOTH, logged=3),
    Row("gp-skodstrup", "2024 data for everyone", None, 200, NEW, warned=True, logged=2),
    Row("gp-skodstrup", "2024 data for everyone", "Akut behandling", 200, BOTH, logged=3),
    Row("gp-skodstrup", "expired", None, 200, BOTH, logged=3),
    Row("gp-skodstrup", "not yet valid", None, 200, BOTH, logged=3),
    Row("gp-skodstrup", "revoked", None, 200, BOTH, logged=3),
    # The acute team sits under Aarhus Kommune: a block with sub-units reaches it, one without does not.
    Row("nurse-aarhus-acute", "none", None, 200, BOTH, logged=3),
    Row("nurse-aarhus-acute", "municipality with sub-units", None, 200),
    Row("nurse-aarhus-acute", "municipality only", None, 200, BOTH, logged=3),
    Row("nurse-aarhus-acute", "gp clinic", None, 200, BOTH, logged=3),
    # No treatment relation: refused, with or without værdispring, block or not.
    Row("doctor-auh-acute", "none", None, 403),
    Row("doctor-auh-acute", "everyone", "Akut", 403),
    # Værdispring is for professionals only.
    Row("citizen-0602631234", "none", "Jeg vil se alt", 403),
]


@pytest.mark.parametrize("row", MATRIX, ids=str)
def test_access_matrix(client: TestClient, mhd: Mhd, row: Row) -> None:
    documents = provide_documents(mhd)
    for spec in BLOCKS[row.blocks]:
        spec = dict(spec)
        revoke = spec.pop("revoke", False)
        made = block(client, GRETHE, **spec)
        if revoke:
            answer = client.post(f"/nsp/consent/blocks/{made['id']}/revoke", headers=auth(client, f"citizen-{GRETHE}"))
            assert answer.status_code == 200 and answer.json()["status"] == "revoked"

    response = find(client, row.persona, GRETHE, row.override)
    assert response.status_code == row.status, response.text
    headers = auth(client, row.persona)
    if row.override is not None:
        headers["X-Consent-Override"] = row.override
    retrieved = {documents.name(i): client.get(f"/dds/documents/{i}", headers=headers).status_code
                 for i in (documents.old, documents.new)}
    if row.status != 200:
        assert response.json()["resourceType"] == "OperationOutcome"
        assert set(retrieved.values()) == {row.status}
        assert min_log(client, GRETHE) == []
        return
    assert {documents.name(i) for i in matches(response)} == row.seen
    assert bool(warnings(response)) == row.warned
    assert {name for name, status in retrieved.items() if status == 200} == row.seen
    assert all(status == 404 for name, status in retrieved.items() if name not in row.seen)
    entries = min_log(client, GRETHE)
    assert len(entries) == row.logged, entries
    assert all(e["consent_override"] == (row.override is not None) for e in entries)
    assert all(e["reason"] == row.override for e in entries)
