"""EHMI-style transport: the message Bundle is POSTed as FHIR JSON to the receiver's endpoint. The
HTTP answer only says the inbox took it (a receipt); the MedCom Acknowledgement arrives later at
the EOJ's own ``/eoj/ehmi``."""

from __future__ import annotations

import json
from typing import Any

import httpx2 as httpx

from nsp_sandbox.peers import Peers

FHIR_JSON = "application/fhir+json"


async def post_message(peers: Peers, url: str, bundle: dict[str, Any]) -> str:
    """POST ``bundle`` to ``url``; answers a one-line receipt (``HTTP 202`` or what went wrong)."""
    body = json.dumps(bundle, ensure_ascii=False).encode("utf-8")
    try:
        response = await peers.client_for_url(url).post(
            url, content=body, headers={"Content-Type": FHIR_JSON, "Accept": FHIR_JSON})
    except httpx.HTTPError as exc:
        return f"not delivered: {type(exc).__name__}: {exc}"[:500]
    return f"HTTP {response.status_code}"
