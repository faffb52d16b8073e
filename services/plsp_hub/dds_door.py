"""Which of DDS's doors the hub registers its on-demand entries through — decided here and nowhere else.

``NSP_SANDBOX_PLSP_DDS_TRANSPORT=mhd`` (default): ITI-65 (a DocumentReference without Binary whose
``attachment.url`` is the hub's retrieve URL) and an ITI-92 status update to withdraw. ``xds``: the same
DocumentReference mapped to an on-demand DocumentEntry (its retrieve URL in the ``URI`` slot) and sent
as ITI-61 to DROS over DGWS with the hub's system ID card; withdrawal is an ITI-57 deprecation, which DDS
stores as a retraction (``entered-in-error``): ITI-57 carries only Deprecated, so a withdrawal that is
``superseded`` over MHD ends ``entered-in-error`` here (docs/xds.md, "Statuses").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

from nsp_sandbox.config import DdsTransport
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.mhd_source import AsyncDocumentSource
from nsp_sandbox.xds.source import XdsDocumentSource
from services.plsp_hub import on_demand_entry
from services.plsp_hub.nsp import HubNsp

Send = Callable[[str, str, dict[str, Any]], Awaitable[dict[str, Any]]]


class HubDoor(Protocol):
    async def register(self, entry: dict[str, Any], *, cpr: str, submitted: datetime) -> str: ...

    async def deprecate(self, dds_id: str, status: str, *, cpr: str) -> None: ...


class MhdHubDoor:
    """ITI-65 registration and ITI-92 withdrawal, exactly as the hub always did."""

    def __init__(self, context: SandboxContext, nsp: HubNsp, send: Send, source_id: str) -> None:
        self._context, self._nsp, self._send, self._source_id = context, nsp, send, source_id

    async def register(self, entry: dict[str, Any], *, cpr: str, submitted: datetime) -> str:
        bundle = on_demand_entry.registration_bundle([entry], source_id=self._source_id, submitted=submitted,
                                                     patient_cpr=cpr)
        answer = await self._send("POST", "/fhir", bundle)
        locations = [e.get("response", {}).get("location", "") for e in answer.get("entry", [])]
        return next(loc.split("/")[1] for loc in locations if loc.startswith("DocumentReference/"))

    async def deprecate(self, dds_id: str, status: str, *, cpr: str) -> None:
        peers = self._context.peers
        source = AsyncDocumentSource(f"{peers.url('dds')}/fhir", source_id=self._source_id, client=peers.client("dds"),
                                     headers={"Authorization": f"Bearer {await self._nsp.token('dds')}"})
        await source.deprecate(dds_id, status)


class XdsHubDoor:
    """ITI-61 registration and ITI-57 withdrawal to DROS."""

    def __init__(self, source: XdsDocumentSource) -> None:
        self._source = source

    async def register(self, entry: dict[str, Any], *, cpr: str, submitted: datetime) -> str:
        return await self._source.register_on_demand(entry)

    async def deprecate(self, dds_id: str, status: str, *, cpr: str) -> None:
        await self._source.deprecate(dds_id, cpr)


def door(context: SandboxContext, nsp: HubNsp, send: Send, source_id: str) -> HubDoor:
    """The door the settings choose (``plsp_dds_transport``)."""
    if context.settings.plsp_dds_transport is DdsTransport.XDS:
        peers = context.peers
        return XdsHubDoor(XdsDocumentSource(
            dds_url=peers.url("dds"), nsp_url=peers.url("nsp"), persona=context.settings.plsp_persona,
            source_id=source_id, client=peers.client("dds"), card_client=peers.client("nsp"),
            now=context.clock.now))  # fmt: skip
    return MhdHubDoor(context, nsp, send, source_id)
