"""The test databases that hold the sandbox's tables already (tests/prebuilt_databases.py): each test still
starts from no rows and every sequence at its start, and a schema a test changed is never handed on."""

from __future__ import annotations

import uuid

import psycopg
from fastapi.testclient import TestClient
from prebuilt_databases import SchemaPool, build_sandbox, url_for
from psycopg import sql
from sqlalchemy import inspect, text

from nsp_sandbox.clock import Clock
from nsp_sandbox.config import Settings
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.database import Database
from nsp_sandbox.schema_stamp import TABLE as STAMPS


def test_a_test_starts_with_every_table_and_no_rows(context: SandboxContext) -> None:
    """No rows but the schema stamps, which describe the tables (one per set of tables a start made)."""
    tables = inspect(context.database.engine).get_table_names()
    assert "dds_document_entry" in tables and "nsp_dgws_sts_key" in tables
    with context.database.engine.connect() as conn:
        counts = {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar() for t in tables}
    stamps = counts.pop(STAMPS)
    assert counts == dict.fromkeys(set(tables) - {STAMPS}, 0)
    assert stamps and stamps >= 8  # every actor's tables, at least


def new_schema(database: str) -> str:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    return schema


def schema_exists(database: str, schema: str) -> bool:
    with psycopg.connect(database) as conn:
        return conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone() is not None


def test_a_used_schema_goes_back_empty_with_its_sequences_at_their_start(
        postgres_database: str, settings_base: Settings, packages) -> None:  # type: ignore[no-untyped-def]
    pool = SchemaPool(postgres_database)
    pool.start(lambda url: build_sandbox(url, settings_base, packages))
    first = new_schema(postgres_database)
    pool.adopt(first)
    url = url_for(postgres_database, first)
    database = Database.from_url(url)
    context = SandboxContext(settings_base.model_copy(update={"database_url": url}), Clock(), database)
    context._packages = packages
    from sandbox.app import create_sandbox_app

    with TestClient(create_sandbox_app(context, warm_packages=False), base_url="http://sandbox.test") as client:
        assert client.get("/nsp/sts/certificate").status_code == 200  # the STS's key: a row, a sequence used
    database.engine.dispose()
    pool.recycle(first)
    assert not schema_exists(postgres_database, first) and pool.free == 1  # renamed into the pool

    second = new_schema(postgres_database)
    pool.adopt(second)
    with psycopg.connect(postgres_database) as conn:
        tables = [t for (t,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (second,))]
        assert "nsp_dgws_sts_key" in tables
        for table in set(tables) - {STAMPS}:
            count = conn.execute(sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(second),
                                                                              sql.Identifier(table))).fetchone()
            assert count == (0,), table
        assert conn.execute("SELECT nextval(%s)", (f'"{second}".nsp_dgws_sts_key_pk_seq',)).fetchone() == (1,)
    pool.recycle(second)


def test_a_schema_whose_tables_a_test_changed_is_dropped(
        postgres_database: str, settings_base: Settings, packages) -> None:  # type: ignore[no-untyped-def]
    pool = SchemaPool(postgres_database)
    pool.start(lambda url: build_sandbox(url, settings_base, packages))
    schema = new_schema(postgres_database)
    pool.adopt(schema)
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER TABLE {}.nsp_dgws_sts_key DROP COLUMN created_at").format(sql.Identifier(schema)))
    pool.recycle(schema)
    assert not schema_exists(postgres_database, schema)
    assert pool.free == 0  # the adopted one was the only one; the changed one was not put back
