"""RSA keys and self-signed X.509 certificates for signing ID cards (the sandbox STS) and STS
requests (test clients), made with :mod:`cryptography`; PEM in and out for storage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

KEY_SIZE = 2048
# Wide validity so cards verify wherever the sandbox clock travels (the captures live in 2019).
NOT_BEFORE = datetime(2000, 1, 1, tzinfo=UTC)
VALID_YEARS = 30


@dataclass(frozen=True)
class KeyPair:
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    def private_pem(self) -> str:
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()).decode()

    def certificate_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    @classmethod
    def from_pem(cls, private_pem: str, certificate_pem: str, *, own: bool = False) -> KeyPair:
        """The pair from PEM; ``own``: a key this sandbox generated and stored itself, read without OpenSSL's
        RSA consistency check (tens of milliseconds a key), which guards against keys from elsewhere."""
        key = serialization.load_pem_private_key(private_pem.encode(), password=None,
                                                 unsafe_skip_rsa_key_validation=own)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the stored key is not an RSA key")
        return cls(key, x509.load_pem_x509_certificate(certificate_pem.encode()))


def self_signed(common_name: str, organisation: str, now: datetime, *, not_before: datetime = NOT_BEFORE,
                years: int = VALID_YEARS) -> KeyPair:
    """A new RSA key and a self-signed certificate for it, valid from ``not_before`` to ``years`` after ``now``."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "DK"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(min(not_before, now)).not_valid_after(now + timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return KeyPair(key, certificate)
