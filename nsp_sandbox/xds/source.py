"""An XDS.b Document Source for the sandbox's own actors: the same :class:`~nsp_sandbox.mhd_source.DocumentMetadata`
they describe documents with for MHD, submitted through DDS's XDS.b door instead (docs/xds.md).

The DocumentReference is built exactly as for ITI-65 (:func:`nsp_sandbox.mhd_source.document_reference`)
and mapped to ebRIM by :mod:`nsp_sandbox.xds.from_mhd`, so both doors receive the same metadata. Sources
talk to DROS (``/dds/dros``: ITI-41, ITI-57, ITI-61; dds-nsp.md §1.1) with a system ID card from NSP's
STS for the actor's persona, fetched per operation (the sandbox clock may move past a card's 24 hours).
Entry ids are the bare entryUUIDs, which are also the ids of the DocumentReferences DDS's MHD face shows.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx2 as httpx

from nsp_sandbox.mhd_source import DocumentMetadata, document_reference
from nsp_sandbox.xds import from_mhd
from nsp_sandbox.xds.client import AsyncXdsClient, accepted
from nsp_sandbox.xds.ebrim import Document
from nsp_sandbox.xds.hl7v2 import XON


class XdsDocumentSource:
    """Submits to DDS's XDS.b door for one source (``source_id``, an OID) as ``persona``."""

    def __init__(self, *, dds_url: str, nsp_url: str, persona: str, source_id: str, client: httpx.AsyncClient,
                 card_client: httpx.AsyncClient, now: Callable[[], datetime]) -> None:
        self._options: dict[str, Any] = {"nsp_url": nsp_url, "persona": persona, "client": client,
                                         "card_client": card_client, "now": now}
        self.dds_url, self.source_id, self._now = dds_url, source_id, now

    def _client(self) -> AsyncXdsClient:
        return AsyncXdsClient(self.dds_url, **self._options)

    def _info(self, cpr: str, resource: dict[str, Any] | None = None) -> from_mhd.SubmissionSetInfo:
        institution = None
        if resource is not None:
            entry = from_mhd.document_entry(resource)
            author = next(iter(entry.classified(from_mhd.v.DE_AUTHOR)), None)
            institution = next(iter(author.slot_values("authorInstitution")), None) if author else None
        return from_mhd.SubmissionSetInfo(self.source_id, cpr, self._now(), institution)

    async def provide(self, meta: DocumentMetadata, content: bytes, *, replaces: str | None = None) -> str:
        """ITI-41 of one document (an RPLC of entry ``replaces`` when given); answers the new entry's id."""
        resource = document_reference(meta, f"urn:uuid:{uuid.uuid4()}")
        entry = from_mhd.document_entry(resource)
        info = from_mhd.SubmissionSetInfo(self.source_id, meta.patient.cpr, self._now(),
                                          XON(meta.author.name, from_mhd.SOR_OID, meta.author.sor).format())
        rplc = {entry.id: f"urn:uuid:{replaces}"} if replaces else None
        client = self._client()
        accepted("ITI-41", await client.provide(from_mhd.submission([entry], info, rplc), [Document(entry.id, content)],
                                                url=client.endpoints.dros))
        return from_mhd.bare_id(entry.id)

    async def register_on_demand(self, resource: dict[str, Any]) -> str:
        """ITI-61 of one on-demand entry described by ``resource`` (a DocumentReference); answers its id."""
        entry = from_mhd.document_entry(resource, on_demand=True)
        info = self._info(from_mhd.patient_cpr(resource), resource)
        accepted("ITI-61", await self._client().register_on_demand(from_mhd.submission([entry], info)))
        return from_mhd.bare_id(entry.id)

    async def deprecate(self, entry_id: str, cpr: str) -> None:
        """ITI-57: entry ``entry_id`` Approved → Deprecated (DDS: "slettemarkering")."""
        client = self._client()
        update = from_mhd.status_update(f"urn:uuid:{entry_id}", self._info(cpr))
        accepted("ITI-57", await client.deprecate(update, url=client.endpoints.dros))
