"""The broker interface every venue adapter implements, and its value objects.

Adapters translate venue exceptions into :mod:`bot.errors` types: ``BrokerRejected`` (the venue
said no: the order fails with the reason), ``TemporaryError`` (timeout, 5xx, rate limit: retried
with the same ``client_order_id``), ``ConfigError`` (bad keys, unknown account).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Protocol

from bot.domain import OrderState, Side
from bot.records import Balance, CashFlow, Instrument


@dataclass(frozen=True)
class OrderRequest:
    """A market order to send. ``qty`` > 0 base units, already rounded to the step.

    ``ref_price`` is the signal price (the paper broker fills at it; extended-hours limit price);
    ``fill_at`` is the paper fill time on replays. Protective exits are percentages of the fill.
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
    fill_at: datetime | None = None
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


@dataclass(frozen=True)
class Capabilities:
    """What a venue adapter can do beyond the required :class:`Broker` methods, declared on its class.

    Callers test these flags instead of probing for methods (as freqtrade's ``_ft_has``); each true
    flag promises the method of the same name on :class:`Broker` (a test checks every adapter):

    - ``inline_fills``: the venue fills inside the state DB transaction of the alert
      (``execute`` + ``committed``; the paper broker), so its slots never have orders in flight.
    - ``venue_exits``: reports protective exits it executed on its own (``venue_exits``; Alpaca).
    - ``daily_closes``: serves daily closing prices for benchmarks (``daily_closes``; Alpaca).
    - ``balances``: lists the assets held (``balances``; Binance).
    - ``cash_flows``: lists deposits and withdrawals (``cash_flows``; Alpaca, Binance).
    - ``server_time``: tells its clock, for the doctor's clock-skew check (``server_time``).
    """

    inline_fills: bool = False
    venue_exits: bool = False
    daily_closes: bool = False
    balances: bool = False
    cash_flows: bool = False
    server_time: bool = False

    def declared(self) -> tuple[str, ...]:
        """Names of the true flags, in declaration order (e.g. ``("venue_exits", "cash_flows")``)."""
        return tuple(name for name, on in self.__dict__.items() if on)


class Broker(Protocol):
    """A venue. ``name`` is the Config ``broker`` value; ``live`` is true for real-money mode.

    The methods after ``close`` are optional: an adapter has each one exactly when its
    ``capabilities`` flag of that name is true, and callers check the flag before calling it.
    """

    name: str
    live: bool
    capabilities: Capabilities

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

    # -- optional: only when the capability of the same name is declared -------------------------

    def venue_exits(self, symbol: str, client_order_ids: Sequence[str], since: datetime) -> list[VenueExit]:
        """Final, filled protective exits of the bot's entries ``client_order_ids`` on ``symbol``
        submitted since ``since`` (UTC). Raises TemporaryError / ConfigError when the venue cannot be read."""
        ...

    def daily_closes(self, symbol: str, start: date, end: date) -> list[tuple[date, Decimal]]:
        """``(day, close)`` pairs of ``symbol`` from ``start`` to ``end`` inclusive, oldest first."""
        ...

    def balances(self) -> list[Balance]:
        """Every asset held, with its USD value where the venue prices it."""
        ...

    def cash_flows(self, since: datetime | None = None) -> list[CashFlow]:
        """Deposits and withdrawals since ``since`` (UTC; all when None), oldest first."""
        ...

    def server_time(self) -> datetime:
        """The venue's clock (UTC)."""
        ...


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
