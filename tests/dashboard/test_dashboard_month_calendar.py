"""Calendar data (bot.dashboard.month_calendar): month grid, week and month totals, a day's trades."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from support.dashboard_rows import NY, TRADES, tab_table

from bot.analytics.calendar import daily_trade_stats
from bot.dashboard.month_calendar import day_trades, month_grid, month_totals, week_totals
from bot.dashboard.trades import trades_view


def test_month_grid_weeks_and_totals_come_from_daily_trade_stats() -> None:
    trips = trades_view(tab_table("Trades", TRADES), NY).trips
    daily = daily_trade_stats(trips, zone=NY)
    grid = month_grid(daily, 2024, 3)
    assert len(grid) == 35 and grid["day"].iloc[0] == date(2024, 2, 26)  # Monday before 1 March
    assert grid.loc[grid["day"] == date(2024, 3, 5), "pnl"].item() == 99.0
    assert grid.loc[grid["day"] == date(2024, 3, 6), "win_rate"].item() == 0.0
    weeks = week_totals(grid)
    assert weeks["pnl"].sum() == float(sum(daily["pnl"][[d.month == 3 for d in daily.index]]))
    assert list(weeks.loc[weeks["trades"] > 0, "trades"]) == [2, 1]
    totals = month_totals(daily, 2024, 3)
    assert totals == {
        "trades": 3,
        "wins": 1,
        "losses": 2,
        "win_rate": 100 / 3,
        "pnl": Decimal(67),
        "days": 3,
        "green_days": 1,
    }
    assert month_totals(daily, 2023, 1)["trades"] == 0
    frame = trades_view(tab_table("Trades", TRADES), NY).frame
    assert list(day_trades(frame, date(2024, 3, 11))["row"]) == [4]
