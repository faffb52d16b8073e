"""ITI-62 Remove Metadata meeting a provide of the same document bytes, on PostgreSQL.

DDS keeps a document once by its hash, shared by every entry of the same bytes, and a removal deletes a
document no remaining entry points at. On PostgreSQL two workers' transactions interleave: here another worker
removes the only entry of a document while a provide that found the document stored has not yet written its
own entry. (On SQLite a writing transaction holds the database from its start, and they take turns.)
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from mhd_client import Mhd
from sqlalchemy import text

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.database import lock_key
from services.dds import storage
from services.dds.registry import Registry
from services.dds.removal import MetadataRemoval, Removed


def _waits_for(context: SandboxContext, key: int) -> bool:
    """Does a transaction wait for the advisory lock ``key``?"""
    with context.database.engine.connect() as connection:
        return bool(connection.execute(text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objsubid = 1 "
            "AND classid::bigint = :high AND objid::bigint = :low"),
            {"high": (key >> 32) & 0xFFFFFFFF, "low": key & 0xFFFFFFFF}).scalar())


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_removal_while_the_same_bytes_are_provided_keeps_the_document(
        client: TestClient, mhd: Mhd, context: SandboxContext, monkeypatch: pytest.MonkeyPatch) -> None:
    first = mhd.provide_hco()
    entry_uuid = next(i["value"] for i in mhd.read(first)["identifier"] if i["value"].startswith("urn:uuid:"))
    removal = MetadataRemoval(Registry(context.database))
    outcome: dict[str, Removed | BaseException] = {}
    original = storage.store_documents
    held: list[int] = []

    def removed_meanwhile(unit: Any, documents: Any) -> None:
        documents = list(documents)
        original(unit, documents)
        if held:
            return
        # The document is stored already (the first entry's); this provide's entry is not written yet.
        held.append(lock_key("dds-document", documents[0].hash))

        def remove() -> None:
            try:
                outcome["removed"] = removal.remove([entry_uuid], context.clock.now())
            except BaseException as exc:
                outcome["removed"] = exc

        remover = threading.Thread(target=remove)
        remover.start()
        deadline = time.monotonic() + 20
        while remover.is_alive() and not _waits_for(context, held[0]):  # until it is done or waits for this one
            assert time.monotonic() < deadline, "the removal neither finished nor waited"
            time.sleep(0.01)
        outcome["thread"] = remover  # type: ignore[assignment]

    monkeypatch.setattr(storage, "store_documents", removed_meanwhile)
    second = mhd.provide_hco()
    outcome.pop("thread").join(timeout=20)  # type: ignore[union-attr]
    removed = outcome["removed"]
    assert isinstance(removed, Removed), removed
    assert removed.entry_ids == (first,) and removed.documents == 0  # the second entry points at it
    url = mhd.read(second)["content"][0]["attachment"]["url"]
    assert mhd.client.get(url).status_code == 200
