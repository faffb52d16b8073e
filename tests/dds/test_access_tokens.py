"""DDS verifies every token itself: signature against NSP's JWKS, expiry on the sandbox clock,
audience ``dds``. No, forged, expired and wrong-audience tokens answer 401 OperationOutcome."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta

import jwt
import pytest
from access_setup import GRETHE, find
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from mhd_client import Mhd
from sts_client import auth, token

from nsp_sandbox.context import SandboxContext
from sandbox.app import create_sandbox_app


def rule_of(response) -> set[str]:  # type: ignore[no-untyped-def]
    return {c["code"] for i in response.json()["issue"] for c in i.get("details", {}).get("coding", [])
            if c["system"] == "urn:nsp-sandbox:rule"}


def search(client: TestClient, authorization: str | None):  # type: ignore[no-untyped-def]
    headers = {"Authorization": authorization} if authorization is not None else {}
    return client.get("/dds/fhir/DocumentReference", headers=headers,
                      params={"patient.identifier": f"urn:oid:1.2.208.176.1.2|{GRETHE}", "status": "current"})


def test_a_valid_token_is_accepted(client: TestClient) -> None:
    assert search(client, f"Bearer {token(client, 'gp-skodstrup')}").status_code == 200


@pytest.mark.parametrize("authorization", [None, "", "Basic dXNlcjpwdw==", "Bearer", "Bearer not-a-jwt"])
def test_missing_or_malformed_token_is_refused(client: TestClient, authorization: str | None) -> None:
    response = search(client, authorization)
    assert response.status_code == 401
    assert response.json()["resourceType"] == "OperationOutcome"
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_token_signed_with_another_key_is_refused(client: TestClient) -> None:
    genuine = token(client, "gp-skodstrup")
    claims = jwt.decode(genuine, options={"verify_signature": False})
    kid = jwt.get_unverified_header(genuine)["kid"]
    forged = jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": kid})
    response = search(client, f"Bearer {forged}")
    assert response.status_code == 401
    assert rule_of(response) == {"token-signature"}


def test_a_token_with_changed_claims_is_refused(client: TestClient) -> None:
    header, payload, signature = token(client, "citizen-2509479989").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["acting_cpr"] = GRETHE  # pretend to be someone else, keep the signature
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    response = search(client, f"Bearer {header}.{forged_payload}.{signature}")
    assert response.status_code == 401
    assert rule_of(response) == {"token-signature"}


def test_an_unsigned_token_is_refused(client: TestClient) -> None:
    claims = jwt.decode(token(client, "gp-skodstrup"), options={"verify_signature": False})
    unsigned = jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]
    assert search(client, f"Bearer {unsigned}").status_code == 401


def test_an_expired_token_is_refused_by_the_sandbox_clock(client: TestClient, context: SandboxContext) -> None:
    bearer = f"Bearer {token(client, 'gp-skodstrup')}"
    assert search(client, bearer).status_code == 200
    context.clock.travel_to(context.clock.now() + timedelta(minutes=11))
    response = search(client, bearer)
    assert response.status_code == 401
    assert rule_of(response) == {"token-expired"}


def test_a_token_for_another_service_is_refused(client: TestClient) -> None:
    response = search(client, f"Bearer {token(client, 'gp-skodstrup', audience='plsp')}")
    assert response.status_code == 401
    assert rule_of(response) == {"token-audience"}
    nsp_only = f"Bearer {token(client, 'gp-skodstrup', audience=['nsp'])}"
    assert rule_of(search(client, nsp_only)) == {"token-audience"}


def test_provide_needs_a_token_and_a_citizen_may_not_provide(client: TestClient, mhd: Mhd) -> None:
    bundle = mhd.bundle((mhd.document_reference(), mhd.examples.hco))
    plain = TestClient(client.app, base_url=str(client.base_url))
    assert plain.post("/dds/fhir", json=bundle, headers={"Content-Type": "application/fhir+json"}).status_code == 401
    response = plain.post("/dds/fhir", json=bundle, headers={"Content-Type": "application/fhir+json",
                                                             **auth(client, f"citizen-{GRETHE}")})
    assert response.status_code == 403
    assert plain.post("/dds/fhir", json=bundle, headers={"Content-Type": "application/fhir+json",
                                                         **auth(client, "system-eoj-aarhus")}).status_code == 200


def test_the_jwks_is_fetched_again_for_a_new_key(client: TestClient) -> None:
    """DDS caches NSP's keys; a token naming an unknown key id makes it ask NSP again (and refuse)."""
    assert search(client, f"Bearer {token(client, 'gp-skodstrup')}").status_code == 200
    other = jwt.encode({"sub": "x", "iat": int(time.time())}, ec.generate_private_key(ec.SECP256R1()),
                       algorithm="ES256", headers={"kid": "unknown-key"})
    response = search(client, f"Bearer {other}")
    assert response.status_code == 401
    assert rule_of(response) == {"token-signature"}


def test_reads_by_id_need_a_token(client: TestClient, mhd: Mhd) -> None:
    entry_id = mhd.provide_hco()
    plain = TestClient(client.app, base_url=str(client.base_url))
    for path in (f"/dds/fhir/DocumentReference/{entry_id}", f"/dds/documents/{entry_id}"):
        assert plain.get(path).status_code == 401
    assert find(plain, None, GRETHE).status_code == 401


def test_access_control_can_be_switched_off(context: SandboxContext, mhd: Mhd) -> None:
    """``NSP_SANDBOX_DDS_ACCESS_CONTROL=false``: everything open, nothing logged (for experiments)."""
    entry_id = mhd.provide_hco()
    open_context = SandboxContext(context.settings.model_copy(update={"dds_access_control": False}),
                                  context.clock, context.database)
    open_context._packages = context._packages
    with TestClient(create_sandbox_app(open_context, warm_packages=False), base_url="http://sandbox.test") as plain:
        assert search(plain, None).json()["total"] == 1
        assert plain.get(f"/dds/documents/{entry_id}").status_code == 200
        log = plain.get("/nsp/minlog", headers=auth(plain, f"citizen-{GRETHE}"))
        assert log.json() == []
