"""DGWS settings, read from the environment (``:``-separated PEM files or folders):

* ``NSP_SANDBOX_DGWS_TRUSTED_STS_CERTS``: STS certificates whose ID cards DDS accepts beyond the
  sandbox STS's own (e.g. the national test STS, "SOSI Test Federation");
* ``NSP_SANDBOX_STS_CLIENT_CERTS``: client certificates the sandbox STS accepts in a request; unset
  means any self-signed test certificate. A client certificate never signs ID cards itself;
* ``NSP_SANDBOX_DGWS_CLOCK_SKEW_SECONDS``: slack allowed on ``Conditions`` (default 300).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from nsp_sandbox.dgws.certificates import TrustList, load_pem_certificates
from nsp_sandbox.digits import all_digits

DEFAULT_CLOCK_SKEW_SECONDS = 300


@dataclass(frozen=True)
class DgwsSettings:
    trusted_sts_certs: TrustList
    sts_client_certs: TrustList | None  # None: any self-signed test certificate
    clock_skew_seconds: int = DEFAULT_CLOCK_SKEW_SECONDS


def _paths(value: str) -> list[Path]:
    return [Path(part) for part in value.split(":") if part.strip()]


def _certificates(value: str) -> tuple[x509.Certificate, ...]:
    return tuple(load_pem_certificates(_paths(value)))


def dgws_settings(environ: Mapping[str, str] | None = None) -> DgwsSettings:
    """The DGWS settings from ``environ`` (default ``os.environ``); an unreadable file raises
    :class:`~nsp_sandbox.dgws.certificates.CertificateFileError` naming it."""
    env = os.environ if environ is None else environ
    clients = env.get("NSP_SANDBOX_STS_CLIENT_CERTS", "")
    skew = env.get("NSP_SANDBOX_DGWS_CLOCK_SKEW_SECONDS", "").strip()
    if skew and not all_digits(skew):
        raise ValueError(f"NSP_SANDBOX_DGWS_CLOCK_SKEW_SECONDS must be a whole number of seconds, not '{skew}'")
    return DgwsSettings(
        trusted_sts_certs=TrustList(_certificates(env.get("NSP_SANDBOX_DGWS_TRUSTED_STS_CERTS", ""))),
        sts_client_certs=TrustList(_certificates(clients)) if clients.strip() else None,
        clock_skew_seconds=int(skew) if skew else DEFAULT_CLOCK_SKEW_SECONDS,
    )
