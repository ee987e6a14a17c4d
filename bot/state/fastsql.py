"""Hot-path INSERTs run on the DBAPI cursor, with SQL compiled once by SQLAlchemy for the dialect.

Each alert writes a signal, an order, its fills and outbox rows inside the group-commit transaction.
Through ``Connection.execute`` every statement costs tens of microseconds of SQLAlchemy bookkeeping
(execution context, cache key, result set-up), which was the largest single cost per alert. A
:class:`FastInsert` compiles the full-column INSERT once per dialect, converts values with the
columns' own bind processors (so :class:`~bot.state.models.DecimalText` and
:class:`~bot.state.models.UTCDateTime` store exactly what the ORM would) and fills omitted columns
from their scalar defaults. On SQLite it executes on the raw cursor; on any other dialect it falls
back to ``Connection.execute`` (same rows, ordinary speed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError


class FastInsert:
    """A full-column INSERT into ``table`` for the hot path.

    Args:
        table: the SQLAlchemy table.

    Rows are mappings of column name → Python value (Decimal, tz-aware datetime, str, bool, None);
    missing columns take their scalar default (or NULL); a key that is not a column (or an explicit
    autoincrement primary key) raises ``ValueError``. The primary key is assigned by the database.
    """

    def __init__(self, table: Table, *, upsert_on: tuple[str, ...] = ()) -> None:
        self.table = table
        self._statement = insert(table)
        self._upsert_on = upsert_on
        self._columns = [c for c in table.columns if not (c.primary_key and c.autoincrement is True)]
        self._names = frozenset(c.key for c in self._columns)
        self._defaults = {
            c.key: (c.default.arg if c.default is not None and c.default.is_scalar else None) for c in self._columns
        }
        self._compiled: dict[str, tuple[str, list[tuple[str, Callable[[Any], Any] | None]]]] = {}

    def _for(self, dialect: Dialect) -> tuple[str, list[tuple[str, Callable[[Any], Any] | None]]]:
        found = self._compiled.get(dialect.name)
        if found is None:
            names = [c.key for c in self._columns]
            statement = self._statement
            if self._upsert_on and dialect.name == "sqlite":
                upsert = sqlite_insert(self.table)
                statement = upsert.on_conflict_do_update(
                    index_elements=list(self._upsert_on),
                    set_={n: upsert.excluded[n] for n in names if n not in self._upsert_on},
                )
            compiled = statement.compile(dialect=dialect, column_keys=names)
            order = list(compiled.positiontup or names)
            types = {c.key: c.type for c in self._columns}
            processors = [(name, types[name].bind_processor(dialect)) for name in order]
            found = self._compiled[dialect.name] = (compiled.string, processors)
        return found

    def _params(self, row: Mapping[str, Any], processors: list[tuple[str, Callable[[Any], Any] | None]]) -> tuple:
        if not self._names.issuperset(row):  # as Core does: a misspelt column must not vanish silently
            unknown = sorted(set(row) - self._names)
            raise ValueError(f"{self.table.name}: no such column(s) for this insert: {', '.join(unknown)}")
        defaults = self._defaults
        values = []
        for name, process in processors:
            value = row[name] if name in row else defaults[name]
            values.append(process(value) if process is not None and value is not None else value)
        return tuple(values)

    def upsert(self, conn: Connection, row: Mapping[str, Any]) -> None:
        """Insert ``row``, or update every other column of the row with the same ``upsert_on`` key.

        Raises:
            sqlalchemy.exc.DBAPIError: as :meth:`one`.
        """
        assert self._upsert_on, "upsert needs upsert_on columns"
        if conn.dialect.name == "sqlite":
            self.one(conn, row)
            return
        key = {n: row[n] for n in self._upsert_on}
        where = [self.table.c[n] == v for n, v in key.items()]
        rest = {n: v for n, v in row.items() if n not in key}
        if not conn.execute(self.table.update().where(*where).values(rest)).rowcount:
            conn.execute(self._statement, dict(row))

    def one(self, conn: Connection, row: Mapping[str, Any]) -> int:
        """Insert ``row`` and return its primary key.

        Raises:
            sqlalchemy.exc.DBAPIError: a constraint or I/O failure, translated as SQLAlchemy does
                (``IntegrityError``, ``OperationalError``, ...).
        """
        if conn.dialect.name != "sqlite":
            return int(conn.execute(self._statement, dict(row)).inserted_primary_key[0])
        sql, processors = self._for(conn.dialect)
        params = self._params(row, processors)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, params)
            return int(cursor.lastrowid)
        except conn.dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(sql, params, exc, conn.dialect.loaded_dbapi.Error) from exc
        finally:
            cursor.close()

    def many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert ``rows`` (no keys returned). Raises as :meth:`one`."""
        if not rows:
            return
        if conn.dialect.name != "sqlite":
            conn.execute(self._statement, [dict(r) for r in rows])
            return
        sql, processors = self._for(conn.dialect)
        params = [self._params(r, processors) for r in rows]
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(sql, params)
        except conn.dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(sql, params, exc, conn.dialect.loaded_dbapi.Error) from exc
        finally:
            cursor.close()
