"""A database made by an earlier version of DDS (before on-demand entries) is brought up to date at
start-up: the later columns and indexes are added, the indexes they replace dropped (among them the notifications'
index by subscription alone, now one of the events in flight), and on
PostgreSQL hash and size become nullable."""

from __future__ import annotations

from sqlalchemy import inspect

from nsp_sandbox.database import Database
from nsp_sandbox.schema_stamp import TABLE as STAMPS
from services.dds.models import ADDED_COLUMNS, REPLACED_INDEXES, DocumentEntryRow, EntryCodeRow, NotificationRow
from services.dds.registry import Registry


def test_tables_of_an_earlier_version_are_upgraded(database_url: str) -> None:
    database = Database.from_url(database_url)
    try:
        Registry(database).create_tables()
        postgres = database.engine.dialect.name == "postgresql"
        with database.engine.begin() as connection:  # back to the earlier schema
            for table, column, _ in ADDED_COLUMNS:
                connection.exec_driver_sql(f"ALTER TABLE {table} DROP COLUMN {column}")
            if postgres:
                for column in ("document_hash", "size"):
                    connection.exec_driver_sql(f"ALTER TABLE dds_document_entry ALTER COLUMN {column} SET NOT NULL")
            connection.exec_driver_sql("DROP INDEX ix_dds_entry_patient_status_pk")
            connection.exec_driver_sql("DROP INDEX ix_dds_entry_code_match")
            connection.exec_driver_sql("CREATE INDEX ix_dds_entry_patient_status ON dds_document_entry "
                                       "(patient_value, status, pk)")
            connection.exec_driver_sql("CREATE INDEX ix_dds_entry_code_lookup ON dds_entry_code "
                                       "(entry_pk, param, code)")
            connection.exec_driver_sql("DROP INDEX ix_dds_notification_in_flight")
            connection.exec_driver_sql("CREATE INDEX ix_dds_notification_subscription_pk ON dds_notification "
                                       "(subscription_pk)")
            connection.exec_driver_sql(f"DELETE FROM {STAMPS}")  # an earlier version stamped nothing
        before = {c["name"] for c in inspect(database.engine).get_columns("dds_document_entry")}
        assert "object_type" not in before

        Registry(database).create_tables()  # start-up
        columns = {c["name"]: c for c in inspect(database.engine).get_columns("dds_document_entry")}
        assert {"object_type", "source_url", "submitter"} <= set(columns)
        assert all(columns[c]["nullable"] for c in ("source_url", "submitter"))
        assert "max_count" in {c["name"] for c in inspect(database.engine).get_columns("dds_subscription")}
        if postgres:
            assert columns["document_hash"]["nullable"] and columns["size"]["nullable"]
        inspector = inspect(database.engine)
        indexes = {i["name"] for table in ("dds_document_entry", "dds_entry_code", "dds_notification")
                   for i in inspector.get_indexes(table)}
        assert {i.name for i in (*DocumentEntryRow.__table__.indexes, *EntryCodeRow.__table__.indexes,
                                 *NotificationRow.__table__.indexes)} <= indexes
        assert not {name for _, name in REPLACED_INDEXES} & indexes
        Registry(database).create_tables()  # and again: nothing left to do
    finally:
        database.engine.dispose()
