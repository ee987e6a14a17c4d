"""Calendar aggregates of closed round trips: P&L, trade count and win rate per day, weekday, hour (pure).

Inputs are :class:`~bot.analytics.round_trips.RoundTrip` values (from fills or manual Trades rows);
a trip counts on the day it closed (``exit_at``) and in the weekday/hour it opened (``entry_at``),
both in the ``zone`` argument. P&L stays exact :class:`~decimal.Decimal` (object dtype).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, timezone, tzinfo
from decimal import Decimal
from typing import Any

import pandas as pd

from bot.analytics.round_trips import RoundTrip

__all__ = ["daily_trade_stats", "pnl_by_hour", "pnl_by_weekday"]

UTC = timezone.utc
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_CALENDAR_COLUMNS = ["trades", "wins", "losses", "win_rate", "pnl"]


def _calendar(groups: dict[Any, list[Decimal]], index: Iterable[Any], name: str) -> pd.DataFrame:
    """One row per label of ``index`` (index name ``name``) from the pnls grouped under each label."""
    rows = []
    labels = list(index)
    for key in labels:
        pnls = groups.get(key, [])
        wins = sum(1 for pnl in pnls if pnl > 0)
        losses = sum(1 for pnl in pnls if pnl < 0)
        rows.append(
            (
                len(pnls),
                wins,
                losses,
                wins * 100.0 / len(pnls) if pnls else math.nan,
                sum(pnls, Decimal(0)),
            )
        )
    frame = pd.DataFrame(rows, columns=_CALENDAR_COLUMNS, index=pd.Index(labels, name=name))
    frame["pnl"] = frame["pnl"].astype(object)
    return frame


def daily_trade_stats(trips: Iterable[RoundTrip], *, zone: tzinfo = UTC) -> pd.DataFrame:
    """P&L, trade count and win rate per day a trade closed (``exit_at`` in ``zone``).

    Args:
        trips: closed round trips (:class:`~bot.analytics.round_trips.RoundTrip`).
        zone: time zone of the calendar day.

    Returns:
        DataFrame indexed by day (``datetime.date``, ascending, only days with trades; index
        name ``"day"``), columns ``trades``, ``wins`` (pnl > 0), ``losses`` (pnl < 0) as ints,
        ``win_rate`` (percent of trades, float) and ``pnl`` (exact ``Decimal``, object dtype;
        ``.astype(float)`` to chart it).
    """
    groups: dict[date, list[Decimal]] = {}
    for trip in trips:
        groups.setdefault(trip.exit_at.astimezone(zone).date(), []).append(trip.pnl)
    return _calendar(groups, sorted(groups), "day")


def pnl_by_weekday(trips: Iterable[RoundTrip], *, zone: tzinfo = UTC) -> pd.DataFrame:
    """P&L, trade count and win rate by weekday of entry (``entry_at`` in ``zone``).

    Returns:
        DataFrame with all seven rows indexed ``Mon`` … ``Sun`` (index name ``"weekday"``),
        columns as :func:`daily_trade_stats` (``win_rate`` NaN on days without trades).
    """
    groups: dict[str, list[Decimal]] = {}
    for trip in trips:
        groups.setdefault(_WEEKDAYS[trip.entry_at.astimezone(zone).weekday()], []).append(trip.pnl)
    return _calendar(groups, _WEEKDAYS, "weekday")


def pnl_by_hour(trips: Iterable[RoundTrip], *, zone: tzinfo = UTC) -> pd.DataFrame:
    """P&L, trade count and win rate by hour of entry (0–23, ``entry_at`` in ``zone``).

    Returns:
        DataFrame with all 24 rows indexed 0 … 23 (index name ``"hour"``), columns as
        :func:`daily_trade_stats` (``win_rate`` NaN on hours without trades).
    """
    groups: dict[int, list[Decimal]] = {}
    for trip in trips:
        groups.setdefault(trip.entry_at.astimezone(zone).hour, []).append(trip.pnl)
    return _calendar(groups, range(24), "hour")
