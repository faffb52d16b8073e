"""The STS certificates a DGWS face (DDS) trusts ID cards by (dds-nsp.md §1.3): the sandbox STS's
own, learnt over HTTP from ``GET /nsp/sts/certificate``, plus ``NSP_SANDBOX_DGWS_TRUSTED_STS_CERTS``
(e.g. the national test STS). Client certificates the STS accepts are never part of it."""

from __future__ import annotations

import httpx2 as httpx
from cryptography import x509

from nsp_sandbox.dgws.certificates import TrustList
from nsp_sandbox.dgws.faults import DgwsFault
from nsp_sandbox.dgws.settings import DgwsSettings
from nsp_sandbox.peers import Peers

CERTIFICATE_PATH = "/sts/certificate"


async def sandbox_sts_certificate(peers: Peers) -> x509.Certificate:
    """The sandbox STS's certificate from NSP; ``processing_problem`` when NSP does not give one."""
    url = f"{peers.url('nsp')}{CERTIFICATE_PATH}"
    try:
        response = await peers.client("nsp").get(url)
        response.raise_for_status()
        return x509.load_pem_x509_certificate(response.content)
    except (httpx.HTTPError, ValueError) as exc:
        raise DgwsFault("processing_problem", f"The sandbox STS certificate could not be read from {url}: "
                        f"{type(exc).__name__}") from exc


def trusted_sts(sandbox_sts: x509.Certificate | None, settings: DgwsSettings) -> TrustList:
    """The sandbox STS's certificate (if known) and the configured trusted STS certificates."""
    own = (sandbox_sts,) if sandbox_sts is not None else ()
    return settings.trusted_sts_certs.plus(*own)
