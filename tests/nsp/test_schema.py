"""NSP tables made by the earlier version are brought up to date at start-up: the later columns are
added, and Min Spærring rows where ``who.type: organisation`` meant *professionals working there*
become blocks on *data from* that treatment place (sub-units as stored), for everyone."""

from __future__ import annotations

from datetime import datetime

from fastapi.testclient import TestClient
from sqlalchemy import inspect
from sts_client import auth

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.schema_stamp import TABLE as STAMPS
from services.nsp.schema import ADDED_COLUMNS, upgrade

EARLIER = ("INSERT INTO nsp_consent_block (id, cpr, who_type, who_id, include_sub_units, valid_from, created_at, "
           "created_by) VALUES (:id, '0602631234', :who_type, :who_id, :sub, :t, :t, 'citizen-0602631234')")


def test_earlier_consent_rows_are_migrated(context: SandboxContext) -> None:
    from sqlalchemy import text

    from services.nsp.models import NspBase

    engine = context.database.engine
    context.database.create_tables(NspBase.metadata)
    with engine.begin() as connection:  # back to the earlier schema, with earlier rows
        connection.exec_driver_sql(f"DELETE FROM {STAMPS}")  # an earlier version stamped nothing
        for table, column, _ in ADDED_COLUMNS:
            connection.exec_driver_sql(f"ALTER TABLE {table} DROP COLUMN {column}")
        moment = datetime(2026, 1, 1)
        for block_id, who_type, who_id, sub in (("a", "organisation", "937961000016000", True),
                                                ("b", "organisation", "52581000016005", False),
                                                ("c", "professional", "SK7T1", False), ("d", "all", None, False)):
            connection.execute(text(EARLIER), {"id": block_id, "who_type": who_type, "who_id": who_id,
                                               "sub": sub, "t": moment})
    assert "what_type" not in {c["name"] for c in inspect(engine).get_columns("nsp_consent_block")}

    from sandbox.app import create_sandbox_app

    with TestClient(create_sandbox_app(context, warm_packages=False, only={"nsp"}),
                    base_url="http://sandbox.test") as client:  # start-up upgrades
        items = {b["id"]: b for b in client.get("/nsp/consent/blocks",
                                                headers=auth(client, "citizen-0602631234")).json()}
    assert items["a"]["who"]["type"] == "all" and items["a"]["kind"] == "negative"
    assert items["a"]["what"]["type"] == "organisation" and items["a"]["what"]["id"] == "937961000016000"
    assert items["a"]["what"]["organisations_covered"] == ["937961000016000", "1144561000016002", "900001000099016"]
    assert items["b"]["what"] == {"type": "organisation", "id": "52581000016005", "name": "Skødstrup Lægepraksis",
                                  "include_sub_units": False, "organisations_covered": ["52581000016005"]}
    assert items["c"]["who"]["id"] == "SK7T1" and items["c"]["what"]["type"] == "all"
    assert items["d"]["who"]["type"] == "all" and items["d"]["what"]["type"] == "all"
    columns = {c["name"] for c in inspect(engine).get_columns("nsp_minlog_entry")}
    assert {"criticality", "person_name", "responsible_user_identifier", "acting_as"} <= columns
    assert upgrade(engine) == 0  # and again: nothing left to do
