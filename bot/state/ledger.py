"""Every state-DB query the trading path makes, as named functions (the persistence layer's vocabulary).

The engine, the tracker, recovery, reconciliation, the paper venue and ``/metrics`` call these instead of
writing SQL, so the money path reads as what it does (``duplicate_of``, ``read_slot``, ``unfilled_qty``)
and every query lives in one place next to the tables it reads.

Three kinds of function:

- ``store``-taking reads: a read connection or read session of their own (never the write lock).
- ``conn``-taking writes: Core statements inside a caller's group-commit unit (:class:`Conn`).
- ``tx``-taking reads/writes: ORM work inside a caller's :meth:`~bot.state.store.StateStore.session`
  (:class:`Tx`); records loaded there may be changed by plain attribute assignment and commit with it.

Money and quantities are :class:`~decimal.Decimal`; times tz-aware UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from bot.domain import OrderState, SlotKey, SlotState, utc_now
from bot.state.fastsql import FastInsert
from bot.state.models import (
    FillRecord,
    Meta,
    OrderRecord,
    OutboxRecord,
    PaperAccount,
    SignalRecord,
    SlotRecord,
)
from bot.state.store import StateStore

#: A Core connection inside a group-commit unit (what :meth:`GroupCommitter.run` hands a unit).
Conn = Connection
#: An ORM transaction opened by :meth:`StateStore.session`.
Tx = Session

SIGNALS = SignalRecord.__table__
ORDERS = OrderRecord.__table__
FILLS = FillRecord.__table__
SLOTS = SlotRecord.__table__
META = Meta.__table__

ZERO = Decimal(0)
_FINAL = tuple(state.value for state in OrderState if state.is_final)

# Statements built once: executing them with parameter dicts skips per-call statement construction.
_INS_SIGNAL = FastInsert(SIGNALS)
_INS_ORDER = FastInsert(ORDERS)
_INS_FILLS = FastInsert(FILLS)
_INS_OUTBOX = FastInsert(OutboxRecord.__table__)
_UPSERT_SLOT = FastInsert(SLOTS, upsert_on=("symbol", "timeframe"))
_SEL_SLOT = select(SLOTS.c.qty, SLOTS.c.avg_price, SLOTS.c.last_exit_at).where(
    SLOTS.c.symbol == bindparam("k_symbol"), SLOTS.c.timeframe == bindparam("k_timeframe")
)
_SEL_DUPLICATE = (
    select(SIGNALS.c.id)
    .where(
        SIGNALS.c.alert_key == bindparam("k_key"),
        SIGNALS.c.received_at >= bindparam("k_since", type_=SIGNALS.c.received_at.type),
        SIGNALS.c.result.not_in(("rejected", "duplicate")),
    )
    .limit(1)
)
_PAPER_FILLS = (
    select(
        FILLS.c.qty,
        FILLS.c.price,
        FILLS.c.fee,
        FILLS.c.filled_at,
        ORDERS.c.broker_order_id,
        ORDERS.c.symbol,
        ORDERS.c.side,
    )
    .join(ORDERS, ORDERS.c.id == FILLS.c.order_id)
    .where(ORDERS.c.broker == "paper")
)
_SEL_PAPER_ORDER = _PAPER_FILLS.where(ORDERS.c.client_order_id == bindparam("k_id"))


@dataclass(frozen=True)
class OpenSlot:
    """A slot holding a position: ``qty`` signed base units, ``avg_price`` quote currency (None if unknown)."""

    symbol: str
    timeframe: str
    qty: Decimal
    avg_price: Decimal | None
    broker: str


class OpenOrder(NamedTuple):
    """An order not yet final: state-DB ``id``, ``broker``, ``client_order_id``, ``created_at``, ``state``,
    ``symbol`` (a tuple in that order)."""

    id: int
    broker: str
    client_order_id: str
    created_at: datetime
    state: str
    symbol: str


# -- flags ----------------------------------------------------------------------------------------


def read_flag(store: StateStore, key: str) -> bool:
    """The ``meta`` flag ``key`` (``"1"`` = on), created off when missing. Raises TemporaryError (DB down)."""
    with store.write() as conn:
        value = conn.execute(select(META.c.value).where(META.c.key == key)).scalar()
        if value is None:
            conn.execute(insert(META).values(key=key, value=""))
    return bool(value)


def write_flag(store: StateStore, key: str, on: bool) -> None:
    """Set the ``meta`` flag ``key`` (created by :func:`read_flag`). Raises TemporaryError (DB down)."""
    with store.write() as conn:
        conn.execute(update(META).where(META.c.key == key).values(value="1" if on else ""))


# -- signals and duplicates -----------------------------------------------------------------------


def insert_signal(conn: Conn, values: Mapping[str, Any]) -> int:
    """Insert one ``signals`` row (column key → value) in the caller's unit; returns its id."""
    return _INS_SIGNAL.one(conn, values)


def recent_alert_keys(store: StateStore, since: datetime) -> list[tuple[str, datetime, int]]:
    """``(alert_key, received_at, signal id)`` of accepted alerts received since ``since``, oldest first."""
    query = (
        select(SIGNALS.c.alert_key, SIGNALS.c.received_at, SIGNALS.c.id)
        .where(
            SIGNALS.c.received_at >= since,
            SIGNALS.c.alert_key != "",
            SIGNALS.c.result.not_in(("rejected", "duplicate")),
        )
        .order_by(SIGNALS.c.id)
    )
    with store.reader.connect() as conn:
        return [(key, at, pk) for key, at, pk in conn.execute(query)]


def duplicate_of(store: StateStore, alert_key: str, since: datetime) -> int | None:
    """Id of an accepted signal with ``alert_key`` received at or after ``since``, else None."""
    with store.reader.connect() as conn:
        return conn.execute(_SEL_DUPLICATE, {"k_key": alert_key, "k_since": since}).scalar()


def signal_record(tx: Tx, signal_pk: int) -> SignalRecord | None:
    """The signal ``signal_pk`` inside ``tx`` (changes commit with it), or None."""
    return tx.get(SignalRecord, signal_pk)


def orphan_signals(tx: Tx) -> list[SignalRecord]:
    """Signals still ``pending`` that have no order (the process stopped while deciding)."""
    query = (
        select(SignalRecord)
        .where(SignalRecord.result == "pending")
        .where(~select(OrderRecord.id).where(OrderRecord.signal_id == SignalRecord.id).exists())
    )
    return list(tx.scalars(query))


# -- slots ------------------------------------------------------------------------------------------


def read_slot(store: StateStore, key: SlotKey) -> SlotState:
    """The committed state of slot ``key`` (flat when never traded)."""
    with store.reader.connect() as conn:
        row = conn.execute(_SEL_SLOT, {"k_symbol": key.symbol, "k_timeframe": key.timeframe}).first()
    return slot_state(row) if row is not None else SlotState()


def slot_state(record: Any) -> SlotState:
    """The :class:`SlotState` of a slot row (a :class:`SlotRecord` or a Core row with its columns)."""
    return SlotState(record.qty, record.avg_price, record.last_exit_at)


def store_slot(record: SlotRecord, slot: SlotState, broker: str) -> None:
    """Set the slot row ``record`` (loaded in a transaction) to ``slot`` at venue ``broker``."""
    record.qty, record.avg_price, record.last_exit_at = slot.qty, slot.avg_price, slot.last_exit_at
    record.broker, record.updated_at = broker, utc_now()


def write_slot(conn: Conn, key: SlotKey, broker: str, slot: SlotState) -> None:
    """Insert or update slot ``key`` with ``slot`` (and the venue it trades at) in the caller's unit."""
    _UPSERT_SLOT.upsert(
        conn,
        {
            "symbol": key.symbol,
            "timeframe": key.timeframe,
            "qty": slot.qty,
            "avg_price": slot.avg_price,
            "last_exit_at": slot.last_exit_at,
            "updated_at": utc_now(),
            "broker": broker,
        },
    )


def slot_record(tx: Tx, key: SlotKey) -> SlotRecord:
    """The slot row of ``key`` inside ``tx``, created flat when missing."""
    record = StateStore.slot(tx, key)
    assert record is not None
    return record


def open_slots(store: StateStore) -> list[OpenSlot]:
    """Every slot whose quantity is not zero."""
    query = select(SLOTS.c.symbol, SLOTS.c.timeframe, SLOTS.c.qty, SLOTS.c.avg_price, SLOTS.c.broker)
    with store.reader.connect() as conn:
        rows = conn.execute(query).all()
    return [OpenSlot(r.symbol, r.timeframe, r.qty, r.avg_price, r.broker or "") for r in rows if r.qty != 0]


def symbol_exposure(store: StateStore, symbol: str) -> tuple[Decimal, int]:
    """``(net qty of symbol over all its slots, number of non-flat slots of any symbol)``."""
    with store.reader.connect() as conn:
        rows = conn.execute(select(SLOTS.c.symbol, SLOTS.c.qty)).all()
    return sum((r.qty for r in rows if r.symbol == symbol), start=ZERO), sum(1 for r in rows if r.qty != 0)


# -- orders and fills ---------------------------------------------------------------------------------


def insert_order(conn: Conn, values: Mapping[str, Any]) -> int:
    """Insert one ``orders`` row in the caller's unit; returns its id."""
    return _INS_ORDER.one(conn, values)


def insert_fills(conn: Conn, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``fills`` rows in the caller's unit."""
    _INS_FILLS.many(conn, rows)


def unfilled_qty(store: StateStore, key: SlotKey) -> Decimal:
    """Signed quantity still to fill on slot ``key``'s orders not yet final (buys positive)."""
    query = select(ORDERS.c.side, ORDERS.c.qty, ORDERS.c.filled_qty).where(
        ORDERS.c.symbol == key.symbol, ORDERS.c.timeframe == key.timeframe, ORDERS.c.state.not_in(_FINAL)
    )
    with store.reader.connect() as conn:
        rows = conn.execute(query).all()
    return sum(((r.qty - r.filled_qty) * (1 if r.side == "buy" else -1) for r in rows), start=ZERO)


def order_record(tx: Tx, order_pk: int) -> OrderRecord:
    """The order ``order_pk`` inside ``tx``. Raises LookupError when there is none."""
    order = tx.get(OrderRecord, order_pk)
    if order is None:
        raise LookupError(f"no order #{order_pk} in the state DB")
    return order


def add_order(tx: Tx, values: Mapping[str, Any]) -> OrderRecord:
    """Insert an order (column key → value) inside ``tx`` and return it with its id assigned."""
    order = OrderRecord(**values)
    tx.add(order)
    tx.flush()
    return order


def order_values(order: OrderRecord) -> dict[str, Any]:
    """Every column of ``order`` by column key (for the Orders tab projection)."""
    return {c.key: getattr(order, c.key) for c in ORDERS.columns}


def fill_ids(tx: Tx, order_pk: int) -> set[str]:
    """The venue fill ids already recorded for order ``order_pk``."""
    return set(tx.scalars(select(FillRecord.broker_fill_id).where(FillRecord.order_id == order_pk)))


def add_fill(tx: Tx, values: Mapping[str, Any]) -> None:
    """Insert a fill (column key → value) inside ``tx``."""
    tx.add(FillRecord(**values))


def order_outcome(store: StateStore, order_pk: int) -> tuple[str, str]:
    """``(reason, broker_order_id)`` of order ``order_pk`` as committed. Raises LookupError when missing."""
    with store.reader.connect() as conn:
        row = conn.execute(select(ORDERS.c.reason, ORDERS.c.broker_order_id).where(ORDERS.c.id == order_pk)).first()
    if row is None:
        raise LookupError(f"no order #{order_pk} in the state DB")
    return row.reason or "", row.broker_order_id or ""


def order_symbol(store: StateStore, order_pk: int) -> str:
    """The symbol of order ``order_pk``. Raises LookupError when missing."""
    with store.reader.connect() as conn:
        symbol = conn.execute(select(ORDERS.c.symbol).where(ORDERS.c.id == order_pk)).scalar()
    if symbol is None:
        raise LookupError(f"no order #{order_pk} in the state DB")
    return str(symbol)


def open_orders(store: StateStore) -> list[OpenOrder]:
    """Orders not yet final, oldest first."""
    columns = (ORDERS.c.id, ORDERS.c.broker, ORDERS.c.client_order_id, ORDERS.c.created_at, ORDERS.c.state)
    query = select(*columns, ORDERS.c.symbol).where(ORDERS.c.state.not_in(_FINAL)).order_by(ORDERS.c.id)
    with store.reader.connect() as conn:
        return [OpenOrder(*row) for row in conn.execute(query)]


def pending_orders(tx: Tx) -> list[OrderRecord]:
    """Orders recorded but never confirmed sent (state ``pending``), inside ``tx``."""
    return list(tx.scalars(select(OrderRecord).where(OrderRecord.state == OrderState.PENDING.value)))


def filled_entries(store: StateStore, key: SlotKey, broker: str, since: datetime) -> list[tuple[str, datetime]]:
    """``(client_order_id, created_at)`` of slot ``key``'s entry/reversal orders at ``broker`` created since
    ``since`` that filled at least in part (the orders whose protective exits may be at the venue).

    The filled test runs on the decoded Decimal (quantities are stored as text)."""
    query = select(OrderRecord).where(
        OrderRecord.symbol == key.symbol,
        OrderRecord.timeframe == key.timeframe,
        OrderRecord.broker == broker,
        OrderRecord.purpose.in_(("entry", "reversal")),
        OrderRecord.created_at >= since,
    )
    with store.read_session() as s:
        return [(o.client_order_id, o.created_at) for o in s.scalars(query) if o.filled_qty > 0]


def order_known(store: StateStore, client_order_id: str, broker: str) -> bool:
    """True when an order with ``client_order_id`` at ``broker`` is recorded."""
    query = select(ORDERS.c.id).where(ORDERS.c.client_order_id == client_order_id, ORDERS.c.broker == broker)
    with store.reader.connect() as conn:
        return conn.execute(query).first() is not None


def order_venues(store: StateStore) -> tuple[dict[tuple[str, str], str], set[tuple[str, str]]]:
    """``(venue of each slot's latest order by (symbol, timeframe), {(broker, symbol)} with an order in flight)``."""
    last_broker: dict[tuple[str, str], str] = {}
    in_flight: set[tuple[str, str]] = set()
    query = select(ORDERS.c.symbol, ORDERS.c.timeframe, ORDERS.c.broker, ORDERS.c.state).order_by(ORDERS.c.id)
    with store.reader.connect() as conn:
        for symbol, timeframe, broker, state in conn.execute(query):
            last_broker[(symbol, timeframe)] = broker
            if state not in _FINAL:
                in_flight.add((broker, symbol))
    return last_broker, in_flight


def orders_by_state(store: StateStore) -> dict[str, int]:
    """Number of orders per state (``{"filled": 12, "pending": 1}``), for ``/metrics``."""
    with store.reader.connect() as conn:
        rows = conn.execute(select(ORDERS.c.state, func.count()).group_by(ORDERS.c.state)).all()
    return {str(state): int(count) for state, count in rows}


def realised_pnl_since(store: StateStore, since: datetime) -> Decimal:
    """Sum of the P&L realised by fills at or after ``since`` (quote currency, net of fees)."""
    with store.reader.connect() as conn:
        rows = conn.execute(select(FILLS.c.realised_pnl).where(FILLS.c.filled_at >= since))
        return sum((r for (r,) in rows), start=ZERO)


# -- outbox -------------------------------------------------------------------------------------------


def enqueue(conn: Conn, rows: Iterable[Mapping[str, Any]]) -> None:
    """Queue workbook writes (:meth:`StateStore.outbox_row` values) in the caller's unit."""
    _INS_OUTBOX.many(conn, list(rows))


def enqueue_tx(tx: Tx, rows: Iterable[Mapping[str, Any]]) -> None:
    """Queue workbook writes (:meth:`StateStore.outbox_row` values) inside ``tx``."""
    for row in rows:
        tx.add(OutboxRecord(**row))


# -- the paper venue's book ------------------------------------------------------------------------------


def paper_cash(store: StateStore, starting_cash: Decimal) -> Decimal:
    """The paper account's starting cash, created with ``starting_cash`` on first use."""
    with store.session() as s:
        account = s.get(PaperAccount, "paper")
        if account is None:
            account = PaperAccount(name="paper", cash=starting_cash)
            s.add(account)
        return account.cash


def paper_fills(store: StateStore) -> list[Any]:
    """Every fill of paper orders, oldest first: rows with ``qty, price, fee, filled_at, broker_order_id,
    symbol, side``."""
    with store.reader.connect() as conn:
        return list(conn.execute(_PAPER_FILLS.order_by(FILLS.c.filled_at, FILLS.c.id)))


def paper_order_fill(conn: Conn | None, store: StateStore, client_order_id: str) -> Any | None:
    """The fill row (as :func:`paper_fills`) of the paper order ``client_order_id``, or None.

    Read on ``conn`` when given (inside the caller's unit), else on a read connection of ``store``.
    """
    if conn is not None:
        return conn.execute(_SEL_PAPER_ORDER, {"k_id": client_order_id}).first()
    with store.reader.connect() as own:
        return own.execute(_SEL_PAPER_ORDER, {"k_id": client_order_id}).first()
