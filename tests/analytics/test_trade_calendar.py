"""Tests of bot.analytics.calendar: P&L, trade count and win rate per day, weekday and hour."""

from __future__ import annotations

import math
from datetime import date, datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from support.numbers import approx

from bot.analytics.calendar import daily_trade_stats, pnl_by_hour, pnl_by_weekday
from bot.analytics.round_trips import RoundTrip
from bot.domain import PositionSide

UTC = timezone.utc
D = Decimal


# --------------------------------------------------------------------------------------------
# Calendar aggregates
# --------------------------------------------------------------------------------------------


def closed(pnl: str, entry: datetime, exit_: datetime) -> RoundTrip:
    return RoundTrip(
        trade_id=f"T-{entry.isoformat()}",
        symbol="AAPL",
        timeframe="1h",
        side=PositionSide.LONG,
        qty=D(1),
        entry_at=entry,
        entry_price=D(100),
        exit_at=exit_,
        exit_price=D(100) + D(pnl),
        fees=D(0),
        pnl=D(pnl),
        pnl_pct=D(pnl),
        r_multiple=None,
        holding_time=exit_ - entry,
        exit_reason="signal",
    )


TRIPS = [
    # entered Monday 4 March 14:30 UTC (09:30 New York), closed 5 March 02:00 UTC (4 March in NY)
    closed("10.10", datetime(2024, 3, 4, 14, 30, tzinfo=UTC), datetime(2024, 3, 5, 2, tzinfo=UTC)),
    closed("-4.05", datetime(2024, 3, 4, 15, 0, tzinfo=UTC), datetime(2024, 3, 5, 15, tzinfo=UTC)),
    closed("0", datetime(2024, 3, 5, 15, 10, tzinfo=UTC), datetime(2024, 3, 5, 16, tzinfo=UTC)),
]


def test_daily_trade_stats_by_exit_day_in_zone() -> None:
    ny = daily_trade_stats(TRIPS, zone=ZoneInfo("America/New_York"))
    assert list(ny.index) == [date(2024, 3, 4), date(2024, 3, 5)]
    assert ny.index.name == "day"
    assert list(ny["trades"]) == [1, 2] and list(ny["wins"]) == [1, 0] and list(ny["losses"]) == [0, 1]
    assert list(ny["win_rate"]) == [100.0, 0.0]
    assert list(ny["pnl"]) == [D("10.10"), D("-4.05")]
    assert isinstance(ny["pnl"].iloc[0], Decimal)
    utc = daily_trade_stats(TRIPS)
    assert list(utc.index) == [date(2024, 3, 5)] and utc["pnl"].iloc[0] == D("6.05")
    assert utc["win_rate"].iloc[0] == approx(100 / 3)
    assert daily_trade_stats([]).empty


def test_pnl_by_weekday_and_hour_of_entry() -> None:
    ny = ZoneInfo("America/New_York")
    weekdays = pnl_by_weekday(TRIPS, zone=ny)
    assert list(weekdays.index) == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert weekdays.loc["Mon", "trades"] == 2 and weekdays.loc["Mon", "pnl"] == D("6.05")
    assert weekdays.loc["Tue", "trades"] == 1 and weekdays.loc["Tue", "pnl"] == 0
    assert weekdays.loc["Wed", "trades"] == 0 and math.isnan(weekdays.loc["Wed", "win_rate"])
    hours = pnl_by_hour(TRIPS, zone=ny)
    assert list(hours.index) == list(range(24)) and hours.index.name == "hour"
    assert hours.loc[9, "pnl"] == D("10.10")  # 09:30 New York
    assert hours.loc[10, "trades"] == 2 and hours.loc[10, "pnl"] == D("-4.05")
    assert hours.loc[10, "win_rate"] == 0.0
    assert pnl_by_hour(TRIPS).loc[14, "pnl"] == D("10.10")
    assert sum(hours["trades"]) == 3
