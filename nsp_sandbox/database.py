"""Database access through SQLAlchemy 2: SQLite by default, PostgreSQL (psycopg 3) by URL.

Each actor declares its tables on its own ``DeclarativeBase`` (its own ``MetaData``) with a table
name prefix, and creates them on start; actors never read each other's tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` / ``postgres://`` URLs and route them to psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a commit survives a crash of the process (not a power cut); see docs/benchmarks.md.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


class Database:
    """An engine and a session factory; ``session()`` is one unit of work (commit or roll back)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._factory = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def from_url(cls, url: str) -> Database:
        return cls(make_engine(url))

    def create_tables(self, metadata: MetaData) -> None:
        metadata.create_all(self.engine)

    def add_columns(self, added: tuple[tuple[str, str, str], ...]) -> None:
        """Add to tables made by an earlier version the columns that came later: ``(table, column, SQL
        type and default)``, each added only where the table exists and lacks it."""
        from sqlalchemy import inspect

        inspector = inspect(self.engine)
        present = {table: {c["name"] for c in inspector.get_columns(table)}
                   for table in {t for t, _, _ in added} if inspector.has_table(table)}
        with self.engine.begin() as connection:
            for table, column, definition in added:
                if table in present and column not in present[table]:
                    connection.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._factory() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"
