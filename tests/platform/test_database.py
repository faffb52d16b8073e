"""The database layer works the same on SQLite and PostgreSQL: a unit of work (of mapped objects or of Core
statements alone) commits or rolls back whole; a reading one changes nothing; a pooled PostgreSQL connection
the server ended is replaced unseen."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Connection, String, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from nsp_sandbox import connection_check
from nsp_sandbox.database import Database, InsertIfAbsent, normalise_url
from nsp_sandbox.driver_statement import DriverStatement


class Base(DeclarativeBase):
    pass


class Thing(Base):
    __tablename__ = "test_things"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)


def test_unit_of_work_commits_or_rolls_back(database_url: str) -> None:
    db = Database.from_url(database_url)
    db.create_tables(Base.metadata)
    with db.session() as s:
        s.add(Thing(name="a"))
    with pytest.raises(RuntimeError), db.session() as s:
        s.add(Thing(name="b"))
        s.flush()
        raise RuntimeError("abort")
    with db.session() as s:
        assert [t.name for t in s.scalars(select(Thing))] == ["a"]
    assert db.is_sqlite == database_url.startswith("sqlite")
    db.engine.dispose()


def test_a_unit_of_core_statements_commits_or_rolls_back_whole(database_url: str) -> None:
    db = Database.from_url(database_url)
    db.create_tables(Base.metadata)
    things = Thing.__table__
    insert_once = InsertIfAbsent(things, ["name"], returning=things.c.id)
    with db.transaction() as connection:
        connection.execute(insert(things), [{"name": "a"}])
        assert insert_once.rows(connection, {"name": "b"})
        assert not insert_once.rows(connection, {"name": "b"})  # left alone
    with pytest.raises(RuntimeError), db.transaction() as connection:
        connection.execute(insert(things), [{"name": "c"}])
        raise RuntimeError("abort")
    with pytest.raises(IntegrityError), db.transaction() as connection:
        connection.execute(insert(things), [{"name": "d"}])
        connection.execute(insert(things), [{"name": "a"}])  # a name twice: nothing of this unit is kept
    with db.session() as s:
        assert sorted(t.name for t in s.scalars(select(Thing))) == ["a", "b"]
    db.engine.dispose()


def test_sqlite_units_of_work_one_after_another_run_on_the_connection_returned_last(tmp_path: Path) -> None:
    """A SQLite connection's page cache is dropped whole when another connection has committed since its last
    transaction: units of work that follow each other take the connection the last one gave back (after a
    burst that opened several), so its cache still holds what it wrote, and pages are not read again."""
    db = Database.from_url(f"sqlite:///{tmp_path / 'pool.db'}")
    db.create_tables(Base.metadata)

    def dbapi_connection(connection: Connection) -> object:
        return connection.connection.dbapi_connection

    with db.transaction() as first, db.transaction() as second, db.transaction() as third:
        burst = {id(dbapi_connection(c)) for c in (first, second, third)}
        last_returned = dbapi_connection(first)  # the outermost is given back last
    assert len(burst) == 3
    for n in range(5):
        with db.transaction() as connection:
            assert dbapi_connection(connection) is last_returned
            connection.execute(insert(Thing.__table__), [{"name": f"t{n}"}])
    with db.reading() as s:
        assert s.connection().connection.dbapi_connection is last_returned
        assert sorted(s.scalars(select(Thing.name))) == [f"t{n}" for n in range(5)]
    db.engine.dispose()


def test_postgres_urls_use_psycopg3() -> None:
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"


def test_a_reading_unit_of_work_sees_what_is_committed_and_changes_nothing(database_url: str) -> None:
    db = Database.from_url(database_url)
    db.create_tables(Base.metadata)
    with db.session() as s:
        s.add(Thing(name="a"))
    with db.reading() as s:
        assert [t.name for t in s.scalars(select(Thing))] == ["a"]
    with pytest.raises(RuntimeError, match="reading unit of work changed rows"), db.reading() as s:
        s.add(Thing(name="b"))
    with db.reading() as s:
        assert [t.name for t in s.scalars(select(Thing))] == ["a"]
    db.engine.dispose()


def _postgres_only(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's connection pool and transactions")


def test_reads_on_postgresql_run_without_a_transaction_around_them(database_url: str) -> None:
    _postgres_only(database_url)
    db = Database.from_url(database_url)
    sql = select(func.transaction_timestamp())
    with db.reading() as s:  # each statement on its own: a transaction of its own
        first = s.scalar(sql)
        time.sleep(0.01)
        assert s.scalar(sql) != first
    with db.session() as s:  # one unit of work that writes: one transaction
        first = s.scalar(sql)
        time.sleep(0.01)
        assert s.scalar(sql) == first
    db.engine.dispose()


def test_prebuilt_reads_see_what_is_committed_and_on_postgresql_run_each_on_its_own(database_url: str) -> None:
    db = Database.from_url(database_url)
    db.create_tables(Base.metadata)
    names = DriverStatement(select(Thing.name).order_by(Thing.name))
    with db.session() as s:
        s.add(Thing(name="a"))
    with db.reading_connection() as connection:
        assert [row.name for row in names.rows(connection, {})] == ["a"]
        with db.session() as s:
            s.add(Thing(name="b"))
        assert [row.name for row in names.rows(connection, {})] == ["a", "b"]
    if not database_url.startswith("sqlite"):  # no BEGIN around them: each statement a transaction of its own
        began = DriverStatement(select(func.transaction_timestamp()))
        with db.reading_connection() as connection:
            first = began.rows(connection, {})[0][0]
            time.sleep(0.01)
            assert began.rows(connection, {})[0][0] != first
    db.engine.dispose()


def test_a_connection_the_server_ended_is_replaced_without_an_error(database_url: str) -> None:
    _postgres_only(database_url)
    db = Database.from_url(database_url)
    db.create_tables(Base.metadata)
    with db.session() as s:
        s.add(Thing(name="a"))
        backend = s.scalar(select(func.pg_backend_pid()))
    with psycopg.connect(database_url.partition("?")[0].replace("+psycopg", ""), autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (backend,)).fetchone() == (True,)
        for _ in range(100):  # until the server has ended it
            if admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (backend,)).fetchone() is None:
                break
            time.sleep(0.02)
    with db.reading() as s:  # the same pooled connection, just returned: its socket says it has ended
        assert [t.name for t in s.scalars(select(Thing))] == ["a"]
        assert s.scalar(select(func.pg_backend_pid())) != backend
    db.engine.dispose()


def test_a_connection_in_use_a_moment_ago_is_not_pinged_one_idle_for_long_is(
        database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _postgres_only(database_url)
    db = Database.from_url(database_url)
    pings: list[object] = []
    real_ping = db.engine.dialect.do_ping
    monkeypatch.setattr(db.engine.dialect, "do_ping", lambda c: pings.append(c) or real_ping(c))
    for _ in range(5):
        with db.reading() as s:
            s.scalar(select(func.now()))
    assert pings == []
    monkeypatch.setattr(connection_check, "IDLE_PING", 0.0)
    with db.reading() as s:
        s.scalar(select(func.now()))
    assert len(pings) == 1
    db.engine.dispose()
