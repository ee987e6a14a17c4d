"""Fills → round trips → trade statistics, and the Trades / Performance tab records.

Pure functions, no I/O. Money and quantities are :class:`~decimal.Decimal` (exact: sums and
products are computed in a 60-digit context, so for any realistic price and quantity they are
exact; only averages, percentages and the pro-rata split of a fee are divisions); times are
tz-aware UTC ``datetime``.

Vocabulary (see ``DESIGN.md`` §5):

- A **slot** is a ``(symbol, timeframe)`` pair with its own virtual position.
- A **round trip** (trade) is flat → position → flat of one slot, long or short, with any number
  of partial entries and exits. A fill that crosses zero (a reversal, e.g. sell 3 while long 1)
  is split pro-rata by quantity — quantity and fee — into the closing part (1, fee × 1/3,
  rounded to 12 decimals) of the trade it ends and the opening part (2, the rest of the fee) of
  the next trade.
- P&L is realised by FIFO lots, net of every fee of the trade (entries and exits). For a closed
  round trip FIFO, LIFO and average cost all give the same total,
  ``direction × (Σ exit qty × price − Σ entry qty × price) − fees``, which is what
  :func:`round_trips` computes; lot order matters only for the still-open position, which
  :func:`open_positions` values by FIFO.

Rounding of the sheet records (:func:`trade_records`, :func:`performance_records`): money
(P&L, fees, averages of P&L, drawdown) to 2 decimals, percentages and ratios (win rate, pnl %,
profit factor, payoff ratio, R multiple) to 2 decimals, average prices to 8 decimals, quantities
unrounded; all ``ROUND_HALF_EVEN`` (banker's rounding, so rounding errors do not drift one way
when rows are summed). The numbers in :class:`RoundTrip` and :class:`TradeStats` are unrounded.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from itertools import islice
from operator import attrgetter, eq

from bot.domain import Fill, PositionSide, Side, format_decimal, normalise_symbol, normalise_timeframe
from bot.parsing import parse_decimal, parse_sheet_time

__all__ = [
    "PERFORMANCE_HEADERS",
    "TOTAL_SYMBOL",
    "TRADES_HEADERS",
    "TRADES_USER_COLUMNS",
    "MatchResult",
    "OpenPosition",
    "RoundTrip",
    "TradeStats",
    "format_duration",
    "match_fills",
    "open_positions",
    "performance_records",
    "round_trips",
    "summarise",
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
_BUY = Side.BUY
_LONG = PositionSide.LONG
_SHORT = PositionSide.SHORT
_CTX = Context(prec=60, rounding=ROUND_HALF_EVEN)
#: The closing share of a split reversal fill's fee is rounded to this (the opening share is the
#: rest, so the two add up to the fee exactly); far below any currency's smallest unit.
_FEE_QUANTUM = Decimal("1e-12")
_filled_at = attrgetter("filled_at")
_fill_order = attrgetter("filled_at", "fill_id")
_exit_at = attrgetter("exit_at")


# --------------------------------------------------------------------------------------------
# Value objects
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """One closed trade of a slot: flat → position → flat.

    Units: ``qty`` base units; prices quote currency per unit; ``fees``/``pnl`` quote currency;
    ``pnl_pct`` percent (``2`` = 2 %); times tz-aware UTC.

    Attributes:
        trade_id: ``f"{symbol}-{timeframe}-{fill_id of the first entry fill}"`` — stable across
            recomputes and when fills are appended; ``""`` on a manual journal row without one.
        side: :class:`~bot.domain.PositionSide` ``LONG`` or ``SHORT`` (a ``str``: ``== "long"``).
        qty: largest absolute position held during the trade.
        entry_price / exit_price: quantity-weighted average of the entry / exit fills (the parts
            of a split reversal fill included).
        fees: all fees of the trade (entries and exits, pro-rata share of a split fill).
        pnl: realised P&L net of ``fees``.
        pnl_pct: ``pnl / entry notional × 100`` with entry notional ``Σ entry qty × price``;
            None when that notional is 0.
        r_multiple: ``pnl / (entry notional × stop_loss_pct / 100)`` when the first entry fill
            carried a positive ``stop_loss_pct``, else None.
        holding_time: ``exit_at − entry_at``.
        exit_reason: ``exit_reason`` of the last exit fill.
        order_ids: the trade's order ids, unique, in fill order (empty on manual rows).
        stop_loss_pct: the first entry fill's ``stop_loss_pct``.
    """

    trade_id: str
    symbol: str
    timeframe: str
    side: PositionSide
    qty: Decimal
    entry_at: datetime
    entry_price: Decimal
    exit_at: datetime
    exit_price: Decimal
    fees: Decimal
    pnl: Decimal
    pnl_pct: Decimal | None
    r_multiple: Decimal | None
    holding_time: timedelta
    exit_reason: str
    order_ids: tuple[str, ...] = ()
    stop_loss_pct: Decimal | None = None


@dataclass(frozen=True, slots=True)
class OpenPosition:
    """The unclosed trade of a slot after the last fill.

    Attributes:
        trade_id: the id the round trip will have once closed (same rule as :class:`RoundTrip`).
        side: ``LONG`` or ``SHORT``.
        qty: absolute open quantity, base units (> 0).
        avg_entry_price: quantity-weighted price of the FIFO lots still open, quote per unit.
        cost_basis: exact ``Σ lot qty × lot price`` of those lots, quote currency (unrealised
            P&L at a mark price is ``qty × mark − cost_basis`` long, ``cost_basis − qty × mark``
            short).
        entry_at: time of the trade's first entry fill (UTC).
        realised_pnl: P&L of the partial exits so far, matched FIFO against the entry lots, net
            of every fee paid so far in this trade (so ``-fees`` right after the first entry).
        fees: fees paid so far in this trade, quote currency.
        order_ids: order ids so far, unique, in fill order.
    """

    trade_id: str
    symbol: str
    timeframe: str
    side: PositionSide
    qty: Decimal
    avg_entry_price: Decimal
    cost_basis: Decimal
    entry_at: datetime
    realised_pnl: Decimal
    fees: Decimal
    order_ids: tuple[str, ...] = ()

    @property
    def signed_qty(self) -> Decimal:
        """Quantity with the sign of the position (negative when short)."""
        return self.qty if self.side is _LONG else -self.qty


@dataclass(frozen=True, slots=True)
class MatchResult:
    """Result of :func:`match_fills`: closed trades (ordered by exit) and open positions."""

    trips: list[RoundTrip]
    open: list[OpenPosition]


@dataclass(frozen=True, slots=True)
class TradeStats:
    """Classic trade statistics of a set of round trips (see :func:`summarise`).

    Money in quote currency, unrounded; ``win_rate`` in percent; None where undefined (no
    trades, no wins, no losses). A trade with ``pnl == 0`` is a *scratch*: neither a win nor a
    loss, and it breaks both a winning and a losing streak.
    """

    total_trades: int
    winning_trades: int
    losing_trades: int
    scratch_trades: int
    win_rate: Decimal | None
    total_pnl: Decimal
    avg_pnl_per_trade: Decimal | None
    best_trade: Decimal | None
    worst_trade: Decimal | None
    gross_profit: Decimal
    gross_loss: Decimal
    profit_factor: Decimal | None
    expectancy: Decimal | None
    avg_win: Decimal | None
    avg_loss: Decimal | None
    payoff_ratio: Decimal | None
    max_win_streak: int
    max_loss_streak: int
    avg_holding_time: timedelta | None
    long_trades: int
    long_pnl: Decimal
    short_trades: int
    short_pnl: Decimal
    max_drawdown: Decimal
    total_fees: Decimal


# --------------------------------------------------------------------------------------------
# Matching fills into round trips
# --------------------------------------------------------------------------------------------


def round_trips(fills: Iterable[Fill]) -> list[RoundTrip]:
    """Closed round trips of every slot, ordered by ``exit_at`` (ties: by slot, then fill order).

    Fills are grouped by ``(symbol, timeframe)`` and replayed in ``(filled_at, fill_id)`` order;
    see the module docstring for the rules (partials, reversal split, FIFO, fees).

    Args:
        fills: any iterable of :class:`~bot.domain.Fill` (``qty`` > 0, ``fee`` ≥ 0), any order.

    Returns:
        The closed trades; a slot's trailing open position is left out (see
        :func:`open_positions`).

    Raises:
        ValueError: naming the fill when its ``qty`` is not positive.
    """
    return match_fills(fills, with_open=False).trips


def open_positions(fills: Iterable[Fill]) -> list[OpenPosition]:
    """Open position of every slot that is not flat after its last fill, ordered by slot.

    Args / Raises: as :func:`round_trips`.
    """
    return match_fills(fills).open


def match_fills(fills: Iterable[Fill], *, with_open: bool = True) -> MatchResult:
    """Closed round trips and open positions in one pass (see :func:`round_trips`).

    Args:
        fills: iterable of :class:`~bot.domain.Fill`, any order.
        with_open: False skips the FIFO valuation of open positions (``open`` is then empty).

    Returns:
        :class:`MatchResult`: ``trips`` ordered by ``exit_at`` (ties: by ``(symbol, timeframe)``,
        then in fill order), ``open`` ordered by ``(symbol, timeframe)``.

    Raises:
        ValueError: naming the fill when its ``qty`` is not positive.

    Cost: a sort per slot, then a few Decimal operations per fill and one object per trade;
    ``bench/analytics.py`` measures about 0.4 s per 100k fills on a 2-core VM.
    """
    groups: dict[tuple[str, str], list[Fill]] = {}
    for fill in fills:
        key = (fill.symbol, fill.timeframe)
        group = groups.get(key)
        if group is None:
            groups[key] = [fill]
        else:
            group.append(fill)
    trips: list[RoundTrip] = []
    opened: list[OpenPosition] = []
    with localcontext(_CTX):
        for key in sorted(groups):
            group = groups[key]
            _sort_fills(group)
            position = _match_slot(key[0], key[1], group, trips, with_open)
            if position is not None:
                opened.append(position)
    trips.sort(key=_exit_at)  # stable: ties stay in slot order, then fill order
    return MatchResult(trips, opened)


def _sort_fills(fills: list[Fill]) -> None:
    """Sort in place by ``(filled_at, fill_id)``.

    Sorting by time alone is twice as fast as by the tuple; the tuple sort runs only when two
    fills share a time (partial fills of one order often do).
    """
    fills.sort(key=_filled_at)
    times = list(map(_filled_at, fills))
    if any(map(eq, times, islice(times, 1, None))):
        fills.sort(key=_fill_order)


def _match_slot(
    symbol: str,
    timeframe: str,
    fills: list[Fill],
    out: list[RoundTrip],
    with_open: bool,
) -> OpenPosition | None:
    """Replay one slot's sorted fills, appending closed trips to ``out``; return the open rest.

    Kept flat (locals only, no per-fill objects) because it runs once per fill.
    """
    zero = _ZERO
    buy_side = _BUY
    append = out.append
    prefix = f"{symbol}-{timeframe}-"
    held = zero  # absolute position
    is_long = True
    first: Fill | None = None
    entry_qty = entry_notional = exit_qty = exit_notional = fees = peak = zero
    order_ids: dict[str, None] = {}
    # opening part of a split reversal fill that starts the current trip: (qty, fee) or None
    opening_part: tuple[Decimal, Decimal] | None = None

    for fill in fills:
        qty = fill.qty
        if not qty > zero:
            raise ValueError(f"fill {fill.fill_id!r} of {symbol} {timeframe}: qty {qty} is not positive")
        is_buy = fill.side == buy_side
        if not held:
            is_long = is_buy
            first = fill
            opening_part = None
            entry_qty = held = peak = qty
            entry_notional = qty * fill.price
            exit_qty = exit_notional = zero
            fees = fill.fee
            order_ids = {fill.order_id: None}
        elif is_buy is is_long:
            entry_qty += qty
            entry_notional += qty * fill.price
            fees += fill.fee
            held += qty
            if held > peak:
                peak = held
            order_ids[fill.order_id] = None
        else:
            order_ids[fill.order_id] = None
            if qty < held:
                exit_qty += qty
                exit_notional += qty * fill.price
                fees += fill.fee
                held -= qty
                continue
            price = fill.price
            fee = fill.fee
            if qty == held:
                close_qty, close_fee = qty, fee
            else:
                close_qty = held
                close_fee = _CTX.quantize(fee * close_qty / qty, _FEE_QUANTUM) if fee else zero
            exit_qty += close_qty
            exit_notional += close_qty * price
            fees += close_fee
            append(
                _make_trip(
                    prefix, symbol, timeframe, first, is_long, peak, entry_qty, entry_notional,
                    exit_qty, exit_notional, fees, fill, order_ids,
                )
            )  # fmt: skip
            held = zero
            if qty > close_qty:  # reversal: the rest opens the next trade
                open_qty = qty - close_qty
                is_long = is_buy
                first = fill
                opening_part = (open_qty, fee - close_fee)
                entry_qty = held = peak = open_qty
                entry_notional = open_qty * price
                exit_qty = exit_notional = zero
                fees = fee - close_fee
                order_ids = {fill.order_id: None}

    if not held or not with_open or first is None:
        return None
    start = len(fills) - 1
    while fills[start] is not first:
        start -= 1
    return _open_position(prefix, symbol, timeframe, fills, start, opening_part, is_long)


def _make_trip(
    prefix: str,
    symbol: str,
    timeframe: str,
    first: Fill | None,
    is_long: bool,
    peak: Decimal,
    entry_qty: Decimal,
    entry_notional: Decimal,
    exit_qty: Decimal,
    exit_notional: Decimal,
    fees: Decimal,
    last_exit: Fill,
    order_ids: dict[str, None],
) -> RoundTrip:
    assert first is not None
    gross = exit_notional - entry_notional if is_long else entry_notional - exit_notional
    pnl = gross - fees
    stop = first.stop_loss_pct
    if entry_notional:
        pnl_pct: Decimal | None = pnl * _HUNDRED / entry_notional
        r_multiple = pnl * _HUNDRED / (entry_notional * stop) if stop is not None and stop > 0 else None
    else:
        pnl_pct = r_multiple = None
    entry_at = first.filled_at
    exit_at = last_exit.filled_at
    return RoundTrip(
        prefix + first.fill_id,
        symbol,
        timeframe,
        _LONG if is_long else _SHORT,
        peak,
        entry_at,
        entry_notional / entry_qty,
        exit_at,
        exit_notional / exit_qty,
        fees,
        pnl,
        pnl_pct,
        r_multiple,
        exit_at - entry_at,
        last_exit.exit_reason,
        tuple(order_ids),
        stop,
    )


def _open_position(
    prefix: str,
    symbol: str,
    timeframe: str,
    fills: list[Fill],
    start: int,
    opening_part: tuple[Decimal, Decimal] | None,
    is_long: bool,
) -> OpenPosition:
    """FIFO replay of the open trade ``fills[start:]`` (its first fill maybe a split part)."""
    first = fills[start]
    lots: deque[list[Decimal]] = deque()  # [remaining qty, price]
    realised = fees = _ZERO
    order_ids: dict[str, None] = {}
    for index in range(start, len(fills)):
        fill = fills[index]
        qty, fee = opening_part if index == start and opening_part is not None else (fill.qty, fill.fee)
        fees += fee
        order_ids[fill.order_id] = None
        if (fill.side == _BUY) is is_long:
            lots.append([qty, fill.price])
            continue
        remaining = qty
        while remaining:  # exits never exceed the open lots inside one trade
            lot = lots[0]
            used = min(lot[0], remaining)
            move = (fill.price - lot[1]) * used
            realised += move if is_long else -move
            remaining -= used
            lot[0] -= used
            if not lot[0]:
                lots.popleft()
    held = sum((lot[0] for lot in lots), _ZERO)
    cost = sum((lot[0] * lot[1] for lot in lots), _ZERO)
    return OpenPosition(
        prefix + first.fill_id,
        symbol,
        timeframe,
        _LONG if is_long else _SHORT,
        held,
        cost / held,
        cost,
        first.filled_at,
        realised - fees,
        fees,
        tuple(order_ids),
    )


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

    def cell(name: str) -> str:
        value = record.get(name)
        return "" if value is None else str(value).strip()

    def required(name: str) -> str:
        text = cell(name)
        if not text:
            raise ValueError(f"{name}: required, the cell is blank")
        return text

    def number(name: str, text: str, *, positive: bool = False, allow_zero: bool | None = None) -> Decimal:
        zero_ok = (not positive) if allow_zero is None else allow_zero
        try:
            return parse_decimal(text, positive=positive, allow_zero=zero_ok)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None

    def when(name: str) -> datetime:
        text = required(name)
        try:
            return parse_sheet_time(text, zone=zone)
        except ValueError as exc:
            detail = str(exc).removeprefix(repr(text.strip())).strip().removeprefix("is ")
            raise ValueError(f"{name}: {text!r} is not a time: {detail}") from None

    symbol_text = required("symbol")
    try:
        symbol = normalise_symbol(symbol_text)
    except ValueError as exc:
        raise ValueError(f"symbol: {exc}") from None
    timeframe = cell("timeframe")
    if timeframe:
        try:
            timeframe = normalise_timeframe(timeframe)
        except ValueError as exc:
            raise ValueError(f"timeframe: {exc}") from None
    side_text = required("side")
    side = _SIDES.get(side_text.lower())
    if side is None:
        raise ValueError(f"side: {side_text!r} is not long or short")
    with localcontext(_CTX):
        qty = number("qty", required("qty"), positive=True)
        entry_price = number("entry_price", required("entry_price"), positive=True)
        exit_price = number("exit_price", required("exit_price"), positive=True)
        entry_at = when("entry_at")
        exit_at = when("exit_at")
        if exit_at < entry_at:
            raise ValueError(f"exit_at: {cell('exit_at')!r} is before entry_at {cell('entry_at')!r}")
        fees_text = cell("fees")
        fees = number("fees", fees_text, positive=True, allow_zero=True) if fees_text else _ZERO
        entry_notional = qty * entry_price
        pnl_text = cell("pnl")
        if pnl_text:
            pnl = number("pnl", pnl_text)
        else:
            move = (exit_price - entry_price) * qty
            pnl = (move if side is _LONG else -move) - fees
        r_text = cell("r_multiple")
        r_multiple = number("r_multiple", r_text) if r_text else None
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
# Statistics
# --------------------------------------------------------------------------------------------


def summarise(trips: Iterable[RoundTrip]) -> TradeStats:
    """Trade statistics of ``trips`` (any order; streaks and drawdown use ``exit_at`` order).

    Definitions (``n`` = total trades; pnl net of fees):

    - wins: ``pnl > 0``; losses: ``pnl < 0``; scratches: ``pnl == 0`` (neither).
    - ``win_rate = wins / n × 100``.
    - ``gross_profit = Σ winning pnl``; ``gross_loss = Σ losing pnl`` (≤ 0).
    - ``profit_factor = gross_profit / |gross_loss|`` (None without losses).
    - ``avg_win = gross_profit / wins``; ``avg_loss = gross_loss / losses`` (negative).
    - ``expectancy = (wins/n) × avg_win − (losses/n) × |avg_loss|`` per trade (Van Tharp's
      expectancy in currency; with scratches counted in ``n`` it equals ``total_pnl / n``).
    - ``payoff_ratio = avg_win / |avg_loss|`` (None without wins or without losses).
    - streaks: longest run of consecutive wins / losses in ``exit_at`` order (trades closed at
      the same time keep their input order); a scratch ends both kinds of run.
    - ``max_drawdown``: largest fall of cumulative pnl (same order) below its running peak,
      the peak starting at 0 (so a first losing trade is a drawdown); ≥ 0, quote currency.
    - ``avg_holding_time``: mean of ``holding_time`` (None without trades).

    Args:
        trips: round trips (closed trades), e.g. from :func:`round_trips` or
            :func:`trade_from_record`.

    Returns:
        :class:`TradeStats`, unrounded.
    """
    ordered = sorted(trips, key=_exit_at)
    zero = _ZERO
    wins = losses = longs = 0
    gross_profit = gross_loss = long_pnl = short_pnl = total_fees = zero
    best: Decimal | None = None
    worst: Decimal | None = None
    win_run = loss_run = max_win_run = max_loss_run = 0
    cumulative = peak = drawdown = zero
    holding = timedelta(0)
    with localcontext(_CTX):
        for trip in ordered:
            pnl = trip.pnl
            total_fees += trip.fees
            holding += trip.holding_time
            if trip.side is _LONG:
                longs += 1
                long_pnl += pnl
            else:
                short_pnl += pnl
            if pnl > zero:
                wins += 1
                gross_profit += pnl
                win_run += 1
                loss_run = 0
                if win_run > max_win_run:
                    max_win_run = win_run
            elif pnl < zero:
                losses += 1
                gross_loss += pnl
                loss_run += 1
                win_run = 0
                if loss_run > max_loss_run:
                    max_loss_run = loss_run
            else:
                win_run = loss_run = 0
            if best is None or pnl > best:
                best = pnl
            if worst is None or pnl < worst:
                worst = pnl
            cumulative += pnl
            if cumulative > peak:
                peak = cumulative
            elif peak - cumulative > drawdown:
                drawdown = peak - cumulative
        total = len(ordered)
        total_pnl = gross_profit + gross_loss
        avg_win = gross_profit / wins if wins else None
        avg_loss = gross_loss / losses if losses else None
        if total:
            win_rate: Decimal | None = Decimal(wins) * _HUNDRED / total
            win_part = Decimal(wins) / total * (avg_win or zero)
            loss_part = Decimal(losses) / total * abs(avg_loss or zero)
            expectancy: Decimal | None = win_part - loss_part
            avg_pnl: Decimal | None = total_pnl / total
            avg_holding: timedelta | None = holding / total
        else:
            win_rate = expectancy = avg_pnl = None
            avg_holding = None
        return TradeStats(
            total_trades=total,
            winning_trades=wins,
            losing_trades=losses,
            scratch_trades=total - wins - losses,
            win_rate=win_rate,
            total_pnl=total_pnl,
            avg_pnl_per_trade=avg_pnl,
            best_trade=best,
            worst_trade=worst,
            gross_profit=gross_profit,
            gross_loss=gross_loss,
            profit_factor=gross_profit / -gross_loss if losses else None,
            expectancy=expectancy,
            avg_win=avg_win,
            avg_loss=avg_loss,
            payoff_ratio=avg_win / -avg_loss if avg_win is not None and avg_loss is not None else None,
            max_win_streak=max_win_run,
            max_loss_streak=max_loss_run,
            avg_holding_time=avg_holding,
            long_trades=longs,
            long_pnl=long_pnl,
            short_trades=total - longs,
            short_pnl=short_pnl,
            max_drawdown=drawdown,
            total_fees=total_fees,
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
