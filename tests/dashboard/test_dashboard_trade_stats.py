"""Performance page data (bot.dashboard.trade_stats) against bot.analytics.trade_stats and bot.analytics.calendar."""

from __future__ import annotations

import numpy as np
from support.dashboard_rows import NY, TRADES, tab_table

from bot.analytics.calendar import pnl_by_hour, pnl_by_weekday
from bot.analytics.trade_stats import summarise
from bot.dashboard.trade_stats import best_worst_trades, group_stats, weekday_hour_heatmap
from bot.dashboard.trades import trades_view


def test_group_stats_and_heatmap_agree_with_performance_and_analytics() -> None:
    trips = trades_view(tab_table("Trades", TRADES), NY).trips
    by_symbol = group_stats(trips, "symbol").set_index("symbol")
    for symbol in ("AAPL", "MSFT", "TSLA"):
        stats = summarise([t for t in trips if t.symbol == symbol])
        assert by_symbol.loc[symbol, "total_pnl"] == float(stats.total_pnl)
        assert by_symbol.loc[symbol, "trades"] == stats.total_trades
    sides = group_stats(trips, "side").set_index("side")
    assert sides.loc["long", "total_pnl"] == float(summarise(trips).long_pnl)
    slots = group_stats(trips, "symbol+timeframe")
    assert len(slots) == 4 and list(slots.columns[:2]) == ["symbol", "timeframe"]
    cells = weekday_hour_heatmap(trips, NY)
    assert len(cells) == 7 * 24
    weekdays = pnl_by_weekday(trips, zone=NY)
    hours = pnl_by_hour(trips, zone=NY)
    assert np.allclose(cells.groupby("weekday")["pnl"].sum().reindex(weekdays.index), weekdays["pnl"].astype(float))
    assert np.allclose(cells.groupby("hour")["pnl"].sum(), hours["pnl"].astype(float))
    best, worst = best_worst_trades(trades_view(tab_table("Trades", TRADES), NY).frame, 2)
    assert list(best["pnl"]) == [99.0, 49.0] and list(worst["pnl"]) == [-21.0, -11.0]
