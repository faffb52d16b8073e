"""X.509 certificates for DGWS: loading PEM files and folders, comparing certificates by their
DER bytes (trust is a certificate in a trust list, never what a message's KeyInfo claims) and
judging a certificate's validity at a given instant (DGWS 1.0.1: the signing certificate must be
valid when the ID card is used)."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

PEM_SUFFIXES = (".pem", ".crt", ".cer")


class CertificateFileError(ValueError):
    """A configured certificate file or folder that cannot be read (names the path)."""


def load_pem_certificates(paths: Iterable[Path]) -> list[x509.Certificate]:
    """Every certificate in ``paths``: a PEM file (one or more certificates) or a folder of them."""
    found: list[x509.Certificate] = []
    for path in paths:
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in PEM_SUFFIXES) if path.is_dir() else [path]
        for file in files:
            try:
                found.extend(x509.load_pem_x509_certificates(file.read_bytes()))
            except (OSError, ValueError) as exc:
                raise CertificateFileError(f"{file}: no PEM certificate could be read ({exc})") from exc
    return found


def from_base64_der(text: str) -> x509.Certificate:
    """The certificate in a ``ds:X509Certificate`` element's text (base64 DER, whitespace allowed)."""
    return x509.load_der_x509_certificate(base64.b64decode("".join(text.split())))


def to_pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def is_self_signed(certificate: x509.Certificate) -> bool:
    """Subject equals issuer and the certificate's own key verifies its signature."""
    if certificate.subject != certificate.issuer:
        return False
    try:
        certificate.verify_directly_issued_by(certificate)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def validity_problem(certificate: x509.Certificate, now: datetime) -> str | None:
    """Why ``certificate`` is not valid at ``now`` (a sentence), or ``None`` when it is."""
    if now < certificate.not_valid_before_utc:
        return f"the certificate is not valid before {certificate.not_valid_before_utc.isoformat()}"
    if now > certificate.not_valid_after_utc:
        return f"the certificate expired at {certificate.not_valid_after_utc.isoformat()}"
    return None


def describe(certificate: x509.Certificate) -> str:
    """Subject and serial, for messages."""
    return f"{certificate.subject.rfc4514_string()} (serial {certificate.serial_number})"


@dataclass(frozen=True)
class TrustList:
    """Certificates compared by their exact DER encoding."""

    certificates: tuple[x509.Certificate, ...] = ()

    def __contains__(self, certificate: object) -> bool:
        if not isinstance(certificate, x509.Certificate):
            return False
        der = certificate.public_bytes(serialization.Encoding.DER)
        return any(c.public_bytes(serialization.Encoding.DER) == der for c in self.certificates)

    def plus(self, *more: x509.Certificate) -> TrustList:
        return TrustList((*self.certificates, *more))
