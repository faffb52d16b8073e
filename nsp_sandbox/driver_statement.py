"""Prebuilt Core statements run on the driver's cursor: for the few statements that every provide runs.

``Connection.execute`` compiles a statement once (its cache), but at every call it still builds an
execution context, processes each parameter through it, and wraps the cursor in a result with its own
metadata: on SQLite 60–80 µs of CPU per statement beyond the driver's own work, as much as SQLite takes to
insert the row. An ITI-65 provide runs eleven statements in its transaction, and its notification and the
viewer's extract a few more.

A :class:`DriverStatement` is compiled by SQLAlchemy once for each dialect and each set of parameter names:
the same SQL, and the bind and result processing its column types define for that dialect. It then runs
on the DBAPI cursor of the caller's connection, inside the caller's transaction. What would make that
differ from ``Connection.execute`` sends the call to ``Connection.execute`` instead: a default computed
in Python at execution (``insert_prefetch``, ``update_prefetch``) or a parameter rendered at execution
(an expanding ``IN``). A driver error is raised as SQLAlchemy raises it (``DBAPIError.instance``: an
``IntegrityError`` stays one), and one that means the connection is gone invalidates the connection, as
``Connection.execute`` does.

No execution events are sent (``before_cursor_execute``): the sandbox listens to none.
"""

from __future__ import annotations

import threading
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.base import Executable

Processor = Callable[[Any], Any]


@dataclass(frozen=True)
class _Form:
    """The statement compiled for one dialect and one set of parameter names."""

    sql: str
    names: tuple[str, ...]  # the parameters in the SQL's order (a positional driver, SQLite), or by name
    positional: bool
    defaults: dict[str, Any]  # values the statement binds itself (a literal such as ``events + 1``)
    bind: tuple[tuple[str, Processor], ...]  # each parameter its type converts (a datetime on SQLite)
    result: tuple[Processor | None, ...] | None  # per returned column; None: the statement returns no rows
    converts_results: bool
    row: Callable[[Any], tuple[Any, ...]]  # a returned row with its columns by name, as a ``Row`` has them


class DriverStatement:
    """``statement`` (a prebuilt Core ``select``, ``insert`` or ``update``) run on the driver's cursor.

    :meth:`rows` runs it once and answers what it returns, :meth:`run` runs it for its effect and answers
    the rows it changed, :meth:`run_many` runs it once per parameter set (the driver's ``executemany``).
    """

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._forms: dict[tuple[str, frozenset[str]], _Form | None] = {}
        self._lock = threading.Lock()

    def rows(self, connection: Connection, params: Mapping[str, Any]) -> Sequence[Any]:
        """The rows the statement returns (``SELECT``, or DML with ``RETURNING``): tuples whose columns are
        also attributes by their names, as a ``Row``'s are."""
        form = self._form(connection.dialect, params)
        if form is None:
            return connection.execute(self.statement, dict(params)).all()
        cursor = self._execute(connection, form, params)
        try:
            rows = cursor.fetchall()
        finally:
            cursor.close()
        make = form.row
        if form.converts_results and form.result is not None:
            processors = form.result
            return [make(value if p is None else p(value) for p, value in zip(processors, row, strict=True))
                    for row in rows]
        return [make(row) for row in rows]

    def run(self, connection: Connection, params: Mapping[str, Any]) -> int:
        """Run the statement once; the number of rows it changed."""
        form = self._form(connection.dialect, params)
        if form is None:
            return int(connection.execute(self.statement, dict(params)).rowcount)  # type: ignore[attr-defined]
        cursor = self._execute(connection, form, params)
        try:
            if form.result is not None:
                cursor.fetchall()
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def run_many(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run the statement once for each of ``rows`` (all with the same names), in one driver call."""
        if not rows:
            return
        form = self._form(connection.dialect, rows[0])
        if form is not None and len(rows) > 1 and any(r.keys() != rows[0].keys() for r in rows[1:]):
            form = None  # parameter sets with other names: Connection.execute refuses them as it does
        if form is None or form.result is not None or len(rows) == 1:
            if form is None:
                connection.execute(self.statement, [dict(r) for r in rows])
                return
            for row in rows:
                self.run(connection, row)
            return
        arguments = [self._arguments(form, row) for row in rows]
        cursor = _cursor(connection)
        try:
            cursor.executemany(form.sql, arguments)
        except connection.dialect.loaded_dbapi.Error as exc:
            raise self._error(connection, form, arguments, exc, cursor) from exc
        finally:
            cursor.close()

    # ---- the compiled forms ----------------------------------------------------------------------

    def _form(self, dialect: Dialect, params: Mapping[str, Any]) -> _Form | None:
        key = (dialect.name, frozenset(params))
        try:
            return self._forms[key]
        except KeyError:
            pass
        form = _compile(self.statement, dialect, sorted(params))
        with self._lock:
            self._forms[key] = form
        return form

    @staticmethod
    def _arguments(form: _Form, params: Mapping[str, Any]) -> Any:
        values = {**form.defaults, **params} if form.defaults else dict(params)
        for name, process in form.bind:
            values[name] = process(values[name])
        if form.positional:
            return tuple(values[name] for name in form.names)
        return {name: values[name] for name in form.names}

    def _execute(self, connection: Connection, form: _Form, params: Mapping[str, Any]) -> Any:
        arguments = self._arguments(form, params)
        cursor = _cursor(connection)
        try:
            cursor.execute(form.sql, arguments)
        except connection.dialect.loaded_dbapi.Error as exc:
            error = self._error(connection, form, arguments, exc, cursor)  # read before the cursor is closed
            cursor.close()
            raise error from exc
        return cursor

    @staticmethod
    def _error(connection: Connection, form: _Form, arguments: Any, exc: Exception, cursor: Any) -> DBAPIError:
        dialect = connection.dialect
        if dialect.is_disconnect(exc, connection.connection.dbapi_connection, cursor):  # type: ignore[arg-type]
            connection.invalidate(exc)
        return DBAPIError.instance(form.sql, arguments, exc, dialect.loaded_dbapi.Error, dialect=dialect)


def _cursor(connection: Connection) -> Any:
    """A cursor of ``connection``'s driver connection, in its transaction: begun here if it has not begun yet, as
    ``Connection.execute`` begins it (a statement run before the first ``commit`` is committed by it)."""
    if not connection.in_transaction():
        connection.begin()
    return connection.connection.cursor()


def _compile(statement: Executable, dialect: Dialect, names: list[str]) -> _Form | None:
    """``statement`` for ``dialect`` with parameters ``names``; None when only ``Connection.execute`` can run it
    as it would (a Python-side default, a parameter rendered at execution)."""
    compiled: Any = statement.compile(dialect=dialect, column_keys=names)  # type: ignore[attr-defined]
    if (compiled.insert_prefetch or compiled.update_prefetch or compiled.literal_execute_params
            or compiled.post_compile_params or compiled.escaped_bind_names):
        return None
    bind_names: dict[Any, str] = compiled.bind_names
    defaults: dict[str, Any] = {}
    bind: list[tuple[str, Processor]] = []
    for bindparam, name in bind_names.items():
        if name not in names:
            if bindparam.callable is not None or (bindparam.value is None and bindparam.required):
                return None
            defaults[name] = bindparam.value
        process = bindparam.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            bind.append((name, process))
    order = tuple(compiled.positiontup) if dialect.positional else tuple(dict.fromkeys(bind_names.values()))
    if set(order) - set(names) - set(defaults):
        return None
    returned: Sequence[Any] | None
    if compiled.isinsert or compiled.isupdate or compiled.isdelete:
        returned = compiled.effective_returning or None
    else:
        returned = list(statement.selected_columns)  # type: ignore[attr-defined]
    result: tuple[Processor | None, ...] | None = None
    keys: list[str] = []
    if returned is not None:
        result = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None) for column in returned)
        keys = [str(getattr(column, "key", None) or getattr(column, "name", "_")) for column in returned]
    row = namedtuple("Row", keys, rename=True)._make  # type: ignore[misc]
    return _Form(compiled.string, order, bool(dialect.positional), defaults, tuple(bind), result,
                 result is not None and any(p is not None for p in result), row)
