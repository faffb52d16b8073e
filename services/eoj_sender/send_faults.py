"""How the EOJ sends when a fault switch says it should misbehave (``nsp_sandbox.faults``, actor ``eoj``),
for testing a vendor's GP system: ``resend`` (each message sent again at once, a new Bundle.id and
the same MessageHeader.id, without waiting for the acknowledgement), ``duplicate`` (each message sent
twice, identical), ``broken-chain`` (a modification or retraction whose Provenance.entity names a
message that was never sent). Each switch uses one of its calls per message it changes; the
EOJ's own records keep the true message."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from nsp_sandbox import fhir_shape as shape
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.faults import FaultSwitches
from nsp_sandbox.fhir_format import serialise
from nsp_sandbox.hco_sbdh import RECEIPT_MS
from services.eoj_sender.transport import post_message


def broken_chain(bundle: dict[str, Any]) -> dict[str, Any] | None:
    """``bundle`` with its own Provenance pointing at an unknown MessageHeader; None for a new message."""
    changed = copy.deepcopy(bundle)
    resources = shape.resources(changed)
    header_id = shape.text(resources[0].get("id")) if resources else ""
    own = shape.own_provenance(resources, header_id)
    if shape.previous_header(own) is None:
        return None
    for entity in shape.arr(own.get("entity")):
        what = shape.obj(entity).get("what")
        if isinstance(what, dict) and shape.reference(what).startswith("MessageHeader/"):
            what["reference"] = f"MessageHeader/{uuid.uuid4()}"
    return changed


async def post(context: SandboxContext, url: str, bundle: dict[str, Any], *, envelope: str, now: datetime,
               fhir_format: str = "json", type_version: str | None = None, receipt_ms: int = RECEIPT_MS,
               enveloped: Callable[[str], Awaitable[None]] | None = None) -> str:
    """Send ``bundle`` as :func:`post_message` does (as FHIR JSON or FHIR XML, the envelope naming
    ``type_version``), misbehaving as the switches that are on say."""
    async def send(sent: dict[str, Any]) -> str:
        xml = serialise(sent, "xml", context.validator.structures) if fhir_format == "xml" else None
        return await post_message(context.peers, url, sent, envelope=envelope, now=now, xml=xml,
                                  type_version=type_version, receipt_ms=receipt_ms, enveloped=enveloped)

    switches = FaultSwitches.of(context.database, context.clock)
    if switches.is_on("eoj", "broken-chain") and (broken := broken_chain(bundle)) is not None \
            and await switches.taken("eoj", "broken-chain") is not None:
        bundle = broken
    result = await send(bundle)
    if await switches.taken("eoj", "duplicate") is not None:
        result += "; sent again (fault switch eoj/duplicate): " + await send(bundle)
    if await switches.taken("eoj", "resend") is not None:
        again = {**bundle, "id": str(uuid.uuid4()), "timestamp": now.isoformat(timespec="seconds")}
        result += "; resent at once (fault switch eoj/resend): " + await send(again)
    return result[:500]
