"""Classic trade statistics of a set of round trips: :class:`TradeStats` and :func:`summarise` (pure).

Money in quote currency, unrounded :class:`~decimal.Decimal` computed in
:data:`~bot.analytics.round_trips.DECIMAL_CONTEXT`; :mod:`bot.analytics.trade_records` rounds them
for the Performance tab.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, localcontext
from operator import attrgetter

from bot.analytics.round_trips import DECIMAL_CONTEXT, RoundTrip
from bot.domain import PositionSide

__all__ = ["TradeStats", "summarise"]

_ZERO = Decimal(0)
_HUNDRED = Decimal(100)
_LONG = PositionSide.LONG
_exit_at = attrgetter("exit_at")


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
        trips: round trips (closed trades), e.g. from :func:`~bot.analytics.round_trips.round_trips` or
            :func:`~bot.analytics.trade_records.trade_from_record`.

    Returns:
        :class:`TradeStats`, unrounded.
    """
    ordered = sorted(trips, key=_exit_at)
    with localcontext(DECIMAL_CONTEXT):
        return _stats(_tally(ordered))


@dataclass(slots=True)
class _Tally:
    """Counts, sums, extremes, streaks and drawdown of one pass over trips in ``exit_at`` order."""

    total: int
    wins: int
    losses: int
    longs: int
    gross_profit: Decimal
    gross_loss: Decimal
    long_pnl: Decimal
    short_pnl: Decimal
    total_fees: Decimal
    best: Decimal | None
    worst: Decimal | None
    max_win_run: int
    max_loss_run: int
    drawdown: Decimal
    holding: timedelta


def _tally(ordered: list[RoundTrip]) -> _Tally:
    """The pass of :func:`summarise` over ``ordered`` (sorted by ``exit_at``); locals only, it runs per trip."""
    zero = _ZERO
    wins = losses = longs = 0
    gross_profit = gross_loss = long_pnl = short_pnl = total_fees = zero
    best: Decimal | None = None
    worst: Decimal | None = None
    win_run = loss_run = max_win_run = max_loss_run = 0
    cumulative = peak = drawdown = zero
    holding = timedelta(0)
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
    return _Tally(
        len(ordered), wins, losses, longs, gross_profit, gross_loss, long_pnl, short_pnl, total_fees,
        best, worst, max_win_run, max_loss_run, drawdown, holding,
    )  # fmt: skip


def _stats(tally: _Tally) -> TradeStats:
    """The averages, ratios and expectancy of ``tally`` (see :func:`summarise`), as :class:`TradeStats`."""
    zero = _ZERO
    total, wins, losses = tally.total, tally.wins, tally.losses
    gross_profit, gross_loss = tally.gross_profit, tally.gross_loss
    total_pnl = gross_profit + gross_loss
    avg_win = gross_profit / wins if wins else None
    avg_loss = gross_loss / losses if losses else None
    if total:
        win_rate: Decimal | None = Decimal(wins) * _HUNDRED / total
        win_part = Decimal(wins) / total * (avg_win or zero)
        loss_part = Decimal(losses) / total * abs(avg_loss or zero)
        expectancy: Decimal | None = win_part - loss_part
        avg_pnl: Decimal | None = total_pnl / total
        avg_holding: timedelta | None = tally.holding / total
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
        best_trade=tally.best,
        worst_trade=tally.worst,
        gross_profit=gross_profit,
        gross_loss=gross_loss,
        profit_factor=gross_profit / -gross_loss if losses else None,
        expectancy=expectancy,
        avg_win=avg_win,
        avg_loss=avg_loss,
        payoff_ratio=avg_win / -avg_loss if avg_win is not None and avg_loss is not None else None,
        max_win_streak=tally.max_win_run,
        max_loss_streak=tally.max_loss_run,
        avg_holding_time=avg_holding,
        long_trades=tally.longs,
        long_pnl=tally.long_pnl,
        short_trades=total - tally.longs,
        short_pnl=tally.short_pnl,
        max_drawdown=tally.drawdown,
        total_fees=tally.total_fees,
    )
