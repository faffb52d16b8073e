"""Who may use the EOJ's faces (``docs/hco.md``): ordering and reading orders take the token of the
EOJ's own system or of a professional of its municipality, the endpoint register is changed by the
sandbox operator only, and the EHMI inbox stays open to senders."""

from __future__ import annotations

from typing import Any

import pytest
from actor_tokens import operator
from face_access import admin_token, assert_needs_token, assert_refused, bearer, stranger
from fastapi.testclient import TestClient
from hco_flow import SKODSTRUP, order, send

from nsp_sandbox.context import SandboxContext

FHIR_JSON = "application/fhir+json"
STAFF = ("system-eoj-aarhus", "nurse-aarhus-acute")  # the EOJ's system, an acute-team nurse of Aarhus Kommune
# a GP, a hospital doctor in Aarhus (the region's), another municipality's EOJ and nurse, a citizen
OUTSIDERS = ("gp-skodstrup", "doctor-auh-acute", "system-eoj-copenhagen", "nurse-copenhagen-acute",
             "citizen-2509479989")


def _example(packages: Any) -> dict[str, Any]:
    """An official HCO new-message example, addressed to a practice of the sandbox's GP system."""
    for _, bundle in packages.get("medcom.fhir.dk.homecareobservation").examples():
        entries = [e.get("resource") or {} for e in bundle.get("entry", [])]
        header = entries[0] if entries else {}
        activities = [(r.get("activity") or {}).get("coding", [{}])[0].get("code") for r in entries
                      if r.get("resourceType") == "Provenance"]
        if header.get("resourceType") == "MessageHeader" and activities == ["new-message"]:
            return dict(bundle)
    raise AssertionError("no new-message example in the HCO package")


def _calls(client: TestClient, packages: Any) -> list[tuple[str, str, dict[str, Any], int]]:
    """Every ordering face: method, path, request arguments, and the status the EOJ's staff get."""
    sent = send(client)
    return [
        ("POST", "/eoj/hco", {"json": order()}, 201),
        ("GET", f"/eoj/hco/{sent['id']}", {}, 200),
        ("POST", f"/eoj/hco/{sent['id']}/modify", {"json": {"clinical_comment": "Målt igen."}}, 201),
        ("POST", f"/eoj/hco/{sent['id']}/resend", {}, 409),  # acknowledged: nothing to resend
        ("POST", "/eoj/hco/resend-due", {}, 200),
        ("POST", "/eoj/messages", {"json": _example(packages), "headers": {"Content-Type": FHIR_JSON}}, 201),
        ("GET", "/eoj/corpus", {}, 200),
        ("POST", "/eoj/corpus/run", {"params": {"receiver": SKODSTRUP, "case": "protocol:ReceiveTestExampleExtra3"}},
         200),
        ("POST", f"/eoj/hco/{sent['id']}/retract", {"json": {"reason": "Fejl i CPR-nummer"}}, 201),
    ]


def _with(arguments: dict[str, Any], auth: dict[str, str]) -> dict[str, Any]:
    return {**arguments, "headers": {**arguments.get("headers", {}), **auth}}


def test_every_ordering_face_needs_a_token_of_the_eoj_or_its_municipality(client: TestClient, packages) -> None:  # type: ignore[no-untyped-def]
    plain = stranger(client)
    calls = _calls(client, packages)
    for method, path, arguments, _ in calls:
        assert_needs_token(plain.request(method, path, **arguments))
        assert_needs_token(plain.request(method, path, **_with(arguments, bearer(client, STAFF[0], "lps"))))
        for persona in OUTSIDERS:
            refused = plain.request(method, path, **_with(arguments, bearer(client, persona, "eoj")))
            assert_refused(refused, "eoj-staff-token")
    for method, path, arguments, expected in calls:
        answer = plain.request(method, path, **_with(arguments, bearer(client, STAFF[0], "eoj")))
        assert answer.status_code == expected, f"{method} {path}: {answer.text[:500]}"


@pytest.mark.parametrize("persona", STAFF)
def test_the_eoj_and_a_nurse_of_the_municipality_order(client: TestClient, persona: str) -> None:
    plain = stranger(client)
    sent = plain.post("/eoj/hco", json=order(), headers=bearer(client, persona, "eoj"))
    assert sent.status_code == 201, sent.text
    read = plain.get(f"/eoj/hco/{sent.json()['id']}", headers=bearer(client, persona, "eoj"))
    assert read.status_code == 200 and read.json()["ack"] == "ok", read.text


def _endpoint(client: TestClient) -> dict[str, Any]:
    endpoint: dict[str, Any] = next(e for e in client.get("/eoj/endpoints").json() if e["sor"] == SKODSTRUP)
    return endpoint


def test_the_endpoint_register_is_changed_by_the_operator_only(client: TestClient) -> None:
    plain = stranger(client)
    endpoint = _endpoint(plain)  # reading it stays open
    assert_refused(plain.put("/eoj/endpoints", json=endpoint), "sandbox-operator-loopback")
    as_eoj = bearer(client, "system-eoj-aarhus", "eoj")  # not even the EOJ's own token makes the operator
    assert_refused(plain.put("/eoj/endpoints", json=endpoint, headers=as_eoj), "sandbox-operator-loopback")
    assert operator(client).put("/eoj/endpoints", json=endpoint).status_code == 200


def test_with_an_admin_token_only_that_token_changes_the_register(client: TestClient, context: SandboxContext) -> None:
    endpoint = _endpoint(client)
    with admin_token(context, client) as local:
        assert_needs_token(local.put("/eoj/endpoints", json=endpoint))
        as_eoj = bearer(client, "system-eoj-aarhus", "eoj")
        assert_needs_token(local.put("/eoj/endpoints", json=endpoint, headers=as_eoj))
        opened = local.put("/eoj/endpoints", json=endpoint, headers={"Authorization": "Bearer s3cret"})
        assert opened.status_code == 200, opened.text


def test_the_ehmi_inbox_stays_open_to_senders(client: TestClient) -> None:
    not_an_ack = stranger(client).post("/eoj/ehmi", json={"resourceType": "Bundle"})
    assert not_an_ack.status_code not in (401, 403) and not_an_ack.status_code < 500, not_an_ack.text
