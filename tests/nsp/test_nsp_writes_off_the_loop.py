"""NSP's writes (Min Log entries, blocks, treatment relations) commit on a worker thread, and tokens are
issued on one: while the database works and the token is signed, the event loop goes on with the process's
other requests (DDS writes a Min Log entry at every look-up it answers)."""

from __future__ import annotations

import pytest
from event_loop import where_it_runs
from fastapi.testclient import TestClient
from sts_client import auth

from services.nsp.brs import TreatmentRelations
from services.nsp.consent import Consent
from services.nsp.minlog import MinLog
from services.nsp.routes.platform import Platform

BRUNO = "2509479989"
CITIZEN = "0602631234"
NOT_ON_THE_LIST = "0201919990"  # not on gp-skodstrup-2's list


def test_a_min_log_entry_is_written_off_the_event_loop(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = where_it_runs(monkeypatch, MinLog, "write")
    written = client.post("/nsp/minlog/entries", headers=auth(client, "system-dds", "nsp"),
                          json={"cpr": BRUNO, "activity": "ITI-67 Find Document References"})
    assert written.status_code == 201 and calls == ["thread"]
    refused = client.post("/nsp/minlog/entries", headers=auth(client, "system-dds", "nsp"),
                          json={"cpr": BRUNO, "activity": ""})
    assert refused.status_code == 400 and refused.json()["resourceType"] == "OperationOutcome"


def test_a_block_is_added_and_revoked_off_the_event_loop(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    added, revoked = where_it_runs(monkeypatch, Consent, "add"), where_it_runs(monkeypatch, Consent, "revoke")
    me = auth(client, f"citizen-{BRUNO}")
    block = client.post("/nsp/consent/blocks", headers=me, json={"who": {"type": "all"}})
    assert block.status_code == 201, block.text
    assert client.post(f"/nsp/consent/blocks/{block.json()['id']}/revoke", headers=me).status_code == 200
    assert added == ["thread"] and revoked == ["thread"]
    gp = auth(client, "gp-skodstrup-2")  # no treatment relation with this citizen: refused from the thread
    refused = client.post("/nsp/consent/blocks", headers=gp, json={"cpr": NOT_ON_THE_LIST, "who": {"type": "all"}})
    assert refused.status_code == 403 and refused.json()["resourceType"] == "OperationOutcome"


def test_a_treatment_relation_is_registered_off_the_event_loop(client: TestClient,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    calls = where_it_runs(monkeypatch, TreatmentRelations, "add")
    added = client.post("/nsp/brs/relations", headers=auth(client, "system-epj-auh", "nsp"),
                        json={"professional": "doctor-auh-acute", "cpr": CITIZEN, "valid_from": "2020-01-01"})
    assert added.status_code == 201, added.text
    assert calls == ["thread"]


def test_a_token_is_issued_off_the_event_loop(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = where_it_runs(monkeypatch, Platform, "personas")
    issued = client.post("/nsp/sts/token", json={"persona": "gp-skodstrup", "audience": "dds"})
    assert issued.status_code == 200 and issued.json()["access_token"] and calls == ["thread"]
    unknown = client.post("/nsp/sts/token", json={"persona": "nobody"})
    assert unknown.status_code == 404 and unknown.json()["resourceType"] == "OperationOutcome"
