"""Who may use the GP system's faces (``docs/hco.md``): its inbox is read with the token of a persona
of one of its practices, its behaviour is changed by the sandbox operator only, and its EHMI inbox
stays open to senders."""

from __future__ import annotations

import pytest
from actor_tokens import operator
from face_access import admin_token, assert_needs_token, assert_refused, bearer, stranger
from fastapi.testclient import TestClient
from hco_flow import AGERSKOV, CPR, SKODSTRUP, send

from nsp_sandbox.context import SandboxContext

READS = [("/lps/inbox", {"cpr": CPR}), ("/lps/received", {})]
OPERATOR = [("PUT", "/lps/switches", {"mode": "normal"}),
            ("PUT", "/lps/return-addresses", {"sor": "123456789012", "url": "http://127.0.0.1:9/ehmi"}),
            ("POST", "/lps/outbox/deliver", None)]
SERVED = {"52581000016005", "73091000016008"}  # Skødstrup and Agerskov, the practices of this GP system
OTHER_CLINIC = ("gp-norrebro", "system-lps-hasseris")  # a GP and a GP system of clinics it does not serve


@pytest.mark.parametrize("path, params", READS)
def test_reading_the_inbox_needs_a_token(client: TestClient, path: str, params: dict[str, str]) -> None:
    assert_needs_token(stranger(client).get(path, params=params))
    for_dds = bearer(client, "gp-skodstrup", "dds")  # a valid token, for another service
    assert_needs_token(stranger(client).get(path, params=params, headers=for_dds))


@pytest.mark.parametrize("path, params", READS)
@pytest.mark.parametrize("persona", [*OTHER_CLINIC, f"citizen-{CPR}", "nurse-aarhus-acute", "system-eoj-aarhus"])
def test_only_the_practices_personas_read_it(client: TestClient, path: str, params: dict[str, str],
                                             persona: str) -> None:
    assert {p["sor"] for p in client.get("/lps/practices").json()} == SERVED
    refused = stranger(client).get(path, params=params, headers=bearer(client, persona, "lps"))
    assert_refused(refused, "lps-practice-token")


@pytest.mark.parametrize("path, params", READS)
@pytest.mark.parametrize("persona", ["gp-skodstrup", "gp-skodstrup-2", "system-lps-skodstrup"])
def test_a_persona_of_the_practice_reads_it(client: TestClient, path: str, params: dict[str, str],
                                            persona: str) -> None:
    sent = send(client)
    answer = stranger(client).get(path, params=params, headers=bearer(client, persona, "lps"))
    assert answer.status_code == 200, answer.text
    assert any(sent["id"] in (m.get("message"), m.get("header_id")) for m in answer.json())


def test_each_practice_reads_its_own_messages_only(client: TestClient) -> None:
    """Skødstrup and Agerskov share this GP system but not their inboxes: a GP (or the practice's GP system)
    sees only what was addressed to their own practice, in the GP's view and in what was received."""
    to = {SKODSTRUP: send(client, receiver=SKODSTRUP)["id"], AGERSKOV: send(client, receiver=AGERSKOV)["id"]}
    readers = {"gp-skodstrup": SKODSTRUP, "system-lps-skodstrup": SKODSTRUP, "gp-agerskov": AGERSKOV}
    for persona, practice in readers.items():
        headers = bearer(client, persona, "lps")
        inbox = stranger(client).get("/lps/inbox", params={"cpr": CPR}, headers=headers)
        received = stranger(client).get("/lps/received", headers=headers)
        assert inbox.status_code == received.status_code == 200, (inbox.text, received.text)
        assert [m["message"] for m in inbox.json()] == [to[practice]], persona
        assert {r["header_id"] for r in received.json()} == {to[practice]}, persona
        other = to[AGERSKOV if practice == SKODSTRUP else SKODSTRUP]
        assert stranger(client).get("/lps/received", params={"header_id": other}, headers=headers).json() == []


@pytest.mark.parametrize("method, path, body", OPERATOR)
def test_operator_endpoints_refuse_callers_from_elsewhere(client: TestClient, method: str, path: str,
                                                          body: dict[str, str] | None) -> None:
    assert_refused(stranger(client).request(method, path, json=body), "sandbox-operator-loopback")
    as_gp = bearer(client, "gp-skodstrup", "lps")  # a persona token does not make the operator
    assert_refused(stranger(client).request(method, path, json=body, headers=as_gp), "sandbox-operator-loopback")
    assert operator(client).request(method, path, json=body).status_code == 200


@pytest.mark.parametrize("method, path, body", OPERATOR)
def test_with_an_admin_token_only_that_token_opens_them(client: TestClient, context: SandboxContext, method: str,
                                                        path: str, body: dict[str, str] | None) -> None:
    with admin_token(context, client) as local:
        assert_needs_token(local.request(method, path, json=body))
        persona = bearer(client, "gp-skodstrup", "lps")
        assert_needs_token(local.request(method, path, json=body, headers=persona))
        opened = local.request(method, path, json=body, headers={"Authorization": "Bearer s3cret"})
        assert opened.status_code == 200, opened.text


def test_settings_and_practices_stay_readable_and_the_ehmi_inbox_open(client: TestClient) -> None:
    plain = stranger(client)
    assert plain.get("/lps/switches").status_code == 200
    assert plain.get("/lps/practices").status_code == 200
    not_a_message = plain.post("/lps/ehmi", json={"resourceType": "Bundle"})
    assert not_a_message.status_code not in (401, 403) and not_a_message.status_code < 500, not_a_message.text
