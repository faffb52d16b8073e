"""Databases that already hold the sandbox's tables, empty, for the ``context`` fixture.

Making the tables is most of a test's set-up on PostgreSQL (CREATE and DROP of some forty tables with their
indexes and sequences) and a good part of it on SQLite. Each worker process builds the whole sandbox once on a
template and then hands every test a database with exactly those tables and no rows:

* SQLite: a copy of the template file, emptied and vacuumed once.
* PostgreSQL: a schema from a small pool. A test's schema goes back into the pool at its end only if its tables,
  columns, defaults, constraints, indexes and types are still exactly the template's (a test that drops a column
  or makes a table of its own leaves a schema that is dropped); it is emptied row by row, its sequences set back
  to their start, and renamed, in one transaction. Anything else is dropped, as every schema was before.

The sandbox still makes its tables on start (``CREATE TABLE`` only where one is missing), so a test sees what it
would see on a fresh database: the same tables, no rows, every sequence at its start. The schema stamps are kept
(``nsp_sandbox.schema_stamp``): they describe the tables, which are the template's, so a test's sandbox starts
as it starts on a database it made before, without reading the catalog.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import psycopg
from fastapi.testclient import TestClient
from psycopg import sql

from nsp_sandbox.clock import Clock
from nsp_sandbox.config import Settings
from nsp_sandbox.conformance.packages import PackageRegistry
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.database import Database
from nsp_sandbox.schema_stamp import TABLE as STAMPS

POOL_SIZE = 4  # schemas kept for reuse per worker; a test needs one at a time

# Everything a schema's tables are made of, one line each, with the schema's own name taken out.
FINGERPRINT = """
SELECT 'rel ' || c.relname || ' ' || c.relkind::text FROM pg_class c WHERE c.relnamespace = %(oid)s
UNION ALL
SELECT 'col ' || c.relname || ' ' || a.attnum::text || ' ' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
       || ' ' || a.attnotnull::text || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE c.relnamespace = %(oid)s AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'con ' || c.relname || ' ' || k.conname || ' ' || pg_get_constraintdef(k.oid)
  FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid WHERE k.connamespace = %(oid)s
UNION ALL
SELECT 'idx ' || i.indexname || ' ' || i.indexdef FROM pg_indexes i WHERE i.schemaname = %(name)s
UNION ALL
SELECT 'type ' || t.typname || ' ' || t.typtype::text || ' '
       || coalesce((SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e
                    WHERE e.enumtypid = t.oid), '')
  FROM pg_type t WHERE t.typnamespace = %(oid)s
"""


def build_sandbox(url: str, settings_base: Settings, packages: PackageRegistry) -> None:
    """Start the whole sandbox once on ``url`` (so it makes its tables) and stop it."""
    from sandbox.app import create_sandbox_app

    database = Database.from_url(url)
    context = SandboxContext(settings_base.model_copy(update={"database_url": url}), Clock(), database)
    context._packages = packages
    with TestClient(create_sandbox_app(context, warm_packages=False), base_url="http://sandbox.test"):
        pass
    database.engine.dispose()


def schema_of(url: str) -> str:
    """The schema a test database URL sets as its ``search_path``."""
    options = parse_qs(urlsplit(url).query).get("options", [""])[0].split()
    return next(o.removeprefix("-csearch_path=") for o in options if o.startswith("-csearch_path="))


def sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def empty_sqlite(path: Path) -> None:
    """Take every row out of the SQLite database at ``path`` (AUTOINCREMENT counters too) and compact it. The
    schema stamps stay: they describe the tables, which stay too (``nsp_sandbox.schema_stamp``)."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA foreign_keys=OFF")
        tables = [name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        for table in tables:
            if table != STAMPS:
                conn.execute(f'DELETE FROM "{table}"')
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").fetchone():
            conn.execute("DELETE FROM sqlite_sequence")
    conn.close()
    with sqlite3.connect(path, isolation_level=None) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("VACUUM")
    conn.close()


class SchemaPool:
    """Emptied copies of one worker's template schema in the session's PostgreSQL database."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.template: list[str] = []
        self._tables: list[str] = []  # children before the tables they refer to
        self._sequences: list[tuple[str, int]] = []
        self._free: list[str] = []
        self._build: Callable[[str], None] | None = None

    @property
    def free(self) -> int:
        """How many emptied schemas wait in the pool."""
        return len(self._free)

    def start(self, build: Callable[[str], None]) -> None:
        """Build the sandbox once, by ``build(url)``, on a new schema: it becomes the template and the pool's first."""
        self._build = build
        self._refill(first=True)

    def _refill(self, first: bool = False) -> None:
        """Build the sandbox on a new schema, empty it and put it in the pool (the first: learn the template)."""
        assert self._build is not None
        schema = f"p_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.database, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        self._build(url_for(self.database, schema))
        with psycopg.connect(self.database, autocommit=True) as conn:
            if first:
                self.template = fingerprint(conn, schema)
                self._tables = tables_children_first(conn, schema)
                self._sequences = [(name, int(start)) for name, start in conn.execute(
                    "SELECT sequencename, start_value FROM pg_sequences WHERE schemaname = %s ORDER BY 1",
                    (schema,))]
            self._give_back(conn, schema)

    def adopt(self, schema: str) -> None:
        """Put a pooled schema (the template's tables, no rows) in the place of the empty ``schema``; with none
        free (tests that changed their tables had theirs dropped), one is built first."""
        if not self._free:
            if self._build is None:
                return  # never started: the sandbox makes its tables itself, as on any new database
            self._refill()
        pooled = self._free.pop()
        try:
            with psycopg.connect(self.database, autocommit=True) as conn, conn.transaction():
                conn.execute(sql.SQL("DROP SCHEMA {}").format(sql.Identifier(schema)))  # fails unless still empty
                conn.execute(sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(sql.Identifier(pooled),
                                                                         sql.Identifier(schema)))
        except psycopg.errors.DependentObjectsStillExist:
            self._free.append(pooled)  # something made tables in it already: it stays as it is

    def recycle(self, schema: str) -> None:
        """At a test's end: back into the pool if it still has exactly the template's tables, else dropped."""
        with psycopg.connect(self.database, autocommit=True) as conn:
            if len(self._free) < POOL_SIZE and self.template and fingerprint(conn, schema) == self.template:
                try:
                    self._give_back(conn, schema)
                    return
                except psycopg.Error:
                    pass
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))

    def _give_back(self, conn: psycopg.Connection, schema: str) -> None:
        """Empty ``schema`` (rows but the schema stamps, sequences) and rename it into the pool, in one transaction."""
        pooled = f"p_{uuid.uuid4().hex[:12]}"
        name = sql.Identifier(schema)
        statements = [sql.SQL("SET LOCAL lock_timeout = '10s'")]
        statements += [sql.SQL("DELETE FROM {}.{}").format(name, sql.Identifier(t)) for t in self._tables
                       if t != STAMPS]
        if self._sequences:
            statements.append(sql.SQL("SELECT {}").format(sql.SQL(", ").join(
                sql.SQL("setval({}, {}, false)").format(sql.Literal(f'"{schema}"."{s}"'), sql.Literal(start))
                for s, start in self._sequences)))
        statements.append(sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(name, sql.Identifier(pooled)))
        with conn.transaction():
            conn.execute(sql.SQL("; ").join(statements))
        self._free.append(pooled)


def url_for(database: str, schema: str) -> str:
    url = database.replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{url}?options={quote(f'-csearch_path={schema}')}"


def fingerprint(conn: psycopg.Connection, schema: str) -> list[str]:
    row = conn.execute("SELECT oid FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
    if row is None:
        return []
    lines = conn.execute(FINGERPRINT, {"oid": row[0], "name": schema}).fetchall()
    return sorted(str(line).replace(f'"{schema}".', "").replace(f"{schema}.", "") for (line,) in lines)


def tables_children_first(conn: psycopg.Connection, schema: str) -> list[str]:
    """The schema's tables, each one before every table it refers to by a foreign key."""
    tables = [t for (t,) in conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY 1", (schema,))]
    refers: dict[str, set[str]] = {t: set() for t in tables}
    for child, parent in conn.execute(
            "SELECT c.relname, p.relname FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid"
            " JOIN pg_class p ON p.oid = k.confrelid JOIN pg_namespace n ON n.oid = k.connamespace"
            " WHERE k.contype = 'f' AND n.nspname = %s", (schema,)):
        if child != parent:
            refers[child].add(parent)
    # Deleting a table's rows needs every table referring to it emptied first.
    referred_by: dict[str, set[str]] = {t: set() for t in tables}
    for child, parents in refers.items():
        for parent in parents:
            referred_by[parent].add(child)
    order: list[str] = []
    done: set[str] = set()

    def visit(table: str) -> None:
        if table in done:
            return
        done.add(table)
        for child in sorted(referred_by[table]):
            visit(child)
        order.append(table)

    for table in tables:
        visit(table)
    # visit() appends a table after all that refer to it: children come first.
    return order
