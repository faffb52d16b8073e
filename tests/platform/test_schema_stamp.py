"""Schema stamps (``nsp_sandbox.schema_stamp``): a start on tables this version made and stamped reads the stamp
and nothing else of the catalog; tables of another version, or of a version before stamps, are checked and
upgraded as before, then stamped."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, event, inspect, text

from nsp_sandbox.database import Database
from nsp_sandbox.schema_stamp import TABLE


def tables(version: int) -> MetaData:
    """One set of tables; version 2 has a column more."""
    metadata = MetaData()
    columns = [Column("pk", Integer, primary_key=True), Column("name", String(20))]
    if version == 2:
        columns.append(Column("kind", String(10)))
    Table("stamp_test_item", metadata, *columns)
    return metadata


class Upgrades:
    """An upgrade that counts its runs and adds version 2's column where it is missing."""

    runs = 0

    @classmethod
    def upgrade(cls, engine: Engine) -> None:
        cls.runs += 1
        if "kind" not in {c["name"] for c in inspect(engine).get_columns("stamp_test_item")}:
            with engine.begin() as connection:
                connection.exec_driver_sql("ALTER TABLE stamp_test_item ADD COLUMN kind VARCHAR(10)")


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = Database.from_url(database_url)
    Upgrades.runs = 0
    yield database
    database.engine.dispose()


def statements_of(database: Database, start: object) -> list[str]:
    """The SQL statements ``start()`` sent."""
    sent: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        sent.append(statement)

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        start()  # type: ignore[operator]
    finally:
        event.remove(database.engine, "before_cursor_execute", record)
    return sent


def test_a_start_on_stamped_tables_reads_the_stamp_and_nothing_else(database: Database) -> None:
    first = statements_of(database, lambda: database.create_tables(tables(1), upgrade=Upgrades.upgrade))
    assert any("CREATE TABLE stamp_test_item" in s for s in first) and Upgrades.runs == 1
    again = statements_of(database, lambda: database.create_tables(tables(1), upgrade=Upgrades.upgrade))
    assert len(again) == 1 and TABLE in again[0] and again[0].lstrip().upper().startswith("SELECT")
    assert Upgrades.runs == 1


def test_a_start_of_another_version_upgrades_and_stamps_anew(database: Database) -> None:
    database.create_tables(tables(1), upgrade=Upgrades.upgrade)
    with database.engine.begin() as connection:
        connection.execute(text("INSERT INTO stamp_test_item (pk, name) VALUES (1, 'kept')"))
    database.create_tables(tables(2), upgrade=Upgrades.upgrade)  # the next version's start
    assert Upgrades.runs == 2
    assert "kind" in {c["name"] for c in inspect(database.engine).get_columns("stamp_test_item")}
    with database.engine.connect() as connection:
        assert connection.execute(text("SELECT name FROM stamp_test_item")).scalars().all() == ["kept"]
    database.create_tables(tables(2), upgrade=Upgrades.upgrade)
    assert Upgrades.runs == 2  # stamped: nothing checked the third time


def test_tables_from_before_stamps_are_checked_and_upgraded(database: Database) -> None:
    tables(1).create_all(database.engine)  # an earlier version: its tables, no stamp table
    assert TABLE not in inspect(database.engine).get_table_names()
    database.create_tables(tables(2), upgrade=Upgrades.upgrade)
    assert Upgrades.runs == 1
    assert "kind" in {c["name"] for c in inspect(database.engine).get_columns("stamp_test_item")}
    with database.engine.connect() as connection:
        assert connection.execute(text(f"SELECT count(*) FROM {TABLE}")).scalar() == 1


def test_a_missing_table_is_made_though_an_earlier_start_stamped(database: Database) -> None:
    """A stamp is for a set of tables: another set (another actor's) is made and stamped on its own."""
    database.create_tables(tables(1))
    other = MetaData()
    Table("stamp_test_other", other, Column("pk", Integer, primary_key=True))
    database.create_tables(other)
    assert {"stamp_test_item", "stamp_test_other"} <= set(inspect(database.engine).get_table_names())
    with database.engine.connect() as connection:
        assert connection.execute(text(f"SELECT count(*) FROM {TABLE}")).scalar() == 2
