"""Whether a pooled PostgreSQL connection is still alive when it is taken from the pool, without a round
trip to the server for one that was in use a moment ago.

SQLAlchemy's ``pool_pre_ping`` sends ``SELECT 1`` at every checkout: one more round trip to the server
for every unit of work, several per request. Here a connection is pinged only when

* its socket has something to read: the server said something while the connection sat in the pool,
  which it does when it ends a session — a restart or shutdown, ``pg_terminate_backend``,
  ``idle_session_timeout`` each send a FATAL message and close the socket (a closed socket reads as
  its end); or
* it has sat in the pool longer than :data:`IDLE_PING` seconds (a connection a network device dropped
  without a word); or
* it is not idle between transactions (never the case for a connection the pool hands out).

A connection that fails its ping is discarded, with every other connection the pool held before it,
and a new one is opened (``InvalidatePoolError``): what ``pool_pre_ping`` does.
"""

from __future__ import annotations

import select
import time
from typing import Any

from sqlalchemy import Engine, event, exc

IDLE_PING = 5.0  # seconds in the pool after which a connection is pinged before use
IDLE_SINCE = "nsp_idle_since"  # the pool record's ``info`` key: when the connection was last returned


def install(engine: Engine) -> None:
    """Check ``engine``'s PostgreSQL connections at checkout as this module describes."""

    @event.listens_for(engine, "connect")
    def _connected(_dbapi_connection: Any, record: Any) -> None:
        record.info[IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info[IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if not needs_ping(dbapi_connection, record.info.get(IDLE_SINCE)):
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # any failure: the connection cannot be used
            raise exc.InvalidatePoolError(f"the database connection failed its ping ({type(error).__name__})") \
                from error


def needs_ping(dbapi_connection: Any, idle_since: float | None) -> bool:
    """Whether ``dbapi_connection`` (psycopg 3), in the pool since ``idle_since``, must be pinged before use."""
    if idle_since is None or time.monotonic() - idle_since > IDLE_PING:
        return True
    try:
        if dbapi_connection.closed or dbapi_connection.info.transaction_status != 0:  # 0: IDLE
            return True
        return has_news(dbapi_connection.pgconn.socket)
    except Exception:  # no socket to look at: let the ping say what is wrong
        return True


def has_news(socket: int) -> bool:
    """Whether the server sent something on ``socket`` (a message, or the end of the connection)."""
    poller = select.poll()
    poller.register(socket, select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))
