"""Who may write a treatment relation (BRS): a system with the right ``brs-register``, for the
professionals of its own organisation, or the operator through the control face. A professional's
or a citizen's own token, or a system without the right, gets 403 with an OperationOutcome."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sts_client import auth

from nsp_sandbox.context import SandboxContext
from sandbox.app import create_sandbox_app

CITIZEN = "0602631234"
LOCAL = ("127.0.0.1", 50000)
OTHER_LIST = "0201919990"  # not on gp-skodstrup-2's list


def add(client: TestClient, persona: str, professional: str, cpr: str = CITIZEN) -> Any:
    return client.post("/nsp/brs/relations", headers=auth(client, persona, "nsp"),
                       json={"professional": professional, "cpr": cpr, "valid_from": "2020-01-01"})


def relations(client: TestClient, professional: str) -> list[str]:
    return [r["cpr"] for r in client.get("/nsp/brs/relations", headers=auth(client, professional, "nsp")).json()]


def rule(response: Any) -> str:
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome", outcome
    return str(outcome["issue"][0]["details"]["coding"][0]["code"])


@pytest.mark.parametrize("persona", ["doctor-auh-acute", "gp-skodstrup", f"citizen-{CITIZEN}",
                                     "relative-0505059996", "system-dds", "system-plsp"])
def test_readers_and_systems_without_the_right_are_refused(client: TestClient, persona: str) -> None:
    before = relations(client, "doctor-auh-acute")
    response = add(client, persona, "doctor-auh-acute")
    assert response.status_code == 403 and rule(response) == "brs-register"
    assert response.headers["content-type"].startswith("application/fhir+json")
    assert relations(client, "doctor-auh-acute") == before and CITIZEN not in before


def test_a_system_registers_for_its_own_organisation_only(client: TestClient) -> None:
    elsewhere = add(client, "system-lps-skodstrup", "doctor-auh-acute")
    assert elsewhere.status_code == 403 and rule(elsewhere) == "brs-register-organisation"
    assert "SOR 900008000099016" in elsewhere.json()["issue"][0]["diagnostics"]
    assert add(client, "system-eoj-aarhus", "doctor-auh-acute").status_code == 403  # a municipality, not the hospital
    hospital = add(client, "system-epj-auh", "doctor-auh-acute")  # the hospital's EPJ, for its department's doctor
    assert hospital.status_code == 201, hospital.text
    assert hospital.json()["authorisation"] == "AU5R1" and CITIZEN in relations(client, "doctor-auh-acute")
    assert add(client, "system-eoj-copenhagen", "nurse-copenhagen-acute").status_code == 201
    assert add(client, "system-lps-skodstrup", "gp-skodstrup-2", "0201919990").status_code == 201


def test_the_control_face_registers_for_anyone_but_only_for_the_operator(context: SandboxContext) -> None:
    body = {"professional": "doctor-auh-acute", "cpr": CITIZEN, "valid_to": "2099-12-31"}
    with TestClient(create_sandbox_app(context, warm_packages=False), base_url="http://sandbox.test") as remote:
        refused = remote.post("/sandbox/nsp/brs/relations", json=body)
        assert refused.status_code == 403 and rule(refused) == "sandbox-operator-loopback"
    with TestClient(create_sandbox_app(context, warm_packages=False), base_url="http://sandbox.test",
                    client=LOCAL) as local:
        added = local.post("/sandbox/nsp/brs/relations", json=body)
        assert added.status_code == 201, added.text
        assert added.json() == {**added.json(), "authorisation": "AU5R1", "cpr": CITIZEN, "basis": "added (BRS)"}
        assert CITIZEN in relations(local, "doctor-auh-acute")
        bad = local.post("/sandbox/nsp/brs/relations", json={"professional": "nobody", "cpr": CITIZEN})
        assert bad.status_code == 400 and rule(bad) == "brs-professional"
    context.settings = context.settings.model_copy(update={"admin_token": "s3cret"})
    with TestClient(create_sandbox_app(context, warm_packages=False), base_url="http://sandbox.test") as remote:
        assert remote.post("/sandbox/nsp/brs/relations", json=body).status_code == 401
        with_token = remote.post("/sandbox/nsp/brs/relations", json=body,
                                 headers={"Authorization": "Bearer s3cret"})
        assert with_token.status_code == 201


def test_an_unknown_field_is_refused_naming_it_and_nothing_is_stored(context: SandboxContext) -> None:
    """A body with a field BRS does not know (``reason``, ``valid_until``) is 422 naming each, on the NSP
    face and on the control face alike; no relation is stored."""
    body = {"professional": "gp-skodstrup-2", "cpr": OTHER_LIST, "valid_until": "2099-12-31", "reason": "x"}
    with TestClient(create_sandbox_app(context, warm_packages=False), base_url="http://sandbox.test",
                    client=LOCAL) as client:
        faces = (("/nsp/brs/relations", auth(client, "system-lps-skodstrup", "nsp")),
                 ("/sandbox/nsp/brs/relations", {}))
        for path, headers in faces:
            response = client.post(path, headers=headers, json=body)
            assert response.status_code == 422, (path, response.text)
            issues = response.json()["issue"]
            assert sorted(i["expression"][0] for i in issues) == ["reason", "valid_until"]
            assert all(i["details"]["coding"][0]["code"] == "nsp-unknown-field" for i in issues)
            assert "known: authorisation, professional, cpr, valid_from, valid_to" in issues[0]["diagnostics"]
        assert OTHER_LIST not in relations(client, "gp-skodstrup-2")
        known = {"professional": "gp-skodstrup-2", "cpr": OTHER_LIST}
        typed = client.post("/nsp/brs/relations", headers=faces[0][1], json={**known, "cpr": 602631234})
        assert typed.status_code == 400 and typed.json()["issue"][0]["expression"] == ["cpr"]
        assert OTHER_LIST not in relations(client, "gp-skodstrup-2")
        assert client.post("/nsp/brs/relations", headers=faces[0][1], json=known).status_code == 201
        assert OTHER_LIST in relations(client, "gp-skodstrup-2")
