"""The STS's signing key: an EC P-256 key pair generated at first start and kept in
``nsp_signing_key``, so tokens stay valid across restarts; its public half is the JWKS."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from nsp_sandbox.clock import naive_utc
from nsp_sandbox.database import Database
from nsp_sandbox.tokens import ALGORITHM
from services.nsp.models import SigningKeyRow


class SigningKey:
    def __init__(self, kid: str, private_pem: str) -> None:
        self.kid = kid
        self.private_key = serialization.load_pem_private_key(private_pem.encode(), password=None)

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.private_key, algorithm=ALGORITHM, headers={"kid": self.kid})  # type: ignore[arg-type]

    def jwks(self) -> dict[str, Any]:
        public = jwt.algorithms.ECAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)  # type: ignore[arg-type]
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": ALGORITHM}]}


def load_or_create(database: Database, now: datetime) -> SigningKey:
    """The stored key, or a new one stored now (a concurrent first start keeps the winner's)."""
    with database.session() as session:
        row = session.scalars(select(SigningKeyRow).order_by(SigningKeyRow.pk)).first()
        if row is not None:
            return SigningKey(row.kid, row.private_pem)
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    try:
        with database.session() as session:
            session.add(SigningKeyRow(kid=str(uuid.uuid4()), private_pem=pem,
                                      created_at=naive_utc(now)))
    except IntegrityError:
        pass
    return load_or_create(database, now)



