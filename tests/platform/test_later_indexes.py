"""An index that came after a table's first version is made at start-up on a database an earlier version made:
the look-ups that rely on it (an acknowledgement's copy found by its Bundle.id in the EOJ, a GP system's held
message found by the message it waits for) do not read the whole table in a sandbox that has run for long."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine, MetaData, inspect

from nsp_sandbox.database import Database
from nsp_sandbox.schema_stamp import TABLE as STAMPS
from services.eoj_sender.models import EojBase
from services.eoj_sender.models import upgrade as eoj_upgrade
from services.lps.models import LpsBase
from services.lps.models import upgrade as lps_upgrade


@pytest.mark.parametrize(("metadata", "upgrade", "table", "index"), [
    (EojBase.metadata, eoj_upgrade, "eoj_ack_log", "ix_eoj_ack_log_bundle_id"),
    (LpsBase.metadata, lps_upgrade, "lps_received", "ix_lps_received_previous_header"),
], ids=["eoj-acknowledgement-copies", "lps-held-messages"])
def test_an_index_that_came_later_is_made_on_an_earlier_version_s_table(
        database_url: str, metadata: MetaData, upgrade: Callable[[Engine], object], table: str, index: str) -> None:
    database = Database.from_url(database_url)
    try:
        database.create_tables(metadata, upgrade=upgrade)
        with database.engine.begin() as connection:  # back to the earlier version's tables
            connection.exec_driver_sql(f"DROP INDEX {index}")
            connection.exec_driver_sql(f"DELETE FROM {STAMPS}")
        assert index not in {i["name"] for i in inspect(database.engine).get_indexes(table)}

        database.create_tables(metadata, upgrade=upgrade)  # start-up
        assert index in {i["name"] for i in inspect(database.engine).get_indexes(table)}
        database.create_tables(metadata, upgrade=upgrade)  # and again: nothing left to do
    finally:
        database.engine.dispose()
