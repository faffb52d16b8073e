"""``POST /sandbox/reset`` on an actor: empty its tables without a restart, for the control face's
``POST /sandbox/reset`` (``sandbox.control.reset``). Each actor names its tables (its SQLAlchemy
metadata), the ones it keeps (e.g. NSP's signing keys, so tokens stay verifiable) and what it does
afterwards (forget caches, seed again). The composition root guards the path as it guards every
operator endpoint."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fastapi import APIRouter
from sqlalchemy import MetaData, delete
from starlette.concurrency import run_in_threadpool

from nsp_sandbox.database import Database

PATH = "/sandbox/reset"


def empty_tables(database: Database, metadatas: Iterable[MetaData], keep: Iterable[str] = ()) -> dict[str, int]:
    """Delete every row of the tables of ``metadatas`` but ``keep`` (children first); rows deleted per table."""
    kept = set(keep)
    emptied: dict[str, int] = {}
    with database.session() as session:
        for metadata in metadatas:
            metadata.create_all(session.connection())  # a table made only at first use may not be there yet
            for table in reversed(metadata.sorted_tables):
                if table.name in kept:
                    continue
                result = session.execute(delete(table))
                emptied[table.name] = int(getattr(result, "rowcount", 0) or 0)
    return emptied


def reset_router(actor: str, database: Database, metadatas: Iterable[MetaData], *, keep: Iterable[str] = (),
                 after: Callable[[], None] | None = None) -> APIRouter:
    """``POST /sandbox/reset``: the actor's tables emptied (``keep`` kept), then ``after``."""
    api = APIRouter(tags=["Sandbox"])
    tables, kept = list(metadatas), tuple(keep)

    @api.post(PATH, summary="Empty this actor's data (operator only; POST /sandbox/reset resets every actor)")
    async def reset() -> dict[str, Any]:
        emptied = await run_in_threadpool(empty_tables, database, tables, kept)
        if after is not None:
            await run_in_threadpool(after)
        return {"actor": actor, "emptied": emptied, "kept": list(kept)}

    return api
