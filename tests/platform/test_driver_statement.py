"""A statement run on the driver's cursor does what ``Connection.execute`` does with it, on SQLite and PostgreSQL:
the same rows and values (a date and time included), the same errors, in the caller's transaction; and what only
``Connection.execute`` can do as it would (a default computed in Python, an expanding ``IN``) it is left to do."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import DateTime, Integer, LargeBinary, String, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from nsp_sandbox.database import Database
from nsp_sandbox.driver_statement import DriverStatement


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "test_driver_items"
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    at: Mapped[datetime | None] = mapped_column(DateTime)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    count: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(20), default=lambda: "made")


ITEMS = Item.__table__
AT = datetime(2026, 1, 15, 8, 30, 5, 123456)


@pytest.fixture
def db(database_url: str) -> Any:
    database = Database.from_url(database_url)
    database.create_tables(Base.metadata)
    yield database
    database.engine.dispose()


def _row(name: str, **more: Any) -> dict[str, Any]:
    return {"name": name, "at": AT, "body": b"\x00\x01bytes", "count": 0, "kind": "given", **more}


def test_the_rows_and_values_are_those_connection_execute_answers(db: Database) -> None:
    insert_returning = DriverStatement(insert(ITEMS).returning(ITEMS.c.pk, ITEMS.c.at))
    by_name = select(ITEMS.c.pk, ITEMS.c.name, ITEMS.c.at, ITEMS.c.body).where(ITEMS.c.name == bindparam("name"))
    with db.transaction() as connection:
        pk, at = insert_returning.rows(connection, _row("a"))[0]
        assert at == AT  # converted back as Connection.execute converts it (a string on SQLite)
        found = DriverStatement(by_name).rows(connection, {"name": "a"})
        assert found == [tuple(r) for r in connection.execute(by_name, {"name": "a"}).all()]
        assert found == [(pk, "a", AT, b"\x00\x01bytes")]
    with db.transaction() as connection:  # committed with the caller's transaction
        assert connection.execute(select(ITEMS.c.name)).scalars().all() == ["a"]


def test_many_rows_are_inserted_in_one_call_and_a_bound_literal_is_kept(db: Database) -> None:
    with db.transaction() as connection:
        DriverStatement(insert(ITEMS)).run_many(connection, [_row("a"), _row("b"), _row("c")])
        counted = DriverStatement(update(ITEMS).where(ITEMS.c.name == bindparam("which"))
                                  .values(count=ITEMS.c.count + 1).returning(ITEMS.c.count))
        assert counted.rows(connection, {"which": "b"}) == [(1,)]
        assert counted.rows(connection, {"which": "b"}) == [(2,)]
        assert counted.rows(connection, {"which": "nobody"}) == []
        assert DriverStatement(select(ITEMS.c.name).order_by(ITEMS.c.pk).limit(2)).rows(connection, {}) == [
            ("a",), ("b",)]


def test_a_driver_error_is_sqlalchemys_and_the_transaction_stores_nothing(db: Database) -> None:
    statement = DriverStatement(insert(ITEMS))
    with pytest.raises(IntegrityError), db.transaction() as connection:
        statement.run(connection, _row("a"))
        statement.run(connection, _row("a"))
    with pytest.raises(IntegrityError), db.transaction() as connection:
        statement.run_many(connection, [_row("b"), _row("b")])
    with db.transaction() as connection:
        assert connection.execute(select(ITEMS.c.name)).scalars().all() == []


def test_a_default_computed_in_python_is_left_to_connection_execute(db: Database) -> None:
    statement = DriverStatement(insert(ITEMS).returning(ITEMS.c.kind, ITEMS.c.count))
    with db.transaction() as connection:
        # ``count`` and ``kind`` left out: their defaults are Python's, computed at execution.
        assert statement.rows(connection, {"name": "a"}) == [("made", 0)]
        assert statement.run(connection, {"name": "b", "kind": "given", "count": 3}) == 1
        statement.run_many(connection, [{"name": "c"}, {"name": "d"}])
        rows = connection.execute(select(ITEMS.c.name, ITEMS.c.kind, ITEMS.c.count).order_by(ITEMS.c.pk)).all()
    assert [tuple(r) for r in rows] == [("a", "made", 0), ("b", "given", 3), ("c", "made", 0), ("d", "made", 0)]


def test_an_expanding_parameter_is_left_to_connection_execute(db: Database) -> None:
    statement = DriverStatement(select(ITEMS.c.name).where(ITEMS.c.name.in_(bindparam("names", expanding=True)))
                                .order_by(ITEMS.c.name))
    with db.transaction() as connection:
        DriverStatement(insert(ITEMS)).run_many(connection, [_row("a"), _row("b"), _row("c")])
        assert statement.rows(connection, {"names": ["c", "a"]}) == [("a",), ("c",)]


def test_a_missing_parameter_is_refused_as_connection_execute_refuses_it(db: Database) -> None:
    statement = DriverStatement(select(ITEMS.c.pk).where(ITEMS.c.name == bindparam("name")))
    with db.transaction() as connection, pytest.raises(Exception) as refused:
        statement.rows(connection, {"other": "a"})
    with db.transaction() as connection, pytest.raises(Exception) as expected:
        connection.execute(statement.statement, {"other": "a"})
    assert type(refused.value) is type(expected.value)


def test_on_a_connection_not_yet_in_a_transaction_the_statement_begins_one_as_execute_does(db: Database) -> None:
    with db.engine.connect() as connection:
        DriverStatement(insert(ITEMS)).run(connection, _row("a"))
        connection.commit()
        DriverStatement(insert(ITEMS)).run(connection, _row("b"))  # not committed: rolled back at the close
    with db.transaction() as connection:
        assert connection.execute(select(ITEMS.c.name)).scalars().all() == ["a"]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # a server that ends a connection
def test_a_connection_the_server_ended_during_a_statement_is_given_up_and_the_next_unit_of_work_has_a_new_one(
        db: Database, database_url: str) -> None:
    import psycopg
    from sqlalchemy import func
    from sqlalchemy.exc import OperationalError

    statement = DriverStatement(select(ITEMS.c.name))
    with pytest.raises(OperationalError), db.transaction() as connection:
        backend = connection.execute(select(func.pg_backend_pid())).scalar()
        with psycopg.connect(database_url.partition("?")[0].replace("+psycopg", ""), autocommit=True) as admin:
            assert admin.execute("SELECT pg_terminate_backend(%s)", (backend,)).fetchone() == (True,)
        try:
            statement.rows(connection, {})
        finally:
            invalidated = connection.invalidated
    assert invalidated
    with db.transaction() as connection:
        assert statement.rows(connection, {}) == []
        assert connection.execute(select(func.pg_backend_pid())).scalar() != backend


def test_parameter_sets_with_other_names_are_refused_as_connection_execute_refuses_them(db: Database) -> None:
    uneven = [_row("a"), {"name": "b"}]
    with db.transaction() as connection, pytest.raises(Exception) as refused:
        DriverStatement(insert(ITEMS)).run_many(connection, uneven)
    with db.transaction() as connection, pytest.raises(Exception) as expected:
        connection.execute(insert(ITEMS), uneven)
    assert type(refused.value) is type(expected.value)
    assert str(refused.value).splitlines()[0] == str(expected.value).splitlines()[0]
