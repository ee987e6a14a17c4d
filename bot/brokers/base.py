"""The broker interface every venue adapter implements, and its value objects.

Adapters translate venue exceptions into :mod:`bot.errors` types: ``BrokerRejected`` (the venue
said no: the order fails with the reason), ``TemporaryError`` (timeout, 5xx, rate limit: retried
with the same ``client_order_id``), ``ConfigError`` (bad keys, unknown account).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import NamedTuple, Protocol

from bot.domain import OrderState, Side


@dataclass(frozen=True)
class Instrument:
    """Trading rules of a symbol on a venue.

    ``qty_step``: quantities are multiples of it (rounded down); ``min_qty`` and ``min_notional``
    (quote currency) are the venue's minimums; ``shortable`` false means sells only close longs
    (spot venues); ``whole_shares_for_short``: shorts must be whole units (Alpaca).
    """

    symbol: str
    qty_step: Decimal
    min_qty: Decimal = Decimal(0)
    min_notional: Decimal = Decimal(0)
    shortable: bool = True
    whole_shares_for_short: bool = False


@dataclass(frozen=True)
class OrderRequest:
    """A market order to send. ``qty`` > 0 base units, already rounded to the step.

    ``ref_price`` is the signal price (the paper broker fills at it; extended-hours limit price);
    ``fill_time`` is the paper fill time on replays. Protective exits are percentages of the fill.
    ``exits_of``: the bot's ids of the row's entries whose protective exits at the venue this order
    cancels first (set on orders that close the row: those exits protect shares it is selling).
    """

    client_order_id: str
    symbol: str
    side: Side
    qty: Decimal
    ref_price: Decimal | None = None
    reduce_only: bool = False
    leverage: Decimal | None = None
    stop_loss_pct: Decimal | None = None
    take_profit_pct: Decimal | None = None
    trailing_pct: Decimal | None = None
    extended_hours: bool = False
    fill_time: datetime | None = None
    exits_of: tuple[str, ...] = ()


@dataclass(frozen=True)
class FillReport:
    """One execution reported by the venue: ``fill_id`` unique per order, ``fee`` in quote currency."""

    fill_id: str
    qty: Decimal
    price: Decimal
    fee: Decimal
    filled_at: datetime


@dataclass(frozen=True)
class VenueExit:
    """A protective exit the venue executed on its own (a stop-loss, take-profit or trailing-stop order
    the bot placed with an entry), once it is final with a fill.

    ``exit_id``: the venue's id of the exit order (unique); ``entry_client_order_id``: the bot's id of the
    entry it protected; ``kind``: ``stop loss``, ``take profit`` or ``trailing stop``; ``qty`` > 0 base
    units filled at the average ``price`` (quote currency) by ``filled_at`` (UTC).
    """

    exit_id: str
    entry_client_order_id: str
    kind: str
    side: Side
    qty: Decimal
    price: Decimal
    filled_at: datetime


@dataclass(frozen=True)
class OrderUpdate:
    """The venue's view of an order: state, cumulative fill and the fills known so far."""

    broker_order_id: str
    state: OrderState
    filled_qty: Decimal = Decimal(0)
    filled_avg_price: Decimal | None = None
    fills: tuple[FillReport, ...] = field(default_factory=tuple)
    reason: str = ""
    eligible_at: datetime | None = None


@dataclass(frozen=True)
class Account:
    """Account values in ``currency``: equity = cash + positions value."""

    account_id: str
    equity: Decimal
    cash: Decimal
    buying_power: Decimal
    positions_value: Decimal
    currency: str = "USD"


class Broker(Protocol):
    """A venue. ``name`` is the Config ``broker`` value; ``live`` is true for real-money mode."""

    name: str
    live: bool

    def instrument(self, symbol: str) -> Instrument:
        """Trading rules for ``symbol``. Raises BrokerRejected for an unknown symbol."""
        ...

    def submit_order(self, request: OrderRequest) -> OrderUpdate:
        """Send a market order; idempotent by ``client_order_id`` (a resend returns the same order)."""
        ...

    def get_order(self, client_order_id: str, symbol: str = "") -> OrderUpdate | None:
        """Current state of an order by our id, or None when the venue never received it.

        ``symbol``: the order's symbol (Binance looks orders up by symbol and id).
        """
        ...

    def account(self) -> Account:
        """Equity, cash and buying power."""
        ...

    def positions(self) -> dict[str, Decimal]:
        """Net position per symbol, signed base units (negative = short)."""
        ...

    def last_price(self, symbol: str) -> Decimal | None:
        """Latest trade price, or None when unknown."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


@dataclass(frozen=True)
class CashFlow:
    """A deposit or withdrawal of an account (a CashFlows row; what ``cash_flows(since)`` returns).

    Attributes:
        flow_at: when the money moved, tz-aware (converted to UTC).
        kind: ``"deposit"`` or ``"withdrawal"``.
        amount: positive amount in ``currency`` (the kind gives the direction).
        currency: ``USD``, ``USDT``, ...
        reference: the broker's id of the transfer (Alpaca activity id, Binance ``txId``/``id``);
            imports skip a transfer whose reference is already in the tab. ``""`` on manual rows.
        broker / account / source / note: the other CashFlows columns (``source`` one of
            ``manual``, ``alpaca``, ``binance``; filled in by :func:`import_cash_flows` when blank).

    Raises:
        ValueError: naive ``flow_at``, unknown ``kind``, ``amount`` not a positive Decimal.
    """

    flow_at: datetime
    kind: str
    amount: Decimal
    currency: str = "USD"
    reference: str = ""
    broker: str = ""
    account: str = ""
    source: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.flow_at, datetime) or self.flow_at.tzinfo is None:
            raise ValueError(f"cash flow flow_at: {self.flow_at!r} must be a tz-aware datetime")
        if self.kind not in ("deposit", "withdrawal"):
            raise ValueError(f"cash flow kind: {self.kind!r} is not deposit or withdrawal")
        if not isinstance(self.amount, Decimal) or not self.amount.is_finite() or self.amount <= 0:
            raise ValueError(f"cash flow amount: {self.amount!r} must be a positive Decimal")
        object.__setattr__(self, "flow_at", self.flow_at.astimezone(timezone.utc))

    @property
    def signed(self) -> Decimal:
        """The amount with the direction: deposits positive, withdrawals negative."""
        return self.amount if self.kind == "deposit" else -self.amount


class Balance(NamedTuple):
    """One asset held at a venue (what ``balances()`` returns; a plain 4-tuple works the same).

    ``free``/``locked`` in units of ``asset``; ``usd_value`` of free + locked in USD/USDT, or None
    when the venue has no price for the asset.
    """

    asset: str
    free: Decimal
    locked: Decimal
    usd_value: Decimal | None


def decimal_or_none(value: object) -> Decimal | None:
    """Exact Decimal from a venue's number (text such as ``"170.37"`` or a JSON number via its text).

    None for null, blank or unreadable values. Adapters use it for every price, quantity and amount.
    """
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None
