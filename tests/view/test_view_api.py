"""The JSON API for CI users: the same data as the pages, with the same bearer tokens as DDS."""

from __future__ import annotations

from pathlib import Path

import seeding
from fastapi.testclient import TestClient
from sts_client import auth
from view_support import CITIZEN, GP, RELATIVE, STRANGER


def bearer(client: TestClient, persona: str, **extra: str) -> dict[str, str]:
    return {**auth(client, persona), **extra}


def test_observations_as_json(client: TestClient) -> None:
    first = seeding.hco(client, CITIZEN)
    seeding.hco_modify(client, first, observations=[{"code": "NPU19748", "value": 30}])
    answer = client.get(f"/view/api/citizens/{CITIZEN}/observations", headers=bearer(client, f"citizen-{CITIZEN}"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    crp = next(a for a in body["analyses"] if a["code"] == "NPU19748")
    assert crp["unit"] == "mg/L" and len(crp["results"]) == 1
    newest = crp["results"][0]
    assert newest["numeric"] == 30 and newest["mark"] == "R" and newest["corrected"] is True
    chain = body["messages"][0]
    assert chain["id"] == first and chain["corrected"] and chain["team"] == "Akutteam Aarhus"
    assert [v["dds_status"] for v in chain["versions"]] == ["superseded", "current"]
    assert body["cancelled"] == [] and body["invalid"] == [] and body["consent_override"] is False


def test_conditions_and_notes_as_json(client: TestClient, packages_dir: Path) -> None:
    seeding.conditionlist(client, packages_dir, CITIZEN)
    seeding.note(client, packages_dir, CITIZEN, body="<p>Hej <script>x()</script></p>")
    headers = bearer(client, f"citizen-{CITIZEN}")
    lists = client.get(f"/view/api/citizens/{CITIZEN}/conditions", headers=headers).json()["lists"]
    assert len(lists) == 1 and len(lists[0]["diagnoses"]) == 3
    diabetes = lists[0]["diagnoses"][0]
    assert (diabetes["icpc2"], diabetes["sks"], diabetes["text"], diabetes["status"], diabetes["type"]) == (
        "T90", "DE11", "Type 2-diabetes", "Aktuel", "Forløbsdiagnose")
    assert "note" not in diabetes and "display" not in str(diabetes)
    notes = client.get(f"/view/api/citizens/{CITIZEN}/notes", headers=headers).json()["notes"]
    assert len(notes) == 1 and notes[0]["body_html"] == "<p>Hej </p>"
    # the citizen's own GP clinic and doctor, and the citizen
    assert notes[0]["organisation"] == "Skødstrup Lægepraksis" and notes[0]["author"] == "Lars Lund"
    assert notes[0]["patient"] == "Bruno Elmer" and lists[0]["patient"] == "Bruno Elmer"


def test_access_is_decided_by_dds(client: TestClient) -> None:
    seeding.hco(client, CITIZEN)
    path = f"/view/api/citizens/{CITIZEN}/observations"
    unauthenticated = client.get(path)
    assert unauthenticated.status_code == 401 and unauthenticated.json()["resourceType"] == "OperationOutcome"
    assert client.get(path, headers=bearer(client, "citizen-0602631234")).status_code == 403
    assert client.get(path, headers=bearer(client, STRANGER)).status_code == 403
    assert len(client.get(path, headers=bearer(client, RELATIVE)).json()["messages"]) == 1
    assert len(client.get(path, headers=bearer(client, GP)).json()["messages"]) == 1
    bad = client.get("/view/api/citizens/12/observations", headers=bearer(client, GP))
    assert bad.status_code == 400 and bad.json()["issue"][0]["expression"] == ["cpr"]


def test_a_block_and_vaerdispring_over_the_api(client: TestClient) -> None:
    seeding.hco(client, CITIZEN)
    seeding.block(client, CITIZEN, {"type": "professional", "id": "SK7T1"})
    path = f"/view/api/citizens/{CITIZEN}/observations"
    assert client.get(path, headers=bearer(client, GP)).json()["messages"] == []
    overridden = client.get(path, headers=bearer(client, GP, **{"X-Consent-Override": "Akut%20indl%C3%A6ggelse"}))
    assert overridden.status_code == 200 and len(overridden.json()["messages"]) == 1
    assert overridden.json()["consent_override"] is True
    log = client.get("/view/api/minlog", headers=bearer(client, f"citizen-{CITIZEN}")).json()["entries"]
    assert log and all(e["consent_override"] and e["reason"] == "Akut indlæggelse" for e in log)
    # a block on data from another treatment place leaves the GP's view alone
    seeding.block(client, CITIZEN, {"type": "all"}, what={"type": "organisation", "id": "900008000099016"})
    assert client.get(path, headers=bearer(client, "gp-skodstrup-2")).json()["messages"] != []


def test_min_log_api_refuses_a_professional(client: TestClient) -> None:
    answer = client.get("/view/api/minlog", headers=bearer(client, GP))
    assert answer.status_code == 403 and answer.json()["resourceType"] == "OperationOutcome"
