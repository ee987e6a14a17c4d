"""State DB access: engine set-up (durable SQLite by default), sessions, outbox and queries.

SQLite runs in WAL mode with ``synchronous=FULL`` (every commit is fsync'd: an alert answered 200
survives a crash or power loss) and ``BEGIN IMMEDIATE`` transactions (writers queue on the lock
instead of failing on upgrade). Any other SQLAlchemy URL (PostgreSQL) works unchanged.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, create_engine, delete, event, func, select
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.domain import Fill, Side, SlotKey, utc_now
from bot.errors import TemporaryError
from bot.records import Table
from bot.state.group_commit import FairLock, GroupCommitter
from bot.state.models import Base, FillRecord, Meta, OrderRecord, OutboxRecord, SlotRecord


def database_file(url: str) -> tuple[str, Path | None]:
    """``(backend name, file path)`` of a SQLAlchemy ``url``; the path is None unless it is a SQLite file
    (``("sqlite", Path("/data/state.db"))``, ``("postgresql", None)``, ``("sqlite", None)`` for ``:memory:``)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite" and parsed.database and parsed.database != ":memory:":
        return backend, Path(parsed.database)
    return backend, None


def make_engine(url: str, *, reader: bool = False) -> Engine:
    """SQLAlchemy engine for ``url``; SQLite files get WAL, fsync on commit and BEGIN IMMEDIATE.

    With ``reader`` (SQLite), transactions are not begun explicitly: each read sees the latest committed
    snapshot without taking the write lock.
    """
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        if not reader:

            @event.listens_for(engine, "begin")
            def _on_begin(conn: Any) -> None:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


@dataclass(frozen=True)
class OutboxEntry:
    """One pending workbook write: ``kind`` (write|upsert|append), ``tab``, ``key`` (JSON list) and
    ``payload`` (JSON object header → text), with the refusals counted so far in ``attempts``."""

    id: int
    kind: str
    tab: str
    key: str
    payload: str
    attempts: int


_OUTBOX = OutboxRecord.__table__
_SEL_OUTBOX = (
    select(_OUTBOX.c.id, _OUTBOX.c.kind, _OUTBOX.c.tab, _OUTBOX.c.key, _OUTBOX.c.payload, _OUTBOX.c.attempts)
    .order_by(_OUTBOX.c.id)
    .limit(bindparam("limit"))
)


class StateStore:
    """The state DB: sessions plus the few queries several modules share.

    Args:
        url: SQLAlchemy URL (``sqlite:////abs/path/state.db`` by default).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.reader = make_engine(url, reader=True) if url.startswith("sqlite") else self.engine
        Base.metadata.create_all(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(self.reader, expire_on_commit=False)
        #: every write transaction of this process takes its turn here (group commits and sessions alike)
        self.write_lock = FairLock()
        self.instance = self._instance_id()
        self.committer = GroupCommitter(self.engine, write_lock=self.write_lock)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: commits (fsync'd) on normal exit, rolls back on an exception.

        Raises:
            TemporaryError: when the database is locked or unreachable.
        """
        try:
            with self.write_lock, self._sessions() as session, session.begin():
                yield session
        except OperationalError as exc:
            raise TemporaryError(f"state DB unavailable: {exc.orig}") from None

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A Core write transaction in this process's turn (see :meth:`session`). Raises as :meth:`session`."""
        try:
            with self.write_lock, self.engine.begin() as conn:
                yield conn
        except OperationalError as exc:
            raise TemporaryError(f"state DB unavailable: {exc.orig}") from None

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A read-only session that never takes the write lock (SQLite WAL readers do not block writers).

        Use it for every read that is not followed by a write in the same transaction: a long read in a
        write transaction (``BEGIN IMMEDIATE``) would hold up every alert's commit. Nothing is committed.

        Raises:
            TemporaryError: when the database is unreachable.
        """
        try:
            with self._read_sessions() as session:
                yield session
        except OperationalError as exc:
            raise TemporaryError(f"state DB unavailable: {exc.orig}") from None

    def _instance_id(self) -> str:
        with self.session() as s:
            row = s.get(Meta, "instance")
            if row is None:
                row = Meta(key="instance", value=secrets.token_hex(3))
                s.add(row)
            return row.value

    # -- outbox ---------------------------------------------------------------------------

    @staticmethod
    def outbox_row(kind: str, tab: str, payload: dict[str, str], key: tuple[str, ...] = ()) -> dict[str, Any]:
        """Column values of an outbox entry (for Core inserts in a group-commit unit).

        ``kind``: ``write`` (update the row with ``key``), ``upsert`` (update or append) or ``append``.
        """
        return {
            "created_at": utc_now(),
            "kind": kind,
            "tab": tab,
            "key": json.dumps(list(key)),
            "payload": json.dumps(payload),
            "attempts": 0,
        }

    @classmethod
    def enqueue(cls, session: Session, kind: str, tab: str, payload: dict[str, str], key: tuple[str, ...] = ()) -> None:
        """Add a workbook write to the outbox inside the caller's ORM transaction (see :meth:`outbox_row`)."""
        session.add(OutboxRecord(**cls.outbox_row(kind, tab, payload, key)))

    def outbox_batch(self, limit: int = 2000) -> list[OutboxEntry]:
        """The oldest ``limit`` pending writes, in order (plain rows: no ORM bookkeeping on this busy path)."""
        with self.reader.connect() as conn:
            rows = conn.execute(_SEL_OUTBOX, {"limit": limit}).all()
        return [OutboxEntry(*row) for row in rows]

    def outbox_done(self, last_id: int) -> None:
        """Delete every outbox entry up to and including ``last_id`` (they have been applied).

        Runs as a group-commit unit: it shares the alerts' next transaction (and fsync) instead of
        adding one of its own. Raises :class:`TemporaryError` when the state DB cannot commit.
        """
        self.committer.run(lambda conn: conn.execute(delete(_OUTBOX).where(_OUTBOX.c.id <= last_id)))

    def outbox_delete(self, ids: list[int]) -> None:
        """Delete the given outbox entries (a group-commit unit, as :meth:`outbox_done`)."""
        self.committer.run(lambda conn: conn.execute(delete(_OUTBOX).where(_OUTBOX.c.id.in_(ids))))

    def outbox_failed(self, first_id: int) -> None:
        """Count a failed attempt on the entry that could not be applied."""
        with self.session() as s:
            record = s.get(OutboxRecord, first_id)
            if record is not None:
                record.attempts += 1

    def outbox_depth(self) -> int:
        """Number of pending workbook writes."""
        with self.read_session() as s:
            return int(s.scalar(select(func.count()).select_from(OutboxRecord)) or 0)

    # -- last good config ------------------------------------------------------------------

    def save_tables(self, name: str, tables: dict[str, Table]) -> None:
        """Keep ``tables`` (tab → :class:`~bot.records.Table`) durably under ``name``."""
        data = json.dumps({tab: {"headers": t.headers, "rows": t.rows} for tab, t in tables.items()})
        with self.session() as s:
            row = s.get(Meta, name)
            if row is None:
                s.add(Meta(key=name, value=data))
            else:
                row.value = data

    def load_tables(self, name: str) -> dict[str, Table] | None:
        """Tables saved by :meth:`save_tables`, or None."""
        with self.read_session() as s:
            row = s.get(Meta, name)
            if row is None:
                return None
            data = json.loads(row.value)
        return {tab: Table(tab, t["headers"], t["rows"]) for tab, t in data.items()}

    # -- slots and fills --------------------------------------------------------------------

    @staticmethod
    def slot(session: Session, key: SlotKey, *, create: bool = True) -> SlotRecord | None:
        """The slot row for ``key`` (created flat when missing and ``create``)."""
        row = session.get(SlotRecord, (key.symbol, key.timeframe))
        if row is None and create:
            row = SlotRecord(symbol=key.symbol, timeframe=key.timeframe, qty=0, updated_at=utc_now())
            session.add(row)
        return row

    def slots(self) -> list[SlotRecord]:
        """Every slot, ordered by symbol and timeframe."""
        with self.read_session() as s:
            return list(s.scalars(select(SlotRecord).order_by(SlotRecord.symbol, SlotRecord.timeframe)))

    def fills(self, since: datetime | None = None) -> list[Fill]:
        """All fills as :class:`~bot.domain.Fill` (oldest first), with their order's stop and purpose."""
        with self.read_session() as s:
            query = (
                select(FillRecord, OrderRecord)
                .join(OrderRecord, FillRecord.order_id == OrderRecord.id)
                .order_by(FillRecord.filled_at, FillRecord.id)
            )
            if since is not None:
                query = query.where(FillRecord.filled_at >= since)
            return [
                Fill(
                    fill_id=str(fill.id),
                    order_id=order.broker_order_id or order.client_order_id,
                    symbol=fill.symbol,
                    timeframe=fill.timeframe,
                    side=Side(fill.side),
                    qty=fill.qty,
                    price=fill.price,
                    fee=fill.fee,
                    filled_at=fill.filled_at,
                    stop_loss_pct=order.stop_loss_pct,
                    exit_reason=order.purpose,
                )
                for fill, order in s.execute(query)
            ]

    def close(self) -> None:
        """Commit queued group-commit units, then dispose of the connection pool."""
        self.committer.close()
        self.engine.dispose()
        self.reader.dispose()
