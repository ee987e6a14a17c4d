"""Trades / Performance tab records: trips to sheet rows, and a typed Trades row back to a trip (pure).

Rounding of the sheet records (:func:`trade_records`, :func:`performance_records`): money
(P&L, fees, averages of P&L, drawdown) to 2 decimals, percentages and ratios (win rate, pnl %,
profit factor, payoff ratio, R multiple) to 2 decimals, average prices to 8 decimals, quantities
unrounded; all ``ROUND_HALF_EVEN`` (banker's rounding, so rounding errors do not drift one way
when rows are summed). The numbers in :class:`~bot.analytics.round_trips.RoundTrip` and
:class:`~bot.analytics.trade_stats.TradeStats` are unrounded.

:func:`trade_from_record` reads a row a user typed into the Trades tab (a manual trade, no fills
behind it) into the same :class:`~bot.analytics.round_trips.RoundTrip` the fills give.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone, tzinfo
from decimal import Decimal, localcontext
from operator import attrgetter

from bot.analytics.round_trips import DECIMAL_CONTEXT, RoundTrip
from bot.analytics.trade_stats import TradeStats, summarise
from bot.domain import PositionSide, format_decimal, normalise_symbol, normalise_timeframe
from bot.parsing import parse_decimal, parse_sheet_time

__all__ = [
    "MONEY_PLACES",
    "PCT_PLACES",
    "PERFORMANCE_HEADERS",
    "PRICE_PLACES",
    "TOTAL_SYMBOL",
    "TRADES_HEADERS",
    "TRADES_USER_COLUMNS",
    "format_duration",
    "performance_records",
    "trade_from_record",
    "trade_records",
]

UTC = timezone.utc

#: Decimal places of money in the sheet records (P&L, fees, averages of P&L, drawdown).
MONEY_PLACES = 2
#: Decimal places of percentages and ratios in the sheet records.
PCT_PLACES = 2
#: Decimal places of average prices in the Trades records.
PRICE_PLACES = 8

TRADES_HEADERS: tuple[str, ...] = (
    "trade_id", "symbol", "timeframe", "side", "qty", "entry_at", "entry_price", "exit_at",
    "exit_price", "fees", "pnl", "pnl_pct", "r_multiple", "holding_time", "exit_reason",
    "order_ids", "setup", "tags", "notes", "screenshot_url", "rating",
)  # fmt: skip
"""Column headers of the Trades tab, in sheet order (``sheets_schema/Trades.json``)."""

TRADES_USER_COLUMNS: tuple[str, ...] = ("setup", "tags", "notes", "screenshot_url", "rating")
"""User-owned Trades columns: :func:`trade_records` leaves them ``""`` for the caller to merge."""

PERFORMANCE_HEADERS: tuple[str, ...] = (
    "symbol", "total_trades", "winning_trades", "losing_trades", "win_rate", "total_pnl",
    "avg_pnl_per_trade", "best_trade", "worst_trade", "last_updated", "timeframe",
    "scratch_trades", "gross_profit", "gross_loss", "profit_factor", "expectancy", "avg_win",
    "avg_loss", "payoff_ratio", "max_win_streak", "max_loss_streak", "avg_holding_time",
    "long_trades", "long_pnl", "short_trades", "short_pnl", "max_drawdown", "total_fees",
)  # fmt: skip
"""Column headers of the Performance tab, in sheet order (``sheets_schema/Performance.json``)."""

TOTAL_SYMBOL = "TOTAL"
"""``symbol`` cell of the Performance tab's total row."""

_ZERO = Decimal(0)
_HUNDRED = Decimal(100)
_LONG = PositionSide.LONG
_SHORT = PositionSide.SHORT
_CTX = DECIMAL_CONTEXT
_exit_at = attrgetter("exit_at")


# --------------------------------------------------------------------------------------------
# Manual journal rows
# --------------------------------------------------------------------------------------------

_SIDES = {"long": _LONG, "buy": _LONG, "short": _SHORT, "sell": _SHORT}
_SPLIT_IDS = re.compile(r"[,\s;]+")


def trade_from_record(record: Mapping[str, str], *, zone: tzinfo = UTC) -> RoundTrip:
    """A :class:`RoundTrip` from a Trades-tab row a user typed (no fills behind it).

    Args:
        record: cells keyed by Trades header (``sheets_schema/Trades.json``). Required:
            ``symbol``, ``side`` (``long|short``; ``buy|sell`` accepted), ``qty`` (> 0),
            ``entry_at``, ``entry_price``, ``exit_at``, ``exit_price``. Optional: ``trade_id``,
            ``timeframe`` (normalised, e.g. ``60`` → ``1h``), ``fees`` (blank = 0), ``pnl``
            (blank = computed: ``±(exit_price − entry_price) × qty − fees``), ``r_multiple``,
            ``exit_reason``, ``order_ids`` (comma/space separated). ``pnl_pct`` and
            ``holding_time`` are always recomputed from the other cells. Numbers may carry
            ``$`` and thousands commas.
        zone: time zone of times without an offset (the sheet writes ``BOT_TIMEZONE`` times as
            ``YYYY-MM-DD HH:MM:SS``); times with an offset or ``Z`` keep theirs.

    Returns:
        The trade; ``entry_at``/``exit_at`` converted to UTC.

    Raises:
        ValueError: ``"<column>: <why> (<value>)"`` for the first unusable cell, or when
            ``exit_at`` is before ``entry_at``.
    """
    row = _Row(record, zone)
    symbol, timeframe, side = _slot_and_side(row)
    with localcontext(_CTX):
        return _manual_trip(row, symbol, timeframe, side)


class _Row:
    """The cells of one Trades row being read by :func:`trade_from_record` (times without offset in ``zone``)."""

    def __init__(self, record: Mapping[str, str], zone: tzinfo) -> None:
        self.record = record
        self.zone = zone

    def cell(self, name: str) -> str:
        """The stripped text of cell ``name`` (``""`` when missing or None)."""
        value = self.record.get(name)
        return "" if value is None else str(value).strip()

    def required(self, name: str) -> str:
        """The text of cell ``name``; ValueError ``"<name>: required, ..."`` when blank."""
        text = self.cell(name)
        if not text:
            raise ValueError(f"{name}: required, the cell is blank")
        return text

    def when(self, name: str) -> datetime:
        """The required time in cell ``name`` as UTC; ValueError naming the column when unusable."""
        text = self.required(name)
        try:
            return parse_sheet_time(text, zone=self.zone)
        except ValueError as exc:
            detail = str(exc).removeprefix(repr(text.strip())).strip().removeprefix("is ")
            raise ValueError(f"{name}: {text!r} is not a time: {detail}") from None


def _number(name: str, text: str, *, positive: bool = False, allow_zero: bool | None = None) -> Decimal:
    """``text`` parsed by :func:`~bot.parsing.parse_decimal`; ValueError prefixed with the column ``name``."""
    zero_ok = (not positive) if allow_zero is None else allow_zero
    try:
        return parse_decimal(text, positive=positive, allow_zero=zero_ok)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


def _slot_and_side(row: _Row) -> tuple[str, str, PositionSide]:
    """The row's normalised ``symbol``, ``timeframe`` (``""`` when blank) and side; ValueError naming the cell."""
    symbol_text = row.required("symbol")
    try:
        symbol = normalise_symbol(symbol_text)
    except ValueError as exc:
        raise ValueError(f"symbol: {exc}") from None
    timeframe = row.cell("timeframe")
    if timeframe:
        try:
            timeframe = normalise_timeframe(timeframe)
        except ValueError as exc:
            raise ValueError(f"timeframe: {exc}") from None
    side_text = row.required("side")
    side = _SIDES.get(side_text.lower())
    if side is None:
        raise ValueError(f"side: {side_text!r} is not long or short")
    return symbol, timeframe, side


def _manual_trip(row: _Row, symbol: str, timeframe: str, side: PositionSide) -> RoundTrip:
    """The trade of ``row`` once its slot and side are known (quantities, prices, times, fees, P&L).

    Raises:
        ValueError: as :func:`trade_from_record`.
    """
    cell = row.cell
    qty = _number("qty", row.required("qty"), positive=True)
    entry_price = _number("entry_price", row.required("entry_price"), positive=True)
    exit_price = _number("exit_price", row.required("exit_price"), positive=True)
    entry_at = row.when("entry_at")
    exit_at = row.when("exit_at")
    if exit_at < entry_at:
        raise ValueError(f"exit_at: {cell('exit_at')!r} is before entry_at {cell('entry_at')!r}")
    fees_text = cell("fees")
    fees = _number("fees", fees_text, positive=True, allow_zero=True) if fees_text else _ZERO
    entry_notional = qty * entry_price
    pnl_text = cell("pnl")
    if pnl_text:
        pnl = _number("pnl", pnl_text)
    else:
        move = (exit_price - entry_price) * qty
        pnl = (move if side is _LONG else -move) - fees
    r_text = cell("r_multiple")
    r_multiple = _number("r_multiple", r_text) if r_text else None
    pnl_pct = pnl * _HUNDRED / entry_notional if entry_notional else None
    order_ids = tuple(dict.fromkeys(part for part in _SPLIT_IDS.split(cell("order_ids")) if part))
    return RoundTrip(
        trade_id=cell("trade_id"),
        symbol=symbol,
        timeframe=timeframe,
        side=side,
        qty=qty,
        entry_at=entry_at,
        entry_price=entry_price,
        exit_at=exit_at,
        exit_price=exit_price,
        fees=fees,
        pnl=pnl,
        pnl_pct=pnl_pct,
        r_multiple=r_multiple,
        holding_time=exit_at - entry_at,
        exit_reason=cell("exit_reason"),
        order_ids=order_ids,
    )


# --------------------------------------------------------------------------------------------
# Sheet records
# --------------------------------------------------------------------------------------------


def format_duration(value: timedelta | None) -> str:
    """``[Nd ]HH:MM:SS`` (e.g. ``"2d 03:04:05"``, ``"00:15:00"``), whole seconds rounded down.

    ``""`` for None; a negative duration gets a leading ``-``.
    """
    if value is None:
        return ""
    sign = "-" if value < _NO_TIME else ""
    days, rest = divmod(abs(value) // _SECOND, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{sign}{days}d {clock}" if days else f"{sign}{clock}"


_NO_TIME = timedelta(0)
_SECOND = timedelta(seconds=1)
_QUANTUM = {places: Decimal(1).scaleb(-places) for places in {MONEY_PLACES, PCT_PLACES, PRICE_PLACES}}


def _fixed(value: Decimal | None, places: int) -> str:
    if value is None:
        return ""
    return format_decimal(_CTX.quantize(value, _QUANTUM[places]))


def _when(value: datetime | None, zone: tzinfo) -> str:
    return "" if value is None else value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def trade_records(trips: Iterable[RoundTrip], zone: tzinfo) -> list[dict[str, str]]:
    """Trades-tab rows, one per trip, in the given order, keyed by :data:`TRADES_HEADERS`.

    Args:
        trips: round trips.
        zone: time zone of ``entry_at``/``exit_at`` cells (``BOT_TIMEZONE``).

    Returns:
        ``dict[header, text]``: times ``YYYY-MM-DD HH:MM:SS`` in ``zone``; ``qty`` exact;
        prices to 8 decimals; ``fees``/``pnl`` to 2; ``pnl_pct``/``r_multiple`` to 2 (all
        ``ROUND_HALF_EVEN``, no exponent, no trailing zeros); ``holding_time`` ``[Nd ]HH:MM:SS``;
        ``order_ids`` joined with ``", "``; user-owned columns ``""`` (the caller keeps the
        user's existing values).
    """
    rows: list[dict[str, str]] = []
    for trip in trips:
        rows.append(
            {
                "trade_id": trip.trade_id,
                "symbol": trip.symbol,
                "timeframe": trip.timeframe,
                "side": str(trip.side.value if isinstance(trip.side, PositionSide) else trip.side),
                "qty": format_decimal(trip.qty),
                "entry_at": _when(trip.entry_at, zone),
                "entry_price": _fixed(trip.entry_price, PRICE_PLACES),
                "exit_at": _when(trip.exit_at, zone),
                "exit_price": _fixed(trip.exit_price, PRICE_PLACES),
                "fees": _fixed(trip.fees, MONEY_PLACES),
                "pnl": _fixed(trip.pnl, MONEY_PLACES),
                "pnl_pct": _fixed(trip.pnl_pct, PCT_PLACES),
                "r_multiple": _fixed(trip.r_multiple, PCT_PLACES),
                "holding_time": format_duration(trip.holding_time),
                "exit_reason": trip.exit_reason,
                "order_ids": ", ".join(trip.order_ids),
                **dict.fromkeys(TRADES_USER_COLUMNS, ""),
            }
        )
    return rows


def _stats_record(symbol: str, timeframe: str, stats: TradeStats, updated: str) -> dict[str, str]:
    money, pct = MONEY_PLACES, PCT_PLACES
    return {
        "symbol": symbol,
        "total_trades": str(stats.total_trades),
        "winning_trades": str(stats.winning_trades),
        "losing_trades": str(stats.losing_trades),
        "win_rate": _fixed(stats.win_rate, pct),
        "total_pnl": _fixed(stats.total_pnl, money),
        "avg_pnl_per_trade": _fixed(stats.avg_pnl_per_trade, money),
        "best_trade": _fixed(stats.best_trade, money),
        "worst_trade": _fixed(stats.worst_trade, money),
        "last_updated": updated,
        "timeframe": timeframe,
        "scratch_trades": str(stats.scratch_trades),
        "gross_profit": _fixed(stats.gross_profit, money),
        "gross_loss": _fixed(stats.gross_loss, money),
        "profit_factor": _fixed(stats.profit_factor, pct),
        "expectancy": _fixed(stats.expectancy, money),
        "avg_win": _fixed(stats.avg_win, money),
        "avg_loss": _fixed(stats.avg_loss, money),
        "payoff_ratio": _fixed(stats.payoff_ratio, pct),
        "max_win_streak": str(stats.max_win_streak),
        "max_loss_streak": str(stats.max_loss_streak),
        "avg_holding_time": format_duration(stats.avg_holding_time),
        "long_trades": str(stats.long_trades),
        "long_pnl": _fixed(stats.long_pnl, money),
        "short_trades": str(stats.short_trades),
        "short_pnl": _fixed(stats.short_pnl, money),
        "max_drawdown": _fixed(stats.max_drawdown, money),
        "total_fees": _fixed(stats.total_fees, money),
    }


def performance_records(trips: Iterable[RoundTrip], now: datetime, zone: tzinfo) -> list[dict[str, str]]:
    """Performance-tab rows keyed by :data:`PERFORMANCE_HEADERS`.

    Order: for each symbol (sorted), its row with ``timeframe`` ``""`` followed by one row per
    timeframe of that symbol (sorted); then the ``TOTAL`` row (``timeframe`` ``""``), present even
    when there are no trades. Trips without a timeframe (manual rows that left it blank) count
    in their symbol row and in ``TOTAL`` but get no timeframe row of their own, which would
    repeat the symbol row's key ``(symbol, "")``.

    Args:
        trips: round trips (bot and manual).
        now: time of the computation (tz-aware), written to ``last_updated``.
        zone: time zone of ``last_updated`` (``BOT_TIMEZONE``).

    Returns:
        ``dict[header, text]``: counts as integers; money to 2 decimals, percentages and ratios
        to 2 decimals (``ROUND_HALF_EVEN``, via :func:`~bot.domain.format_decimal`); blank where
        undefined (e.g. ``profit_factor`` without losses); durations ``[Nd ]HH:MM:SS``;
        ``last_updated`` ``YYYY-MM-DD HH:MM:SS`` in ``zone``.
    """
    updated = _when(now, zone)
    everything = sorted(trips, key=_exit_at)
    by_symbol: dict[str, list[RoundTrip]] = {}
    by_slot: dict[str, dict[str, list[RoundTrip]]] = {}
    for trip in everything:
        by_symbol.setdefault(trip.symbol, []).append(trip)
        if trip.timeframe:
            by_slot.setdefault(trip.symbol, {}).setdefault(trip.timeframe, []).append(trip)
    rows: list[dict[str, str]] = []
    for symbol in sorted(by_symbol):
        rows.append(_stats_record(symbol, "", summarise(by_symbol[symbol]), updated))
        slots = by_slot.get(symbol, {})
        for timeframe in sorted(slots):
            rows.append(_stats_record(symbol, timeframe, summarise(slots[timeframe]), updated))
    rows.append(_stats_record(TOTAL_SYMBOL, "", summarise(everything), updated))
    return rows
