"""The Calendar page's data: a month grid of daily trade figures, week and month totals, a day's trades.

Days come from :func:`bot.analytics.calendar.daily_trade_stats`: a trade counts on the local day it closed.
"""

from __future__ import annotations

import calendar
import math
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd

from bot.dashboard.formatting import WEEKDAYS


def month_grid(daily: pd.DataFrame, year: int, month: int) -> pd.DataFrame:
    """Cells of a month calendar (weeks Monday–Sunday) with each day's trade figures.

    Args:
        daily: :func:`bot.analytics.calendar.daily_trade_stats` (indexed by ``datetime.date``).
        year / month: the month shown.

    Returns:
        One row per cell of the weeks covering the month (28–42 rows): ``day`` (date),
        ``day_label`` (``"1"``…), ``week`` (0-based row), ``weekday`` (``Mon``…), ``in_month``
        (bool), ``trades`` (int), ``wins`` (int), ``win_rate`` (percent, NaN without trades),
        ``pnl`` (float; 0 without trades).
    """
    weeks = calendar.Calendar(firstweekday=0).monthdatescalendar(year, month)
    rows = []
    for week_number, week in enumerate(weeks):
        for weekday, day in enumerate(week):
            has = day in daily.index
            rows.append(
                {
                    "day": day,
                    "day_label": str(day.day),
                    "week": week_number,
                    "weekday": WEEKDAYS[weekday],
                    "in_month": day.month == month,
                    "trades": int(daily.at[day, "trades"]) if has else 0,
                    "wins": int(daily.at[day, "wins"]) if has else 0,
                    "win_rate": float(daily.at[day, "win_rate"]) if has else math.nan,
                    "pnl": float(daily.at[day, "pnl"]) if has else 0.0,
                }
            )
    return pd.DataFrame(rows)


def week_totals(grid: pd.DataFrame) -> pd.DataFrame:
    """Totals per calendar row of :func:`month_grid`, counting only the month's own days.

    Returns:
        ``week`` (row), ``start``/``end`` (first and last day of the month in that row),
        ``trades``, ``wins``, ``win_rate`` (percent, NaN without trades), ``pnl`` (float).
    """
    inside = grid[grid["in_month"]]
    rows = []
    for week, group in inside.groupby("week", sort=True):
        trades = int(group["trades"].sum())
        wins = int(group["wins"].sum())
        rows.append(
            {
                "week": int(week),
                "start": group["day"].min(),
                "end": group["day"].max(),
                "trades": trades,
                "wins": wins,
                "win_rate": wins * 100.0 / trades if trades else math.nan,
                "pnl": float(group["pnl"].sum()),
            }
        )
    return pd.DataFrame(rows, columns=["week", "start", "end", "trades", "wins", "win_rate", "pnl"])


def month_totals(daily: pd.DataFrame, year: int, month: int) -> dict[str, Any]:
    """Totals of one month from :func:`bot.analytics.calendar.daily_trade_stats`.

    Returns:
        ``{"trades": int, "wins": int, "losses": int, "win_rate": float | None (percent),
        "pnl": Decimal (exact), "days": int (days with trades), "green_days": int}``.
    """
    picked = daily[[d.year == year and d.month == month for d in daily.index]] if len(daily) else daily
    trades = int(picked["trades"].sum()) if len(picked) else 0
    wins = int(picked["wins"].sum()) if len(picked) else 0
    pnl = sum(picked["pnl"], Decimal(0)) if len(picked) else Decimal(0)
    return {
        "trades": trades,
        "wins": wins,
        "losses": int(picked["losses"].sum()) if len(picked) else 0,
        "win_rate": wins * 100.0 / trades if trades else None,
        "pnl": pnl,
        "days": len(picked),
        "green_days": int(sum(1 for value in picked["pnl"] if value > 0)) if len(picked) else 0,
    }


def day_trades(frame: pd.DataFrame, day: date) -> pd.DataFrame:
    """Trades that closed on local ``day`` (the calendar counts a trade on its exit day)."""
    if frame.empty:
        return frame
    return frame[frame["exit_at"].dt.date == day]
