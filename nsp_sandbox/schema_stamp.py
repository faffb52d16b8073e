"""Schema stamps: what a start-up needs to know to skip its table checks.

Each actor makes its tables on start (where missing) and brings tables of an earlier version up to this one
(``upgrade``: later columns and indexes, data moved to a new model). Both read the database's catalog, table by
table or in a few catalog queries, at every start, though the tables are almost always already this version's.

After a start has made and upgraded one set of tables, it writes a stamp: a row in ``sandbox_schema_stamp``
holding the set's *scope* (its table names, and the module of its upgrade) and its *fingerprint* — the dialect's
DDL of every table and index of the set, and, where the set has an upgrade, the source of the module that
declares it (its steps and their constants). A later start whose fingerprint equals the stored one reads that
one row and is done; a start of another version (another fingerprint), or on a database an earlier version made
(no stamp), checks and upgrades as before, then stamps. A stamp describes the tables, not data: emptying a
database for a test keeps it, as it keeps the tables.
"""

from __future__ import annotations

import hashlib
import sys
import threading
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import DateTime, Dialect, Engine, MetaData, String, delete, select
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.schema import CreateIndex, CreateTable

from nsp_sandbox.clock import naive_utc

TABLE = "sandbox_schema_stamp"

Upgrade = Callable[[Engine], object]  # brings tables an earlier version made up to this one


class StampBase(DeclarativeBase):
    pass


class SchemaStampRow(StampBase):
    """One set of tables (``scope``) as a start made and upgraded it (``fingerprint``)."""

    __tablename__ = TABLE
    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    stamped_at: Mapped[datetime] = mapped_column(DateTime)


# Per metadata (held weakly: a metadata made and dropped at run time takes its entry with it), per dialect and
# upgrade module: the scope and the fingerprint.
_fingerprints: weakref.WeakKeyDictionary[MetaData, dict[tuple[str, str], tuple[str, str]]] = \
    weakref.WeakKeyDictionary()
_lock = threading.Lock()


def scope_and_fingerprint(metadata: MetaData, dialect: Dialect, upgrade: Upgrade | None) -> tuple[str, str]:
    """``metadata``'s scope (a digest of its table names and the upgrade's module) and its fingerprint on
    ``dialect`` with ``upgrade``; worked out once per process."""
    module = getattr(upgrade, "__module__", "") or ""
    key = (dialect.name, module)
    with _lock:
        found = _fingerprints.get(metadata, {}).get(key)
    if found is not None:
        return found
    scope = hashlib.sha256(",".join([*sorted(metadata.tables), module]).encode()).hexdigest()[:32]
    digest = hashlib.sha256(dialect.name.encode())
    for table in metadata.sorted_tables:
        digest.update(str(CreateTable(table).compile(dialect=dialect)).encode())
        for index in sorted(table.indexes, key=lambda index: index.name or ""):
            digest.update(str(CreateIndex(index).compile(dialect=dialect)).encode())
    if upgrade is not None:
        source = getattr(sys.modules.get(module), "__file__", None)
        digest.update(module.encode())
        digest.update(Path(source).read_bytes() if source else getattr(upgrade, "__qualname__", "").encode())
    found = (scope, digest.hexdigest())
    with _lock:
        _fingerprints.setdefault(metadata, {})[key] = found
    return found


def is_current(engine: Engine, metadata: MetaData, upgrade: Upgrade | None) -> tuple[bool, str, str]:
    """Whether ``metadata``'s tables in ``engine``'s database are stamped with their fingerprint (no stamp
    table yet: not current); with the scope and the fingerprint."""
    scope, fingerprint = scope_and_fingerprint(metadata, engine.dialect, upgrade)
    with engine.connect() as connection:
        try:
            stored = connection.execute(select(SchemaStampRow.fingerprint)
                                        .where(SchemaStampRow.scope == scope)).scalar_one_or_none()
        except (OperationalError, ProgrammingError):  # an earlier version's database: no stamp table
            return False, scope, fingerprint
    return stored == fingerprint, scope, fingerprint


def stamp(engine: Engine, scope: str, fingerprint: str) -> None:
    """Record that ``scope``'s tables are ``fingerprint``'s (the stamp table is made if missing; of two
    starts stamping at once, one row stays)."""
    StampBase.metadata.create_all(engine)
    try:
        with engine.begin() as connection:
            connection.execute(delete(SchemaStampRow).where(SchemaStampRow.scope == scope))
            connection.execute(SchemaStampRow.__table__.insert().values(  # type: ignore[attr-defined]
                scope=scope, fingerprint=fingerprint, stamped_at=naive_utc(datetime.now(UTC))))
    except IntegrityError:
        pass
