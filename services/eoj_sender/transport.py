"""EHMI-style transport: the message Bundle is POSTed to the receiver's endpoint as FHIR JSON (or FHIR
XML, as it was given to the EOJ), or wrapped in an SBDH envelope addressed ``0088:<GLN>``
(``nsp_sandbox.hco_sbdh``) when the endpoint register says so. The HTTP answer only says the inbox
took it (a receipt); the MedCom Acknowledgement arrives later at the EOJ's own ``/eoj/ehmi``."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx2 as httpx

from nsp_sandbox.hco_sbdh import CONTENT_TYPE as SBDH_CONTENT_TYPE
from nsp_sandbox.hco_sbdh import RECEIPT_MS, wrap
from nsp_sandbox.peers import Peers

FHIR_JSON = "application/fhir+json"
FHIR_XML = "application/fhir+xml"


async def post_message(peers: Peers, url: str, bundle: dict[str, Any], *, envelope: str = "none",
                       now: datetime | None = None, xml: bytes | None = None, type_version: str | None = None,
                       receipt_ms: int = RECEIPT_MS,
                       enveloped: Callable[[str], Awaitable[None]] | None = None) -> str:
    """POST ``bundle`` to ``url`` (``envelope`` ``sbdh``: in an SBDH envelope whose TypeVersion is
    ``type_version``, asking for its receipt within ``receipt_ms``, whose InstanceIdentifier ``enveloped``
    is told before it is sent; ``xml``: the message as FHIR XML, sent as that); answers a one-line receipt
    (``HTTP 202``, with the envelope's InstanceIdentifier, or what went wrong)."""
    body, content_type, note = json.dumps(bundle, ensure_ascii=False).encode("utf-8"), FHIR_JSON, ""
    if xml is not None:
        body, content_type = xml, FHIR_XML
    if envelope == "sbdh":
        try:
            body, instance = wrap(bundle, now or datetime.now(UTC), content=body, content_type=content_type,
                                  type_version=type_version, receipt_ms=receipt_ms)
        except ValueError as exc:
            return f"not delivered: {exc}"[:500]
        content_type, note = SBDH_CONTENT_TYPE, f" (SBDH envelope {instance})"
        if enveloped is not None:  # before it travels: its receipt may come back before the answer does
            await enveloped(instance)
    try:
        response = await peers.client_for_url(url).post(
            url, content=body, headers={"Content-Type": content_type, "Accept": FHIR_JSON})
    except httpx.HTTPError as exc:
        return f"not delivered: {type(exc).__name__}: {exc}"[:500]
    return f"HTTP {response.status_code}{note}"


_ENVELOPE = re.compile(r"\(SBDH envelope ([^)\s]+)\)")


def envelope_of(result: str) -> str | None:
    """The SBDH InstanceIdentifier a :func:`post_message` receipt names, if the message went in one."""
    match = _ENVELOPE.search(result)
    return match.group(1) if match else None
