"""NSP's tables made by an earlier version, brought up to this one at start-up.

* the columns added later are added (all nullable or with a default);
* Min Spærring rows of the earlier model, where ``who.type: organisation`` meant *professionals
  working there*, become what they always should have been (dds-nsp.md §2.1 (c)): a block on
  *data from* that treatment place, for everyone, with the sub-units as stored;
* rows without a kind are negative (the earlier model had only blocks).

Running it again changes nothing.
"""

from __future__ import annotations

from sqlalchemy import Engine, text

from nsp_sandbox.database import existing_tables

#: Columns added after the first version: (table, column, SQL type and default).
ADDED_COLUMNS = (
    ("nsp_consent_block", "kind", "VARCHAR(16) DEFAULT 'negative'"),
    ("nsp_consent_block", "what_type", "VARCHAR(16) DEFAULT 'all'"),
    ("nsp_consent_block", "what_id", "VARCHAR(64)"),
    ("nsp_consent_block", "created_by_system", "VARCHAR(200)"),
    ("nsp_minlog_entry", "criticality", "VARCHAR(100)"),
    ("nsp_minlog_entry", "person_name", "VARCHAR(200)"),
    ("nsp_minlog_entry", "responsible_user_identifier", "VARCHAR(64)"),
    ("nsp_minlog_entry", "responsible_user_name", "VARCHAR(200)"),
    ("nsp_minlog_entry", "acting_as", "VARCHAR(16)"),
)

MIGRATE_ORGANISATION_BLOCKS = text(
    "UPDATE nsp_consent_block SET what_type = 'organisation', what_id = who_id, who_type = 'all', who_id = NULL "
    "WHERE who_type = 'organisation'")
DEFAULTS = (text("UPDATE nsp_consent_block SET kind = 'negative' WHERE kind IS NULL"),
            text("UPDATE nsp_consent_block SET what_type = 'all' WHERE what_type IS NULL"))


def upgrade(engine: Engine) -> int:
    """Add the later columns and migrate the earlier consent rows; answers how many rows moved."""
    existing = existing_tables(engine, {table for table, _, _ in ADDED_COLUMNS})
    with engine.begin() as connection:
        existing.add_missing_columns(connection, ADDED_COLUMNS)
        if "nsp_consent_block" not in existing.columns:
            return 0
        for statement in DEFAULTS:
            connection.execute(statement)
        return int(connection.execute(MIGRATE_ORGANISATION_BLOCKS).rowcount or 0)
