"""A token that verifies is still refused when its claims have the wrong types or it lives too long:
401 with rule ``token-claims``, never a 500."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from nsp_sandbox.outcome import FhirError
from nsp_sandbox.tokens import ALGORITHM, ISSUER, MAX_LIFETIME_SECONDS, audience, verify

KEY = ec.generate_private_key(ec.SECP256R1())
JWK = {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(KEY.public_key())), "kid": "k1"}
JWKS = {"keys": [JWK]}


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {"iss": ISSUER, "aud": audience("dds"), "sub": "gp-skodstrup", "jti": "t1",
                            "iat": now, "nbf": now, "exp": now + 600, "persona_kind": "professional",
                            "id_card_type": "user", "assurance_level": 4, "name": "Lars Lund",
                            "user_type": "nsi:HealthcareProfessional", "authorisation": "SK7T1",
                            "organisation": {"sor": "123", "name": "Lægehuset"}, "acts_for": []}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


def signed(body: dict[str, Any]) -> str:
    return jwt.encode(body, KEY, algorithm=ALGORITHM, headers={"kid": "k1"})


def test_a_well_typed_token_verifies() -> None:
    assert verify(signed(claims()), JWKS, audience("dds"), datetime.now(UTC)).authorisation == "SK7T1"


@pytest.mark.parametrize("changes, named", [
    ({"exp": "tomorrow"}, "exp"),
    ({"iat": True}, "iat"),
    ({"name": 42}, "name"),
    ({"assurance_level": "4"}, "assurance_level"),
    ({"acts_for": "2509479989"}, "acts_for"),
    ({"organisation": {"sor": 123}}, "organisation"),
    ({"authorisation": ["SK7T1"]}, "authorisation"),
])
def test_wrongly_typed_claims_are_refused_with_401(changes: dict[str, Any], named: str) -> None:
    with pytest.raises(FhirError) as refused:
        verify(signed(claims(**changes)), JWKS, audience("dds"), datetime.now(UTC))
    assert refused.value.status == 401
    assert refused.value.issues[0].rule == "token-claims" and f"'{named}'" in refused.value.issues[0].diagnostics


def test_a_token_may_live_at_most_a_day() -> None:
    now = int(time.time())  # issued at this very second, whenever the next one begins: the lifetime is exp - iat
    verify(signed(claims(iat=now, nbf=now, exp=now + MAX_LIFETIME_SECONDS)), JWKS, audience("dds"), datetime.now(UTC))
    with pytest.raises(FhirError) as refused:
        verify(signed(claims(iat=now, nbf=now, exp=now + MAX_LIFETIME_SECONDS + 1)), JWKS, audience("dds"),
               datetime.now(UTC))
    assert refused.value.issues[0].rule == "token-claims"


def test_a_token_verified_before_is_still_judged_at_each_use() -> None:
    """The signature and claims of a token are checked once; its lifetime, the key being published and
    the audience are judged at every use."""
    token = signed(claims())
    now = datetime.now(UTC)
    assert verify(token, JWKS, audience("dds"), now).authorisation == "SK7T1"
    assert verify(token, JWKS, audience("dds"), now).authorisation == "SK7T1"
    with pytest.raises(FhirError) as expired:
        verify(token, JWKS, audience("dds"), datetime.fromtimestamp(now.timestamp() + 3600, UTC))
    assert expired.value.issues[0].rule == "token-expired"
    with pytest.raises(FhirError) as early:
        verify(token, JWKS, audience("dds"), datetime.fromtimestamp(now.timestamp() - 3600, UTC))
    assert early.value.issues[0].rule == "token-not-yet-valid"
    with pytest.raises(FhirError) as withdrawn:
        verify(token, {"keys": []}, audience("dds"), now)
    assert withdrawn.value.issues[0].rule == "token-signature"
    with pytest.raises(FhirError) as elsewhere:
        verify(token, JWKS, audience("plsp"), now)
    assert elsewhere.value.issues[0].rule == "token-audience"
    other = ec.generate_private_key(ec.SECP256R1())
    replaced = {"keys": [{**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(other.public_key())), "kid": "k1"}]}
    with pytest.raises(FhirError) as rekeyed:  # the same key id now names another key: checked again
        verify(token, replaced, audience("dds"), now)
    assert rekeyed.value.issues[0].rule == "token-signature"


def test_a_token_that_is_no_jwt_is_refused_at_every_use() -> None:
    """A header's key id is kept only for a token that decoded: a malformed one is refused each time."""
    for _ in range(2):
        with pytest.raises(FhirError) as refused:
            verify("not.a-jwt", JWKS, audience("dds"), datetime.now(UTC))
        assert refused.value.issues[0].rule == "token-format"
