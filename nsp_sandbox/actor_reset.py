"""``POST /sandbox/reset`` on an actor: empty its tables without a restart, for the control face's
``POST /sandbox/reset`` (``sandbox.control.reset``). Each actor names its tables (its SQLAlchemy
metadata), the ones it keeps (e.g. NSP's signing keys, so tokens stay verifiable) and what it does
afterwards (forget caches, seed again). Only the sandbox's operator may
(:mod:`nsp_sandbox.operator_access`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import MetaData, delete
from starlette.concurrency import run_in_threadpool

from nsp_sandbox import openapi_description
from nsp_sandbox.config import Settings
from nsp_sandbox.database import Database
from nsp_sandbox.operator_access import require_operator

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


def operator_only(settings: Settings, what: str) -> Callable[[Request], None]:
    """A route dependency: the call answers only the sandbox's operator (``what`` names it in the refusal)."""
    def operator(request: Request) -> None:
        require_operator(request, settings, what)
    return operator


def reset_router(actor: str, database: Database, metadatas: Iterable[MetaData], settings: Settings, *,
                 keep: Iterable[str] = (), before: Callable[[], None] | None = None,
                 after: Callable[[], None] | None = None) -> APIRouter:
    """``POST /sandbox/reset``: ``before``, then the actor's tables emptied (``keep`` kept), then ``after``;
    operator only."""
    api = APIRouter(tags=["Sandbox"], dependencies=[Depends(operator_only(settings, f"POST /{actor}{PATH}"))],
                    responses=openapi_description.operator_errors())
    tables, kept = list(metadatas), tuple(keep)

    @api.post(PATH, summary="Empty this actor's data (operator only; POST /sandbox/reset resets every actor)")
    async def reset() -> dict[str, Any]:
        if before is not None:
            await run_in_threadpool(before)
        emptied = await run_in_threadpool(empty_tables, database, tables, kept)
        if after is not None:
            await run_in_threadpool(after)
        return {"actor": actor, "emptied": emptied, "kept": list(kept)}

    return api
