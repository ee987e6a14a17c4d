"""The Performance page's data: best and worst trades, statistics per group, the weekday × hour heatmap.

The statistics are :func:`bot.analytics.trade_stats.summarise` per group; the heatmap's sums agree with
:func:`bot.analytics.calendar.pnl_by_weekday` and :func:`bot.analytics.calendar.pnl_by_hour`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import tzinfo
from decimal import Decimal
from typing import Any, Literal

import numpy as np
import pandas as pd

from bot.analytics.round_trips import RoundTrip
from bot.analytics.trade_records import format_duration
from bot.analytics.trade_stats import TradeStats, summarise
from bot.dashboard.formatting import WEEKDAYS


def best_worst_trades(frame: pd.DataFrame, count: int = 10) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``count`` best trades (highest pnl first) and the ``count`` worst (lowest first)."""
    if frame.empty:
        return frame, frame
    ordered = frame.sort_values("pnl", kind="stable")
    return ordered.iloc[::-1].head(count), ordered.head(count)


GroupBy = Literal["symbol", "timeframe", "symbol+timeframe", "side"]


def _stats_row(stats: TradeStats) -> dict[str, Any]:
    def f(value: Decimal | None) -> float:
        return float(value) if value is not None else math.nan

    return {
        "trades": stats.total_trades,
        "wins": stats.winning_trades,
        "losses": stats.losing_trades,
        "win_rate": f(stats.win_rate),
        "total_pnl": f(stats.total_pnl),
        "avg_pnl": f(stats.avg_pnl_per_trade),
        "profit_factor": f(stats.profit_factor),
        "expectancy": f(stats.expectancy),
        "payoff_ratio": f(stats.payoff_ratio),
        "best": f(stats.best_trade),
        "worst": f(stats.worst_trade),
        "max_drawdown": f(stats.max_drawdown),
        "fees": f(stats.total_fees),
        "avg_holding": format_duration(stats.avg_holding_time),
    }


def group_stats(trips: Sequence[RoundTrip], by: GroupBy) -> pd.DataFrame:
    """:func:`bot.analytics.trade_stats.summarise` per group, one row each, plus nothing else.

    Args:
        trips: round trips.
        by: ``symbol``, ``timeframe`` (across symbols; blank timeframe shown as ``"–"``),
            ``symbol+timeframe`` or ``side`` (long vs short).

    Returns:
        DataFrame with the group column(s) (``symbol``, ``timeframe`` or ``side``) then
        ``trades, wins, losses`` (int), ``win_rate`` (percent), ``total_pnl, avg_pnl, expectancy,
        best, worst, max_drawdown, fees`` (quote currency), ``profit_factor, payoff_ratio``
        (NaN when undefined) and ``avg_holding`` (text); sorted by ``total_pnl`` descending.
    """
    keys: dict[tuple[str, ...], list[RoundTrip]] = {}
    for trip in trips:
        if by == "symbol":
            key: tuple[str, ...] = (trip.symbol,)
        elif by == "timeframe":
            key = (trip.timeframe or "–",)
        elif by == "side":
            key = (str(trip.side.value),)
        else:
            key = (trip.symbol, trip.timeframe or "–")
        keys.setdefault(key, []).append(trip)
    names = {"symbol": ["symbol"], "timeframe": ["timeframe"], "side": ["side"]}.get(by, ["symbol", "timeframe"])
    rows = [{**dict(zip(names, key, strict=True)), **_stats_row(summarise(group))} for key, group in keys.items()]
    columns = [*names, *_stats_row(summarise([])).keys()]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values("total_pnl", ascending=False, kind="stable").reset_index(drop=True)


def weekday_hour_heatmap(trips: Sequence[RoundTrip], zone: tzinfo) -> pd.DataFrame:
    """P&L and trade count per (weekday, hour) of entry in ``zone``: 7 × 24 rows, long format.

    The rows of one weekday add up to :func:`bot.analytics.calendar.pnl_by_weekday`, those of one hour to
    :func:`bot.analytics.calendar.pnl_by_hour` (same grouping by ``entry_at``).

    Returns:
        DataFrame with ``weekday`` (``Mon`` … ``Sun``), ``hour`` (0–23), ``trades`` (int),
        ``wins`` (int), ``pnl`` (float, quote currency; 0 where no trade), ``win_rate``
        (percent, NaN where no trade).
    """
    pnl = np.zeros((7, 24))
    count = np.zeros((7, 24), dtype=np.int64)
    wins = np.zeros((7, 24), dtype=np.int64)
    for trip in trips:
        local = trip.entry_at.astimezone(zone)
        day, hour = local.weekday(), local.hour
        pnl[day, hour] += float(trip.pnl)
        count[day, hour] += 1
        wins[day, hour] += trip.pnl > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(count > 0, wins * 100.0 / np.maximum(count, 1), np.nan)
    return pd.DataFrame(
        {
            "weekday": np.repeat(WEEKDAYS, 24),
            "hour": np.tile(np.arange(24), 7),
            "trades": count.ravel(),
            "wins": wins.ravel(),
            "pnl": pnl.ravel(),
            "win_rate": rate.ravel(),
        }
    )
