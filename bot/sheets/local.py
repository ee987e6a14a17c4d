"""Local workbook backend (the embedded default): one SQLite file under ``BOT_DATA_DIR``.

Why SQLite rather than an .xlsx/.csv file: the bot writes while the dashboard and the CLI read
from other processes; SQLite (WAL mode) gives atomic writes and consistent concurrent reads, and
survives a crash mid-write. Users read and edit it with ``python -m bot export|import`` and the
dashboard's Config page.

Layout: ``tabs(name, ord, headers)`` (headers as a JSON list), ``rows(tab, pos, rkey, data)`` (one
row per sheet row: ``pos`` orders rows, ``rkey`` is the JSON of :func:`~bot.sheets.base.row_key`,
``data`` a JSON object header → text), ``meta(k, v)`` (``config_version``).
"""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from bot.errors import ConfigError, TemporaryError
from bot.records import RowWrite, Table, WriteBatch
from bot.sheets.base import row_key
from bot.sheets.schema import TABS, TabSpec, tab_spec

_VERSIONED_TABS = ("Config", "Settings")


class LocalWorkbook:
    """:class:`~bot.sheets.base.Workbook` stored in a SQLite file (thread-safe, multi-process safe).

    Args:
        path: the workbook file; created with its parent directory when missing.

    Raises:
        ConfigError: when the file cannot be opened or is not a workbook.
    """

    kind = "local"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()  # guards the write connection
        # read connections, reused: reads never wait for a write (WAL); as many as reads run at once
        self._readers: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._reader_conns: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        try:
            self._conn = sqlite3.connect(str(self.path), timeout=10.0, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(
                """
                CREATE TABLE IF NOT EXISTS tabs (name TEXT PRIMARY KEY, ord INTEGER NOT NULL, headers TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS rows (
                    tab TEXT NOT NULL, pos INTEGER NOT NULL, rkey TEXT NOT NULL, data TEXT NOT NULL,
                    PRIMARY KEY (tab, pos));
                CREATE INDEX IF NOT EXISTS rows_key ON rows (tab, rkey);
                CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
                """
            )
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"local workbook {self.path} cannot be opened: {exc}") from None

    # -- reading ---------------------------------------------------------------------------

    def read_tables(self, tabs: Sequence[str]) -> dict[str, Table]:
        """Read ``tabs`` in one consistent snapshot; a missing tab reads as empty with schema headers.

        Reads use a read connection of their own (WAL): a long write, such as the performance job
        rewriting a large Trades tab, never holds up an alert's config check.
        """
        with self._reader() as conn, LocalWorkbook._Txn(conn, write=False) as cur:
            return {tab: self._read(cur, tab) for tab in tabs}

    def headers(self, tab: str) -> list[str]:
        """Headers of ``tab`` as stored (empty list when the tab does not exist)."""
        with self._reader() as conn:
            row = conn.execute("SELECT headers FROM tabs WHERE name=?", (tab,)).fetchone()
        return json.loads(row[0]) if row else []

    def version(self) -> str | None:
        """Changes whenever user-owned cells of Config or Settings change (import, dashboard edit)."""
        with self._reader() as conn:
            row = conn.execute("SELECT v FROM meta WHERE k='config_version'").fetchone()
        return row[0] if row else "0"

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        """A read connection from the pool (a new one when all are in use), returned after use.

        Raises:
            TemporaryError: the workbook was closed or cannot be opened.
        """
        if self._closed:
            raise TemporaryError(f"local workbook {self.path} is closed")
        try:
            conn = self._readers.get_nowait()
        except queue.Empty:
            try:
                conn = sqlite3.connect(str(self.path), timeout=10.0, isolation_level=None, check_same_thread=False)
            except sqlite3.DatabaseError as exc:
                raise TemporaryError(f"local workbook {self.path} cannot be read: {exc}") from None
            with self._readers_lock:
                self._reader_conns.append(conn)
        try:
            yield conn
        finally:
            if self._closed:
                conn.close()  # closed while this read ran
            else:
                self._readers.put(conn)

    # -- writing ---------------------------------------------------------------------------

    def apply(self, batch: WriteBatch) -> None:
        """Apply row writes and appends in one transaction, in order."""
        if not batch:
            return
        with self._lock, self._txn(write=True) as cur:
            bump = False
            for write in batch.writes:
                bump |= self._write(cur, write)
            for tab, record in batch.appends:
                self._append(cur, tab, record)
                bump |= self._touches_user_cells(tab, record)
            if bump:
                self._bump(cur)

    def replace_rows(self, tab: str, rows: list[dict[str, str]]) -> None:
        """Replace all data rows of ``tab`` in one transaction (readers see old or new, never half)."""
        with self._lock, self._txn(write=True) as cur:
            headers = self._headers_for(cur, tab, rows)
            cur.execute("DELETE FROM rows WHERE tab=?", (tab,))
            cur.executemany(
                "INSERT INTO rows (tab, pos, rkey, data) VALUES (?, ?, ?, ?)",
                [
                    (tab, pos, json.dumps(row_key(tab, row)), json.dumps({h: row.get(h, "") for h in headers}))
                    for pos, row in enumerate(rows, start=1)
                ],
            )
            if tab in _VERSIONED_TABS:
                self._bump(cur)

    def ensure_tabs(self, specs: Sequence[TabSpec]) -> list[str]:
        """Create missing tabs with schema headers; append missing schema columns at the right."""
        changes: list[str] = []
        with self._lock, self._txn(write=True) as cur:
            for spec in specs:
                row = cur.execute("SELECT headers FROM tabs WHERE name=?", (spec.name,)).fetchone()
                if row is None:
                    order = TABS.index(spec.name) if spec.name in TABS else len(TABS)
                    cur.execute(
                        "INSERT INTO tabs (name, ord, headers) VALUES (?, ?, ?)",
                        (spec.name, order, json.dumps(spec.headers)),
                    )
                    changes.append(f"created tab {spec.name}")
                    continue
                headers = json.loads(row[0])
                missing = [h for h in spec.headers if h not in headers]
                if missing:
                    cur.execute("UPDATE tabs SET headers=? WHERE name=?", (json.dumps(headers + missing), spec.name))
                    changes.append(f"{spec.name}: added columns {', '.join(missing)}")
        return changes

    def set_headers(self, tab: str, headers: list[str]) -> None:
        """Set a tab's header row as given (used by import of a sheet with extra user columns)."""
        with self._lock, self._txn(write=True) as cur:
            cur.execute(
                "INSERT INTO tabs (name, ord, headers) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET headers=excluded.headers",
                (tab, TABS.index(tab) if tab in TABS else len(TABS), json.dumps(headers)),
            )

    def trim(self, tab: str, keep_rows: int) -> int:
        """Delete the oldest rows of ``tab`` beyond the newest ``keep_rows``; return the count deleted."""
        with self._lock, self._txn(write=True) as cur:
            row = cur.execute(
                "SELECT pos FROM rows WHERE tab=? ORDER BY pos DESC LIMIT 1 OFFSET ?", (tab, keep_rows)
            ).fetchone()
            if row is None:
                return 0
            return cur.execute("DELETE FROM rows WHERE tab=? AND pos<=?", (tab, row[0])).rowcount

    def close(self) -> None:
        """Close the connection."""
        self._closed = True
        with self._lock:
            self._conn.close()
        with self._readers_lock:
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()

    # -- internals -------------------------------------------------------------------------

    class _Txn:
        def __init__(self, conn: sqlite3.Connection, write: bool) -> None:
            self.conn, self.write = conn, write

        def __enter__(self) -> sqlite3.Cursor:
            try:
                self.conn.execute("BEGIN IMMEDIATE" if self.write else "BEGIN")
            except sqlite3.OperationalError as exc:
                raise TemporaryError(f"local workbook busy: {exc}") from None
            return self.conn.cursor()

        def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
            self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")

    def _txn(self, *, write: bool) -> LocalWorkbook._Txn:
        return LocalWorkbook._Txn(self._conn, write)

    def _read(self, cur: sqlite3.Cursor, tab: str) -> Table:
        row = cur.execute("SELECT headers FROM tabs WHERE name=?", (tab,)).fetchone()
        if row is None:
            return Table(tab, tab_spec(tab).headers if tab in TABS else [], [])
        headers = json.loads(row[0])
        rows = []
        for (data,) in cur.execute("SELECT data FROM rows WHERE tab=? ORDER BY pos", (tab,)):
            values = json.loads(data)
            rows.append({h: values.get(h, "") for h in headers})
        return Table(tab, headers, rows)

    def _headers_for(self, cur: sqlite3.Cursor, tab: str, rows: list[dict[str, str]]) -> list[str]:
        row = cur.execute("SELECT headers FROM tabs WHERE name=?", (tab,)).fetchone()
        headers = json.loads(row[0]) if row else (tab_spec(tab).headers if tab in TABS else [])
        extra = [k for r in rows for k in r if k not in headers]
        if extra or row is None:
            headers = headers + list(dict.fromkeys(extra))
            cur.execute(
                "INSERT INTO tabs (name, ord, headers) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET headers=excluded.headers",
                (tab, TABS.index(tab) if tab in TABS else len(TABS), json.dumps(headers)),
            )
        return headers

    def _write(self, cur: sqlite3.Cursor, write: RowWrite) -> bool:
        rkey = json.dumps(list(write.key))
        found = cur.execute("SELECT pos, data FROM rows WHERE tab=? AND rkey=?", (write.tab, rkey)).fetchall()
        if not found:
            if write.upsert:
                self._append(cur, write.tab, write.values)
                return self._touches_user_cells(write.tab, write.values)
            return False
        self._headers_for(cur, write.tab, [write.values])
        for pos, data in found:
            values = json.loads(data)
            values.update(write.values)
            cur.execute(
                "UPDATE rows SET data=?, rkey=? WHERE tab=? AND pos=?",
                (json.dumps(values), json.dumps(row_key(write.tab, values)), write.tab, pos),
            )
        return self._touches_user_cells(write.tab, write.values)

    def _append(self, cur: sqlite3.Cursor, tab: str, record: dict[str, str]) -> None:
        headers = self._headers_for(cur, tab, [record])
        (last,) = cur.execute("SELECT COALESCE(MAX(pos), 0) FROM rows WHERE tab=?", (tab,)).fetchone()
        cur.execute(
            "INSERT INTO rows (tab, pos, rkey, data) VALUES (?, ?, ?, ?)",
            (tab, last + 1, json.dumps(row_key(tab, record)), json.dumps({h: record.get(h, "") for h in headers})),
        )

    @staticmethod
    def _touches_user_cells(tab: str, values: dict[str, str]) -> bool:
        if tab not in _VERSIONED_TABS:
            return False
        bot_columns = tab_spec(tab).bot_columns
        return any(column not in bot_columns for column in values)

    @staticmethod
    def _bump(cur: sqlite3.Cursor) -> None:
        cur.execute(
            "INSERT INTO meta (k, v) VALUES ('config_version', '1') "
            "ON CONFLICT(k) DO UPDATE SET v = CAST(CAST(v AS INTEGER) + 1 AS TEXT)"
        )
