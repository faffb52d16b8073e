"""DDS towards NSP (consent blocks, treatment relations, persons, Min Log) through the platform's
NSP client, with DDS's own system token (persona ``settings.dds_nsp_persona``).

When NSP cannot answer, the look-up is refused (503): DDS never shows data it cannot check or log.
"""

from __future__ import annotations

import httpx2 as httpx

from nsp_sandbox.clock import Clock
from nsp_sandbox.nsp_client import NspClient
from nsp_sandbox.outcome import FhirError, Issue
from nsp_sandbox.peers import Peers

SOURCE = "DDS consent handling (nspop 121380616): no check, no data"


def nsp_unavailable(why: str, _response: httpx.Response | None = None) -> FhirError:
    return FhirError(503, Issue("error", "transient", f"NSP could not be asked, so the look-up is refused: {why}",
                                rule="nsp-available", source=SOURCE), headers={"Retry-After": "5"})


def dds_nsp_client(peers: Peers, clock: Clock, persona: str) -> NspClient:
    """NSP as DDS reaches it: every failure refuses the look-up with 503."""
    return NspClient(peers, clock, persona=persona, on_failure=nsp_unavailable)
