"""The database layer works the same on SQLite and PostgreSQL: a unit of work commits or rolls back whole."""

from __future__ import annotations

import pytest
from sqlalchemy import String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from nsp_sandbox.database import Database, normalise_url


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


def test_postgres_urls_use_psycopg3() -> None:
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"
