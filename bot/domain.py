"""Domain vocabulary: enums, normalisation of symbols, actions and timeframes, and immutable value objects.

No I/O here. Money and quantities are :class:`decimal.Decimal`; timestamps are tz-aware UTC
``datetime`` objects. Numbers, booleans and times typed as text are parsed by :mod:`bot.parsing`;
the webhook, the Config reader and the CLI share both modules' rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import ROUND_DOWN, Decimal
from enum import Enum

from bot.parsing import describe_value, quote_value

UTC = timezone.utc

class Action(str, Enum):
    """What an alert asks a slot to do."""

    BUY = "buy"
    SELL = "sell"
    CLOSE = "close"


class Side(str, Enum):
    """Order side, as venues name it."""

    BUY = "buy"
    SELL = "sell"


class PositionSide(str, Enum):
    """Side of a position or slot."""

    LONG = "long"
    SHORT = "short"
    FLAT = "flat"


class Direction(str, Enum):
    """Which positions a Config row may hold (``direction`` column)."""

    BOTH = "both"
    LONG = "long"
    SHORT = "short"


class SizeType(str, Enum):
    """How ``position_size`` is read (``size_type`` column).

    - ``usd``: notional in quote currency (default).
    - ``qty``: base-asset quantity.
    - ``pct_equity``: percent of account equity, as notional.
    - ``risk_pct``: percent of equity lost if the stop (``stop_loss_pct``) is hit.
    """

    USD = "usd"
    QTY = "qty"
    PCT_EQUITY = "pct_equity"
    RISK_PCT = "risk_pct"


class RowStatus(str, Enum):
    """Values of the Config tab's ``Order Status`` column."""

    READY = "READY"
    ORDER_SUBMITTED = "ORDER SUBMITTED"
    QUEUED = "QUEUED"
    PARTIALLY_FILLED = "PARTIALLY FILLED"
    FILLED = "FILLED"
    FAILED = "FAILED"
    WAITING = "WAITING"
    INACTIVE = "INACTIVE"
    ALREADY_LONG = "ALREADY LONG"
    ALREADY_SHORT = "ALREADY SHORT"
    BLOCKED = "BLOCKED"
    CONFIG_ERROR = "CONFIG ERROR"


class OrderState(str, Enum):
    """Lifecycle of an order in the state DB (broker-neutral)."""

    PENDING = "pending"  # recorded, not yet acknowledged by the venue
    SUBMITTED = "submitted"  # accepted by the venue, working
    QUEUED = "queued"  # accepted, waiting for the market to open
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    FAILED = "failed"  # never reached the venue (size too small, no price, ...)

    @property
    def is_final(self) -> bool:
        """True when the order can no longer change (filled, canceled, rejected, expired, failed)."""
        return self in _FINAL_ORDER_STATES


_FINAL_ORDER_STATES = {
    OrderState.FILLED,
    OrderState.CANCELED,
    OrderState.REJECTED,
    OrderState.EXPIRED,
    OrderState.FAILED,
}

BROKERS = ("paper", "alpaca", "binance", "binance-futures")

# --------------------------------------------------------------------------------------------
# Parsing helpers
# --------------------------------------------------------------------------------------------

_ACTION_ALIASES = {
    "buy": Action.BUY,
    "long": Action.BUY,
    "sell": Action.SELL,
    "short": Action.SELL,
    "close": Action.CLOSE,
    "exit": Action.CLOSE,
    "flat": Action.CLOSE,
}


def parse_action(raw: object) -> Action:
    """Turn an alert's ``action`` into an :class:`Action`.

    Accepts ``buy|sell|close`` and the aliases ``long``→buy, ``short``→sell, ``exit|flat``→close,
    case-insensitive and trimmed (so ``{{strategy.order.action}}`` works as is).

    Raises:
        ValueError: naming the value when it is not one of those words.
    """
    if not isinstance(raw, str):
        raise ValueError(f"must be a text, got {describe_value(raw)}")
    action = _ACTION_ALIASES.get(raw.strip().lower())
    if action is None:
        raise ValueError(f"{quote_value(raw)} is not buy, sell or close (aliases: long, short, exit, flat)")
    return action


_SYMBOL_RE = re.compile(r"^[A-Z0-9][A-Z0-9._/\-]{0,31}$")


def normalise_symbol(raw: object) -> str:
    """Canonical symbol: exchange prefix and perpetual suffix removed, upper case.

    ``"NASDAQ:AAPL"`` → ``"AAPL"``, ``"BINANCE:BTCUSDT.P"`` → ``"BTCUSDT"``, ``"brk.b"`` → ``"BRK.B"``.
    Allowed characters after normalisation: ``A-Z 0-9 . _ / -``, at most 32.

    Raises:
        ValueError: naming the value when it is empty or has other characters.
    """
    if not isinstance(raw, str):
        raise ValueError(f"must be a text, got {describe_value(raw)}")
    text = raw.strip().upper()
    if ":" in text:
        text = text.rsplit(":", 1)[1].strip()
    if text.endswith(".P"):
        text = text[:-2]
    if not _SYMBOL_RE.match(text):
        raise ValueError(f"{quote_value(raw)} is not a symbol (letters, digits, '.', '/', '-', at most 32)")
    return text


_TF_UNITS = {
    "s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s",
    "m": "m", "min": "m", "mins": "m", "minute": "m", "minutes": "m",
    "h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
    "d": "d", "day": "d", "days": "d",
    "w": "w", "wk": "w", "week": "w", "weeks": "w",
    "mo": "M", "mon": "M", "month": "M", "months": "M",
}  # fmt: skip
_TF_RE = re.compile(r"^(\d{0,5})\s*([A-Za-z]*)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def normalise_timeframe(raw: object) -> str:
    """Canonical timeframe ``<n><unit>`` with unit ``s m h d w M`` (``M`` = month).

    TradingView ``{{interval}}`` values are minutes when bare numbers (``"15"``→``15m``,
    ``"60"``→``1h``, ``"240"``→``4h``, ``"1440"``→``1d``) and ``D/W/M`` with an optional count
    (``"D"``, ``"1D"``→``1d``, ``"W"``→``1w``, ``"M"``/``"1M"``→``1M``, ``"30S"``→``30s``).
    Sheet-style values (``"15 Min"``, ``"4H"``, ``"1 hour"``, ``"1d"``) normalise the same way.
    A lone upper-case ``M`` unit means month; ``m``/``min`` mean minutes. Sizes are reduced to the
    largest whole unit (``"120"``→``2h``, ``"24h"``→``1d``, ``"7d"``→``1w``).

    Raises:
        ValueError: naming the value when it is blank or not a timeframe.
    """
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        raise ValueError(f"must be a text or number, got {describe_value(raw)}")
    text = str(raw).strip()
    match = _TF_RE.match(text)
    if not text or not match:
        raise ValueError(f"{quote_value(raw)} is not a timeframe (e.g. 15, 15m, 1h, 240, D, 1W)")
    count_text, unit_text = match.groups()
    count = int(count_text) if count_text else 1
    if count <= 0:
        raise ValueError(f"{quote_value(raw)} is not a timeframe (count must be positive)")
    if unit_text == "M":
        unit = "M"
    elif not unit_text:
        if not count_text:
            raise ValueError(f"{quote_value(raw)} is not a timeframe")
        unit = "m"
    else:
        unit = _TF_UNITS.get(unit_text.lower(), "")
        if not unit:
            raise ValueError(f"{quote_value(raw)} is not a timeframe (unknown unit {unit_text!r})")
    if unit == "M":
        return f"{count}M"
    seconds = count * _UNIT_SECONDS[unit]
    for name in ("w", "d", "h", "m", "s"):
        size = _UNIT_SECONDS[name]
        if seconds % size == 0:
            return f"{seconds // size}{name}"
    raise AssertionError("unreachable: every count is a whole number of seconds")


def timeframe_seconds(timeframe: str) -> int:
    """Length of a canonical timeframe in seconds (a month counts 30 days)."""
    count, unit = int(timeframe[:-1]), timeframe[-1]
    return count * (2_592_000 if unit == "M" else _UNIT_SECONDS[unit])


def round_down(qty: Decimal, step: Decimal) -> Decimal:
    """Largest multiple of ``step`` that is ≤ ``qty`` (for ``qty`` ≥ 0); ``step`` ≤ 0 means no rounding.

    Exact in :class:`~decimal.Decimal`; the result has the step's exponent, e.g.
    ``round_down(Decimal("0.123456"), Decimal("0.001")) == Decimal("0.123")``.
    """
    if step <= 0:
        return qty
    steps = (qty / step).to_integral_value(rounding=ROUND_DOWN)
    return (steps * step).quantize(step) if step.as_tuple().exponent < 0 else steps * step


def utc_now() -> datetime:
    """Current time, tz-aware UTC."""
    return datetime.now(UTC)


def format_decimal(value: Decimal | None) -> str:
    """Plain text for a Decimal (no exponent, no trailing zeros); ``""`` for None."""
    if value is None:
        return ""
    if value == 0:
        return "0"
    text = format(value.normalize(), "f")
    return text


# --------------------------------------------------------------------------------------------
# Value objects
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlotKey:
    """Identity of a Config row / slot: canonical ``symbol`` and ``timeframe``."""

    symbol: str
    timeframe: str

    def __str__(self) -> str:
        return f"{self.symbol} {self.timeframe}"


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS_RE = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


@dataclass(frozen=True)
class TradingHours:
    """A daily window for entries: ``start``–``end`` minutes after midnight in ``zone``, on ``days``.

    ``days`` holds weekday numbers (Monday = 0). A window whose end is before its start spans midnight.
    """

    start: int
    end: int
    zone: str = "America/New_York"
    days: frozenset[int] = frozenset(range(7))

    def contains(self, moment: datetime) -> bool:
        """True when ``moment`` (tz-aware) falls inside the window."""
        from zoneinfo import ZoneInfo

        local = moment.astimezone(ZoneInfo(self.zone))
        minute = local.hour * 60 + local.minute
        if self.start <= self.end:
            return local.weekday() in self.days and self.start <= minute < self.end
        if minute >= self.start:
            return local.weekday() in self.days
        return minute < self.end and (local.weekday() - 1) % 7 in self.days


def parse_trading_hours(raw: str) -> TradingHours:
    """``"09:30-16:00 [Zone/Name] [Mon-Fri]"`` to :class:`TradingHours` (tokens in any order).

    Raises:
        ValueError: naming the token that is not a window, a zone or a day range.
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    window: tuple[int, int] | None = None
    zone, days = "America/New_York", frozenset(range(7))
    for token in raw.split():
        match = _HOURS_RE.match(token)
        if match:
            h1, m1, h2, m2 = (int(g) for g in match.groups())
            if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59:
                raise ValueError(f"{token!r} is not a time window (HH:MM-HH:MM)")
            window = (h1 * 60 + m1, h2 * 60 + m2)
        elif "/" in token or token.upper() == "UTC":
            try:
                ZoneInfo(token)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"{token!r} is not a time zone") from None
            zone = token
        elif token.lower()[:3] in _DAYS:
            first, _, last = token.lower().partition("-")
            if first[:3] not in _DAYS or (last and last[:3] not in _DAYS):
                raise ValueError(f"{token!r} is not a day range such as Mon-Fri")
            a, b = _DAYS.index(first[:3]), _DAYS.index((last or first)[:3])
            days = frozenset(range(a, b + 1)) if a <= b else frozenset([*range(a, 7), *range(0, b + 1)])
        else:
            raise ValueError(f"{token!r} is not a window, a time zone or a day range")
    if window is None:
        raise ValueError(f"{raw!r} has no window such as 09:30-16:00")
    return TradingHours(start=window[0], end=window[1], zone=zone, days=days)


@dataclass(frozen=True)
class ConfigRow:
    """One valid Config row (a slot's trading rules).

    Money fields are Decimal in quote currency (USD/USDT); percentages are plain percent
    numbers (``2`` means 2 %). ``row_number`` is the 1-based sheet row (header is row 1).
    """

    symbol: str
    timeframe: str
    position_size: Decimal
    active: bool
    row_number: int
    broker: str = ""
    direction: Direction = Direction.BOTH
    size_type: SizeType = SizeType.USD
    leverage: Decimal | None = None
    stop_loss_pct: Decimal | None = None
    take_profit_pct: Decimal | None = None
    trailing_pct: Decimal | None = None
    strategy: str = ""
    max_position_usd: Decimal | None = None
    extended_hours: bool = False
    trading_hours: TradingHours | None = None

    @property
    def key(self) -> SlotKey:
        """The row's :class:`SlotKey`."""
        return SlotKey(self.symbol, self.timeframe)


@dataclass(frozen=True)
class Signal:
    """A validated alert: what TradingView asked for, in canonical terms.

    ``price`` and ``quantity`` are Decimal or None; ``fired_at`` is tz-aware UTC or None;
    ``alert_key`` is the idempotency key (``id:<id>`` or ``body:<sha256>``).
    """

    action: Action
    symbol: str
    timeframe: str
    alert_key: str
    price: Decimal | None = None
    quantity: Decimal | None = None
    strategy: str = ""
    alert_id: str = ""
    fired_at: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> SlotKey:
        """The :class:`SlotKey` this signal is for."""
        return SlotKey(self.symbol, self.timeframe)


@dataclass(frozen=True)
class Fill:
    """One execution of an order, as recorded in the state DB.

    ``qty`` > 0 in base units; ``price`` in quote currency per unit; ``fee`` ≥ 0 in quote
    currency (converted by the adapter when the venue charges another asset); ``filled_at``
    tz-aware UTC. ``stop_loss_pct`` is the row's stop at the time of the order (for R multiples),
    ``exit_reason`` the order's purpose (``signal``, ``close``, ``reversal``, ``stop``, ...).
    """

    fill_id: str
    order_id: str
    symbol: str
    timeframe: str
    side: Side
    qty: Decimal
    price: Decimal
    fee: Decimal
    filled_at: datetime
    stop_loss_pct: Decimal | None = None
    exit_reason: str = ""


@dataclass(frozen=True)
class SlotState:
    """A slot: signed ``qty`` (base units, negative = short), average entry price, last exit time."""

    qty: Decimal = Decimal(0)
    avg_price: Decimal | None = None
    last_exit_at: datetime | None = None
