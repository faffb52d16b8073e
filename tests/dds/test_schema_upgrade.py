"""A database made by an earlier version of DDS (before on-demand entries) is brought up to date at
start-up: the later columns are added, and on PostgreSQL hash and size become nullable."""

from __future__ import annotations

from sqlalchemy import inspect

from nsp_sandbox.database import Database
from services.dds.models import ADDED_COLUMNS
from services.dds.registry import Registry


def test_tables_of_an_earlier_version_are_upgraded(database_url: str) -> None:
    database = Database.from_url(database_url)
    try:
        Registry(database).create_tables()
        postgres = database.engine.dialect.name == "postgresql"
        with database.engine.begin() as connection:  # back to the earlier schema
            for _, column, _ in ADDED_COLUMNS:
                connection.exec_driver_sql(f"ALTER TABLE dds_document_entry DROP COLUMN {column}")
            if postgres:
                for column in ("document_hash", "size"):
                    connection.exec_driver_sql(f"ALTER TABLE dds_document_entry ALTER COLUMN {column} SET NOT NULL")
        before = {c["name"] for c in inspect(database.engine).get_columns("dds_document_entry")}
        assert "object_type" not in before

        Registry(database).create_tables()  # start-up
        columns = {c["name"]: c for c in inspect(database.engine).get_columns("dds_document_entry")}
        assert {"object_type", "source_url", "submitter"} <= set(columns)
        assert all(columns[c]["nullable"] for c in ("source_url", "submitter"))
        if postgres:
            assert columns["document_hash"]["nullable"] and columns["size"]["nullable"]
        Registry(database).create_tables()  # and again: nothing left to do
    finally:
        database.engine.dispose()
