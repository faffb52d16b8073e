"""Which of DDS's doors the EOJ shares through — decided here and nowhere else.

``NSP_SANDBOX_EOJ_DDS_TRANSPORT=mhd`` (default): ITI-65 with a bearer token from NSP's STS, a correction
as a DocumentReference that ``replaces`` the current one, a retraction as an ITI-92 status update
(``entered-in-error``, with the retraction's reason as ``description``). ``xds``: the same
DocumentReference mapped to ebRIM (dds-nsp.md §4.3) and sent as ITI-41 to DROS over DGWS with the
EOJ's system ID card, a correction as an RPLC association, a retraction as an ITI-57 deprecation.
Both answer the DDS entry id, which both faces of DDS show.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from nsp_sandbox.config import DdsTransport
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.mhd_source import AsyncDocumentSource, DocumentMetadata
from nsp_sandbox.xds.source import XdsDocumentSource
from services.eoj_sender.nsp_registers import NspRegisters


class DdsDoor(Protocol):
    async def provide(self, meta: DocumentMetadata, content: bytes, *, submitted: datetime,
                      replaces: str | None) -> str: ...

    async def deprecate(self, entry_id: str, cpr: str, *, reason: str | None = None) -> None: ...


class MhdDoor:
    """ITI-65 / ITI-92 through :class:`AsyncDocumentSource`, exactly as the EOJ always did."""

    def __init__(self, source: AsyncDocumentSource) -> None:
        self._source = source

    async def provide(self, meta: DocumentMetadata, content: bytes, *, submitted: datetime,
                      replaces: str | None) -> str:
        mapping = {meta.unique_id: replaces} if replaces else None
        return (await self._source.provide([(meta, content)], submitted=submitted, replaces=mapping))[0]

    async def deprecate(self, entry_id: str, cpr: str, *, reason: str | None = None) -> None:
        await self._source.deprecate(entry_id, description=reason)  # the reason: DocumentEntry.comments


class XdsDoor:
    """ITI-41 (RPLC) / ITI-57 to DROS through :class:`XdsDocumentSource`."""

    def __init__(self, source: XdsDocumentSource) -> None:
        self._source = source

    async def provide(self, meta: DocumentMetadata, content: bytes, *, submitted: datetime,
                      replaces: str | None) -> str:
        return await self._source.provide(meta, content, replaces=replaces)

    async def deprecate(self, entry_id: str, cpr: str, *, reason: str | None = None) -> None:
        await self._source.deprecate(entry_id, cpr)  # ITI-57 here carries the status only, not the reason


async def door(context: SandboxContext, nsp: NspRegisters, source_id: str) -> DdsDoor:
    """The door the settings choose (``eoj_dds_transport``)."""
    peers = context.peers
    if context.settings.eoj_dds_transport is DdsTransport.XDS:
        return XdsDoor(XdsDocumentSource(
            dds_url=peers.url("dds"), nsp_url=peers.url("nsp"), persona=context.settings.eoj_persona,
            source_id=source_id, client=peers.client("dds"), card_client=peers.client("nsp"),
            now=context.clock.now))  # fmt: skip
    token = await nsp.token("dds")
    return MhdDoor(AsyncDocumentSource(f"{peers.url('dds')}/fhir", source_id=source_id, client=peers.client("dds"),
                                       headers={"Authorization": f"Bearer {token}"}))
