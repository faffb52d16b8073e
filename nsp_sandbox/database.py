"""Database access through SQLAlchemy 2: SQLite by default, PostgreSQL (psycopg 3) by URL.

Each actor declares its tables on its own ``DeclarativeBase`` (its own ``MetaData``) with a table
name prefix, and creates them on start; actors never read each other's tables.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, MetaData, Table, create_engine, event, inspect, make_url, text
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine.interfaces import ReflectedColumn
from sqlalchemy.orm import Session, sessionmaker

from nsp_sandbox import connection_check, schema_stamp
from nsp_sandbox.driver_statement import DriverStatement
from nsp_sandbox.wal_checkpoints import WalCheckpoints, database_file

log = logging.getLogger(__name__)


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` / ``postgres://`` URLs and route them to psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        # The pool hands out the connection given back last. SQLite drops a connection's whole page cache when
        # another connection has committed since its last transaction; first-in-first-out over the pool's
        # connections made every unit of work start on a cold cache and read its pages again (some fifty reads
        # of the write-ahead log per provide). Units of work that follow each other now share one warm cache.
        on_file = database_file(make_url(url)) is not None  # else one connection per thread, kept (in memory)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               **({"pool_use_lifo": True} if on_file else {}))
        checkpoints = WalCheckpoints.install(engine)  # the log copied back by a thread of its own

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a commit survives a crash of the process (not a power cut); see docs/benchmarks.md.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            if checkpoints is not None:
                cur.execute("PRAGMA wal_autocheckpoint=0")  # no commit waits for a checkpoint
            cur.close()

        return engine
    engine = create_engine(url, pool_size=10, max_overflow=20)
    connection_check.install(engine)  # a ping only for a connection that may have gone (not at every checkout)
    return engine


class Database:
    """An engine and a session factory; ``session()`` is one unit of work (commit or roll back), and
    ``transaction()`` one of Core statements alone."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._factory = sessionmaker(engine, expire_on_commit=False)
        # Reads on PostgreSQL in autocommit: no BEGIN and COMMIT round trips around them (``reading``,
        # ``reading_connection``).
        self._reading_engine = (engine if engine.dialect.name == "sqlite"
                                else engine.execution_options(isolation_level="AUTOCOMMIT"))
        self._reader = sessionmaker(self._reading_engine, expire_on_commit=False, autoflush=False)

    @classmethod
    def from_url(cls, url: str) -> Database:
        return cls(make_engine(url))

    def create_tables(self, metadata: MetaData, upgrade: schema_stamp.Upgrade | None = None) -> None:
        """Make those of ``metadata``'s tables (with their indexes) that do not exist yet, then bring tables an
        earlier version made up to this one with ``upgrade(engine)``, when given. Done once per version of the
        tables: the result is stamped (:mod:`nsp_sandbox.schema_stamp`), and a start that finds its stamp reads
        that one row and nothing else of the catalog."""
        current, scope, fingerprint = schema_stamp.is_current(self.engine, metadata, upgrade)
        if current:
            return
        with self.engine.begin() as connection:
            existing = set(inspect(connection).get_table_names())
            missing = [table for table in metadata.sorted_tables if table.name not in existing]
            if missing:
                metadata.create_all(connection, tables=missing)
        if upgrade is not None:
            upgrade(self.engine)
        schema_stamp.stamp(self.engine, scope, fingerprint)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._factory() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A unit of work of Core statements only: one connection in a transaction, committed at the end and
        rolled back on an error, as :meth:`session` is, without an ORM session's bookkeeping (around one
        prebuilt ``select`` on SQLite, 45–50 µs of CPU against 120–170 µs for a session). For the short,
        frequent units of work that read or write rows with prebuilt statements and need no mapped objects."""
        with self.engine.begin() as connection:
            yield connection

    @contextmanager
    def writing(self, *subject: str) -> Iterator[Session]:
        """A unit of work that reads what it writes from (a version numbered from the stored one, a state checked
        and changed), one at a time for ``subject`` across every process on the database: a second one for the
        same subject, in this process or another worker, waits until the first has committed, and then reads
        what it wrote.

        On PostgreSQL that is a transaction-level advisory lock on the subject (``pg_advisory_xact_lock``, on a
        64-bit digest of it), which also covers a row not there yet: two first versions of one note do not
        both insert. On SQLite, whose writers take turns anyway, the write lock is taken at the start
        (``BEGIN IMMEDIATE``) instead of at the first write, after the reads. Nothing in it may open a second
        unit of work that writes (on SQLite it would wait for this one)."""
        with self.session() as session:
            if self.is_sqlite:
                session.connection().exec_driver_sql("BEGIN IMMEDIATE")
            else:
                hold(session, subject)
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A unit of work that only reads: on PostgreSQL each statement runs on its own (autocommit), as it
        would in a transaction at PostgreSQL's READ COMMITTED, where every statement sees the data committed
        when it starts, but without the ``BEGIN`` and ``COMMIT`` round trips; on SQLite a plain session (whose
        reads the driver runs without ``BEGIN`` anyway). Nothing may be added, changed or deleted in it."""
        with self._reader() as session:
            yield session
            if session.new or session.dirty or session.deleted:
                raise RuntimeError("a reading unit of work changed rows; use Database.session()")

    @contextmanager
    def reading_connection(self) -> Iterator[Connection]:
        """:meth:`reading` for Core statements alone (a prebuilt ``select`` on the driver's cursor): one connection,
        on PostgreSQL in autocommit, so a look-up is one round trip instead of three (``BEGIN``, the statement,
        ``COMMIT``). Nothing may be written through it."""
        with self._reading_engine.connect() as connection:
            yield connection

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"


# PostgreSQL's transaction-level advisory locks, by whether they are shared: on one key, and on several in order.
_HOLD_ONE = {False: text("SELECT pg_advisory_xact_lock(:key)"), True: text("SELECT pg_advisory_xact_lock_shared(:key)")}
_HOLD_MANY = {shared: text(f"SELECT {function}(key) FROM unnest(CAST(:keys AS bigint[])) AS key")
              for shared, function in ((False, "pg_advisory_xact_lock"), (True, "pg_advisory_xact_lock_shared"))}


def lock_key(*subject: str) -> int:
    """The PostgreSQL advisory lock key of ``subject``: a signed 64-bit digest of its parts."""
    digest = hashlib.blake2b("\x1f".join(subject).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def hold(unit: Session | Connection, *subjects: tuple[str, ...], shared: bool = False) -> None:
    """Hold ``subjects`` until the unit's transaction ends, on PostgreSQL: transaction-level advisory locks on their
    :func:`lock_key`, taken in the order of the keys (two holders of the same subjects never wait on each other in
    a circle); ``shared`` ones do not wait for each other, only for an exclusive one. On SQLite nothing: a unit of
    work that writes holds the whole database from its start (:meth:`Database.writing`,
    ``BEGIN IMMEDIATE``). The one mechanism behind :meth:`Database.writing` and the locks an actor holds across
    several rows (DDS's stored documents, a subscription's notifications)."""
    dialect = unit.dialect if isinstance(unit, Connection) else unit.get_bind().dialect
    if dialect.name != "postgresql":
        return
    keys = sorted({lock_key(*subject) for subject in subjects})
    if len(keys) == 1:
        unit.execute(_HOLD_ONE[shared], {"key": keys[0]})
    elif keys:
        unit.execute(_HOLD_MANY[shared], {"keys": keys})

#: A claim on a row while its holder tells another actor of it (a guarded ``UPDATE`` setting the claim's time, so
#: that of two holders at once one goes on): longer than any call between actors takes (their timeouts are 30 s),
#: so an older claim is a holder that died, and the row is taken over.
CLAIM_SECONDS = 300


def claim_time() -> datetime:
    """The time a claim is taken at: real time (naive UTC), not the sandbox clock, which tests move."""
    return datetime.now(UTC).replace(tzinfo=None)


def unclaimed(claimed_at: Any, now: datetime) -> Any:
    """The condition of a row whose claim (``claimed_at``: a column, naive UTC) is free: never taken, let go, or
    older than :data:`CLAIM_SECONDS`."""
    return claimed_at.is_(None) | (claimed_at < now - timedelta(seconds=CLAIM_SECONDS))


class InsertIfAbsent:
    """``INSERT … ON CONFLICT (keys) DO NOTHING`` into ``table``, built once for each dialect the sandbox
    runs on (SQLite, PostgreSQL) and run on the driver's cursor (:mod:`nsp_sandbox.driver_statement`): a row
    already there (another worker wrote it) is left alone, with no error. With ``returning``, the statement
    returns that column of a row it added and nothing for one it left alone (``rowcount`` cannot tell: it is
    -1 on PostgreSQL)."""

    def __init__(self, table: Table, keys: list[str], returning: ColumnElement[object] | None = None) -> None:
        statements = [dialect(table).on_conflict_do_nothing(index_elements=keys)
                      for dialect in (sqlite_insert, postgres_insert)]
        if returning is not None:
            statements = [statement.returning(returning) for statement in statements]
        self._sqlite, self._postgres = (DriverStatement(statement) for statement in statements)

    def _on(self, connection: Connection) -> DriverStatement:
        return self._postgres if connection.dialect.name == "postgresql" else self._sqlite

    def rows(self, connection: Connection, params: Mapping[str, Any]) -> Sequence[Any]:
        """Insert one row unless it is there: with ``returning``, the added row's value (none when left alone)."""
        return self._on(connection).rows(connection, params)

    def run_many(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert each of ``rows`` that is not there."""
        self._on(connection).run_many(connection, rows)


@dataclass(frozen=True)
class ExistingTables:
    """What :func:`existing_tables` found: each existing table's columns (by name) and, when asked for,
    the names of its indexes."""

    columns: dict[str, dict[str, ReflectedColumn]]
    indexes: dict[str, set[str]]

    def add_missing_columns(self, connection: Connection, added: Iterable[tuple[str, str, str]]) -> None:
        """Add each of ``added`` (``(table, column, SQL type and default)``, a column that came after the first
        version) where its table exists and lacks it."""
        for table, column, definition in added:
            if table in self.columns and column not in self.columns[table]:
                connection.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")

    def add_missing_indexes(self, connection: Connection, metadata: MetaData) -> None:
        """Create each index ``metadata`` declares on an existing table that lacks it (one that came after the
        table's first version; found with ``indexes``). An index built on a large table takes its time once, at
        that start-up."""
        for table_name, names in self.indexes.items():
            for index in metadata.tables[table_name].indexes:
                if index.name not in names:
                    log.info("creating index %s on %s", index.name, table_name)
                    index.create(connection)


def add_columns(engine: Engine, added: tuple[tuple[str, str, str], ...]) -> None:
    """Add to tables made by an earlier version the columns that came later: ``(table, column, SQL type and
    default)``, each added only where the table exists and lacks it."""
    existing = existing_tables(engine, {t for t, _, _ in added})
    with engine.begin() as connection:
        existing.add_missing_columns(connection, added)


def add_indexes(engine: Engine, metadata: MetaData) -> None:
    """Create on tables made by an earlier version the indexes ``metadata`` declares that came later."""
    existing = existing_tables(engine, metadata.tables, indexes=True)
    with engine.begin() as connection:
        existing.add_missing_indexes(connection, metadata)


def existing_tables(engine: Engine, tables: Iterable[str], *, indexes: bool = False) -> ExistingTables:
    """Those of ``tables`` that exist (in the connection's search path on PostgreSQL), with their columns
    and, if ``indexes``, their indexes' names: what a start-up's upgrade compares with the tables it
    declares. One catalog query for the tables' names and one for each kind of detail, whatever the
    number of tables (on PostgreSQL; SQLite asks each table, in process)."""
    inspector = inspect(engine)
    names = sorted(set(tables) & set(inspector.get_table_names()))
    if not names:
        return ExistingTables({}, {})
    columns = {table: {c["name"]: c for c in found}
               for (_, table), found in inspector.get_multi_columns(filter_names=names).items()}
    index_names = ({table: {i["name"] for i in found if i["name"]}
                    for (_, table), found in inspector.get_multi_indexes(filter_names=names).items()}
                   if indexes else {})
    return ExistingTables(columns, index_names)
