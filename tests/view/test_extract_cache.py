"""The viewer's extracts kept by content: shared by every worker through the database, each row once."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from nsp_sandbox.context import SandboxContext
from services.sundhed_view import extract_cache
from services.sundhed_view.documents import EXTRACT_TYPES, _Read
from services.sundhed_view.extract_cache import ExtractCache
from services.sundhed_view.extract_codec import ExtractCodec
from services.sundhed_view.models import EntryContentRow, ExtractRow


def _cache(context: SandboxContext) -> ExtractCache:
    return ExtractCache(context.database, context.clock, ExtractCodec(EXTRACT_TYPES))


def _rows(context: SandboxContext, table: type) -> int:
    with context.database.session() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_two_workers_keeping_the_same_extract_store_it_once_and_either_reads_it(context: SandboxContext) -> None:
    first, second = _cache(context), _cache(context)
    value = _Read(["Dokumentet er ikke et FHIR Bundle"], frozenset({"2509479989"}))
    first.put("d1", value, ("entry-1", "hash-1"), new=True)
    second.put("d1", value, ("entry-1", "hash-1"), new=True)  # computed there too, before it saw the row

    assert _rows(context, ExtractRow) == 1 and _rows(context, EntryContentRow) == 1
    third = _cache(context)  # a worker that computed nothing: reads the table
    assert third.get("d1") == value
    assert third.has_entry("entry-1", "hash-1") and not third.has_entry("entry-1", "hash-2")

    # The same content under another entry: only the entry's row is new.
    third.put("d1", value, ("entry-2", "hash-9"), new=False)
    assert _rows(context, ExtractRow) == 1 and _rows(context, EntryContentRow) == 2


def test_every_so_many_rows_the_oldest_beyond_the_bound_are_deleted(context: SandboxContext,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extract_cache, "TRIM_EVERY", 4)
    monkeypatch.setattr(extract_cache, "MAX_EXTRACTS", 1)
    cache = _cache(context)
    original_trim = cache.trim
    trims: list[int] = []

    def counted_trim(keep: int = 1) -> None:
        trims.append(keep)
        original_trim(keep)

    monkeypatch.setattr(cache, "trim", counted_trim)
    cache.put("a", _Read(["x"], None), ("e-a", "h"), new=True)  # 2 rows
    assert trims == []
    cache.put("b", _Read(["y"], None), ("e-b", "h"), new=True)  # 4 rows: the fourth addition trims
    assert len(trims) == 1
    assert _rows(context, ExtractRow) == 1 and _rows(context, EntryContentRow) == 2
    assert cache.get("b") is not None
    cache.put("b", _Read(["y"], None), ("e-b", "h"), new=True)  # nothing added: no trim
    assert len(trims) == 1
