"""State DB tables (SQLAlchemy 2 ORM): the system of record for alerts, orders, fills and slots.

Money and quantities are stored as exact decimal text (:class:`DecimalText`), times as UTC ISO text
(:class:`UTCDateTime`), so SQLite and PostgreSQL give back exactly what was written.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

UTC = timezone.utc


class DecimalText(TypeDecorator[Decimal]):
    """Exact :class:`~decimal.Decimal` stored as text (no float round trip on any database)."""

    impl = String(64)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        return None if value is None else format(value, "f")

    def process_result_value(self, value: str | None, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


class UTCDateTime(TypeDecorator[datetime]):
    """Tz-aware UTC datetime stored as ISO text with microseconds (sortable, zone-safe)."""

    impl = String(32)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the state DB; use tz-aware UTC")
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def process_result_value(self, value: str | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """Declarative base of the state DB."""


class Meta(Base):
    """Key/value facts about this database (e.g. ``instance`` id used in client order ids)."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class SignalRecord(Base):
    """Every alert received (accepted or not), with its outcome and timings."""

    __tablename__ = "signals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    alert_key: Mapped[str] = mapped_column(String(128), default="")
    alert_id: Mapped[str] = mapped_column(String(128), default="")
    action: Mapped[str] = mapped_column(String(64), default="")
    symbol: Mapped[str] = mapped_column(String(64), default="")
    timeframe: Mapped[str] = mapped_column(String(16), default="")
    price: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    quantity: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    strategy: Mapped[str] = mapped_column(String(128), default="")
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    body: Mapped[str] = mapped_column(Text, default="")  # redacted (no secret), truncated
    replay: Mapped[bool] = mapped_column(Boolean, default=False)
    # pending (recorded, decision not finished) | success | skipped | duplicate | rejected | blocked | failed
    result: Mapped[str] = mapped_column(String(16), default="pending")
    reason: Mapped[str] = mapped_column(Text, default="")
    row_status: Mapped[str] = mapped_column(String(32), default="")
    order_id: Mapped[str] = mapped_column(String(128), default="")
    latency_ms: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    submitted_ms: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    filled_ms: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)

    __table_args__ = (Index("signals_key", "alert_key", "received_at"), Index("signals_result", "result"))


class OrderRecord(Base):
    """An order, recorded before it is sent so a crash can be reconciled by ``client_order_id``."""

    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    signal_id: Mapped[int | None] = mapped_column(ForeignKey("signals.id"), nullable=True)
    client_order_id: Mapped[str] = mapped_column(String(64))
    broker: Mapped[str] = mapped_column(String(32))
    broker_order_id: Mapped[str] = mapped_column(String(128), default="")
    symbol: Mapped[str] = mapped_column(String(64))
    timeframe: Mapped[str] = mapped_column(String(16))
    side: Mapped[str] = mapped_column(String(8))
    qty: Mapped[Decimal] = mapped_column(DecimalText)
    ref_price: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    notional: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    reduce_only: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(24), default="pending")
    filled_qty: Mapped[Decimal] = mapped_column(DecimalText, default=Decimal(0))
    filled_avg_price: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    fees: Mapped[Decimal] = mapped_column(DecimalText, default=Decimal(0))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    filled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text, default="")
    purpose: Mapped[str] = mapped_column(String(16), default="signal")  # entry|exit|reversal
    stop_loss_pct: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    # DB column keeps its first name ("replay_time") so existing state DBs open unchanged
    replay_fill_at: Mapped[datetime | None] = mapped_column(
        "replay_time", UTCDateTime, nullable=True, key="replay_fill_at"
    )

    __table_args__ = (
        UniqueConstraint("client_order_id", name="orders_client_order_id"),
        Index("orders_state", "state"),
    )


class FillRecord(Base):
    """One execution of an order (``qty`` > 0, ``price``, ``fee`` in quote currency)."""

    __tablename__ = "fills"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    broker_fill_id: Mapped[str] = mapped_column(String(128))
    symbol: Mapped[str] = mapped_column(String(64))
    timeframe: Mapped[str] = mapped_column(String(16))
    side: Mapped[str] = mapped_column(String(8))
    qty: Mapped[Decimal] = mapped_column(DecimalText)
    price: Mapped[Decimal] = mapped_column(DecimalText)
    fee: Mapped[Decimal] = mapped_column(DecimalText, default=Decimal(0))
    filled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    realised_pnl: Mapped[Decimal] = mapped_column(DecimalText, default=Decimal(0))  # average-cost, net of fee

    __table_args__ = (
        UniqueConstraint("order_id", "broker_fill_id", name="fills_unique"),
        Index("fills_time", "filled_at"),
    )


class SlotRecord(Base):
    """A Config row's virtual position: signed ``qty`` (negative = short) and FIFO-free average price."""

    __tablename__ = "slots"
    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    timeframe: Mapped[str] = mapped_column(String(16), primary_key=True)
    broker: Mapped[str] = mapped_column(String(32), default="")
    qty: Mapped[Decimal] = mapped_column(DecimalText, default=Decimal(0))
    avg_price: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_exit_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class OutboxRecord(Base):
    """A pending workbook write, durable until the writer has applied it (in ``id`` order)."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(16))  # write | upsert | append
    tab: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(Text, default="[]")  # JSON list
    payload: Mapped[str] = mapped_column(Text)  # JSON object header -> text
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class PaperAccount(Base):
    """The paper broker's cash, quote currency."""

    __tablename__ = "paper_account"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    cash: Mapped[Decimal] = mapped_column(DecimalText)
