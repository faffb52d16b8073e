"""A message's chain changes one change at a time: each modification or retraction builds on the chain's newest
message, and the chain stays a line, never a fork.

In one process a lock per chain holds a change from its look-up of the newest message until it is sent (the
validation in between waits for the CPU lane, and the send for the receiver). Across workers (``up --workers``)
the database decides: a change is recorded only if the message it builds on is still the chain's newest, in a
unit of work no other worker's change of the chain comes between (``Database.writing``); otherwise it is built
again on the newer one, before anything is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from nsp_sandbox.database import Database
from nsp_sandbox.outcome import FhirError, Issue
from services.eoj_sender.models import MessageRow

TRIES = 5  # builds of one change, each on a newer message another worker recorded meanwhile


def already_sent(header_id: str) -> FhirError:
    """A message whose MessageHeader.id this EOJ has sent before (MedCom: a new message, a new id)."""
    return FhirError(409, Issue("error", "duplicate", f"MessageHeader.id {header_id} was already sent; resend it "
                                "with POST /eoj/hco/{id}/resend", rule="msg-new-id",
                                source="MedCom governance 043 (reliable messaging)"))


class ChainMoved(Exception):
    """Another worker recorded a change of the chain after this change looked up its newest message."""


class ChainChanges:
    def __init__(self, database: Database, not_found: Callable[[str], FhirError]) -> None:
        self._database = database
        self._not_found = not_found
        # per event loop (an asyncio lock belongs to the loop it first waits on), per chain
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop,
                                               weakref.WeakValueDictionary[str, asyncio.Lock]] = \
            weakref.WeakKeyDictionary()

    async def change(self, header_id: str, build_and_send: Callable[[MessageRow], Awaitable[dict[str, Any]]]
                     ) -> dict[str, Any]:
        """``build_and_send(newest)``: the change built on the chain's newest message and sent; built again
        when another worker changed the chain first (:class:`ChainMoved` from :meth:`record`)."""
        async with self._changing(header_id):
            for _ in range(TRIES):
                try:
                    return await build_and_send(await run_in_threadpool(self.newest, header_id))
                except ChainMoved:
                    continue
        raise FhirError(409, Issue("error", "conflict", f"The chain of {header_id} was changed {TRIES} times while "
                                   "this change was built; send it again", rule="hco-chain-line"))

    @contextlib.asynccontextmanager
    async def _changing(self, header_id: str) -> AsyncIterator[None]:
        chain = await run_in_threadpool(self._chain_of, header_id)
        locks = self._locks.setdefault(asyncio.get_running_loop(), weakref.WeakValueDictionary())
        lock = locks.get(chain)
        if lock is None:
            lock = locks[chain] = asyncio.Lock()
        async with lock:
            yield

    def _chain_of(self, header_id: str) -> str:
        """The chain of message ``header_id``: its original's MessageHeader.id."""
        with self._database.reading() as s:
            row = s.execute(select(MessageRow.header_id, MessageRow.original_header)
                            .where(MessageRow.header_id == header_id)).first()
        return (row.original_header or row.header_id) if row is not None else header_id

    def newest(self, header_id: str) -> MessageRow:
        """The newest message of ``header_id``'s chain (404 for an unknown message; 409 once retracted)."""
        with self._database.session() as s:
            row = s.scalar(select(MessageRow).where(MessageRow.header_id == header_id))
            if row is None:
                raise self._not_found(header_id)
            newest = s.scalar(_newest_of(row.original_header or row.header_id))
            assert newest is not None
            if newest.activity == "retract-message":
                raise FhirError(409, Issue("error", "business-rule", f"The message was retracted by "
                                           f"{newest.header_id}; a retracted message is not changed again",
                                           rule="hco-retracted", source="MedCom HomeCareObservation 1.2.1"))
            return newest

    def record(self, row: MessageRow, previous: MessageRow | None, *, follows: bool) -> None:
        """Keep ``row``, a message about to be sent; with ``follows`` (a change this EOJ built on ``previous``),
        only while ``previous`` is still its chain's newest message, else :class:`ChainMoved`."""
        if not follows or previous is None:
            try:
                with self._database.session() as s:
                    s.add(row)
            except IntegrityError:  # the same MessageHeader.id sent at once by another request (worker)
                raise already_sent(row.header_id) from None
            return
        chain = previous.original_header or previous.header_id
        with self._database.writing("eoj-chain", chain) as s:
            newest = s.scalar(_newest_of(chain, MessageRow.header_id))
            if newest != previous.header_id:
                raise ChainMoved(chain)
            s.add(row)


def _newest_of(original: str, what: Any = MessageRow) -> Any:
    return select(what).where(MessageRow.of_chain(original)).order_by(MessageRow.pk.desc()).limit(1)
